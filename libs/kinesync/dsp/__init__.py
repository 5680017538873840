"""Pure signal processing: numbers in, numbers out, no I/O, sampling rate always explicit.

- ``filters``: causal EMG band-pass, rectification and linear envelope (streaming and batch).
- ``lag``: pectoral-vs-leg phase lag by normalised cross-correlation, onset-to-onset lag.
- ``onset``: Hodges & Bui threshold onset.
- ``force``: body weight, force onset, RFD, peak RFD, net impulse, peak force.
- ``alignment``: in-window flag and alignment score of a series of lags.

Definitions, parameters and references: docs/metrics.md.
"""
