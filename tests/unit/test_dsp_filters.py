from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from kinesync.dsp.filters import EnvelopeFilter, design_emg_bandpass, design_envelope_lowpass, emg_envelope

RATES_HZ = (1925.926, 2000.0, 2148.148, 1000.0)


@pytest.mark.parametrize("fs_hz", RATES_HZ)
def test_chunked_processing_is_bit_identical_to_one_call(fs_hz: float) -> None:
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 9000)) * 1e-3
    whole = EnvelopeFilter(fs_hz, 3).process(x)
    for trial in range(5):
        cuts = np.sort(rng.choice(np.arange(1, x.shape[1]), size=rng.integers(1, 40), replace=False))
        if trial == 0:
            cuts = np.arange(1, x.shape[1])[:50]  # many one-sample chunks at the start
        flt = EnvelopeFilter(fs_hz, 3)
        parts = [flt.process(chunk) for chunk in np.split(x, cuts, axis=1)]
        assert np.array_equal(np.concatenate(parts, axis=1), whole)


def test_empty_chunk_leaves_state_untouched() -> None:
    x = np.random.default_rng(1).standard_normal((2, 500))
    flt = EnvelopeFilter(2000.0, 2)
    a = flt.process(x[:, :200])
    assert flt.process(x[:, :0]).shape == (2, 0)
    b = flt.process(x[:, 200:])
    assert np.array_equal(np.concatenate([a, b], axis=1), EnvelopeFilter(2000.0, 2).process(x))


def test_filter_is_causal() -> None:
    # A change at sample 1000 must not affect any earlier output sample (zero-phase filters would).
    fs = 2000.0
    x = np.random.default_rng(2).standard_normal((1, 3000))
    y = x.copy()
    y[0, 1000:] += 5.0 * np.random.default_rng(3).standard_normal(2000)
    ex, ey = EnvelopeFilter(fs, 1).process(x), EnvelopeFilter(fs, 1).process(y)
    assert np.array_equal(ex[:, :1000], ey[:, :1000])
    assert not np.array_equal(ex[:, 1000:], ey[:, 1000:])


def test_channels_are_processed_identically() -> None:
    x = np.random.default_rng(4).standard_normal(4000)
    out = EnvelopeFilter(2148.148, 3).process(np.vstack([x, x, x]))
    assert np.array_equal(out[0], out[1]) and np.array_equal(out[1], out[2])


@pytest.mark.parametrize("fs_hz", RATES_HZ[:3])
def test_bandpass_edges_are_minus_3_db(fs_hz: float) -> None:
    sos = design_emg_bandpass(fs_hz)
    _, h = signal.sosfreqz(sos, worN=[20.0, 450.0, 100.0], fs=fs_hz)
    gain_db = 20 * np.log10(np.abs(h))
    assert gain_db[0] == pytest.approx(-3.01, abs=0.05)
    assert gain_db[1] == pytest.approx(-3.01, abs=0.05)
    assert abs(gain_db[2]) < 0.1


def test_lowpass_cutoff_is_minus_3_db() -> None:
    sos = design_envelope_lowpass(1925.926, cutoff_hz=6.0)
    _, h = signal.sosfreqz(sos, worN=[6.0], fs=1925.926)
    assert 20 * np.log10(abs(h[0])) == pytest.approx(-3.01, abs=0.05)


def test_bandpass_rejects_edge_above_nyquist() -> None:
    with pytest.raises(ValueError, match="Nyquist"):
        design_emg_bandpass(900.0, high_hz=450.0)
    with pytest.raises(ValueError, match="Nyquist"):
        EnvelopeFilter(1000.0, 1, high_hz=500.0)
    with pytest.raises(ValueError):
        design_emg_bandpass(2000.0, low_hz=500.0, high_hz=450.0)


def test_envelope_tracks_amplitude_of_sine_bursts() -> None:
    # Full-wave rectified sine has mean 2/π of its amplitude; the envelope must settle there.
    fs = 2000.0
    t = np.arange(int(4 * fs)) / fs
    x = 2e-3 * np.sin(2 * np.pi * 100.0 * t)
    env = emg_envelope(x, fs)
    settled = env[int(2 * fs) :]
    assert settled.mean() == pytest.approx(2e-3 * 2 / np.pi, rel=0.01)


def test_batch_helper_matches_streaming_filter_and_shapes() -> None:
    x = np.random.default_rng(5).standard_normal((2, 3000))
    assert np.array_equal(emg_envelope(x, 2000.0), EnvelopeFilter(2000.0, 2).process(x))
    assert emg_envelope(x[0], 2000.0).shape == (3000,)
    with pytest.raises(ValueError):
        EnvelopeFilter(2000.0, 2).process(x[:1])
