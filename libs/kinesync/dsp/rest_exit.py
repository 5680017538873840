"""Where a force leaves a resting level: the start of a push from a pause, seen by force plates.

A position transducer sees a movement from rest late: the bar's height grows as the cube of the time
since the start, so its first millimetres drown in the sensor's noise and the start has to be
extrapolated (``kinesync.dsp.velocity``). The plates under the same body see the same start in the
force itself, which leaves its resting level at a finite rate: a line rising out of ~2 N of noise
at 4–16 N/ms, located to a fraction of a millisecond.
"""

from __future__ import annotations

import math

import numpy as np


def force_leaves_rest(
    force_n: np.ndarray,
    fs_hz: float,
    search_index: int,
    level_n: float,
    sd_n: float,
    *,
    k_sd: float = 5.0,
    min_threshold_n: float = 2.0,
    fit_s: float = 0.03,
    max_back_s: float = 0.05,
) -> float | None:
    """The (fractional) sample index where the force rises out of a rest at ``level_n`` (SD ``sd_n``),
    searched from ``search_index`` on.

    The rise is where the force first exceeds the level by ``k_sd`` SD (at least
    ``min_threshold_n``). A quadratic fitted to the ``fit_s`` after that crossing is extrapolated back
    to the level (its root at most ``max_back_s`` before the crossing). The rest itself — its level,
    SD and whether it is quiet — is the caller's: a weighing of the hold
    (``kinesync.analysis.phases.push_start``).

    Args:
        force_n: total vertical force, N (1-D).
        fs_hz: sampling rate, Hz.
        search_index: the first sample after the rest.
        level_n: the resting force, N.
        sd_n: its noise, SD, N.
        k_sd: detection threshold, SD of the rest.
        min_threshold_n: the least threshold above the level, N (a quantised, noise-free record).
        fit_s: length of the fitted rise after the crossing, s.
        max_back_s: furthest the start may lie before the crossing, s.

    Returns:
        The start as a fractional sample index, or None when there is no rise, or the fit does not
        meet the level where a start can be.
    """
    f = np.asarray(force_n, dtype=np.float64)
    if not fs_hz > 0.0 or f.ndim != 1 or not (math.isfinite(level_n) and math.isfinite(sd_n)):
        return None
    if not 0 <= search_index < f.size:
        return None
    threshold = max(k_sd * sd_n, min_threshold_n)
    above = np.flatnonzero(f[search_index:] - level_n > threshold)
    if above.size == 0:
        return None
    c = search_index + int(above[0])
    n_fit = max(3, round(fit_s * fs_hz))
    if c + n_fit > f.size:
        return None
    d = np.arange(n_fit, dtype=np.float64)
    a2, a1, a0 = np.polyfit(d, f[c:c + n_fit] - level_n, 2)
    roots = np.roots([a2, a1, a0])
    real = roots[np.abs(roots.imag) < 1e-9].real
    back = real[(real <= 0.0) & (real >= -max_back_s * fs_hz)]
    if back.size == 0:
        return None
    return c + float(back.max())
