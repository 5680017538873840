"""Double-threshold detector, and the three onset detectors against simulator ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from kinesync.dsp.filters import design_emg_bandpass, design_envelope_lowpass, emg_envelope
from kinesync.dsp.onset import double_threshold_onset, teager_kaiser, threshold_onset
from kinesync.sim.athlete import AthleteSpec, SimAthlete


def test_double_threshold_finds_a_variance_step() -> None:
    fs = 2000.0
    rng = np.random.default_rng(1)
    x = rng.standard_normal(4000)
    x[2500:] *= 8.0  # activity: |x| > 3 SD in ~70 % of samples
    onset = double_threshold_onset(x, fs, 1.0)
    assert onset is not None and 2500 <= onset < 2500 + 10
    assert x[onset] ** 2 > 9.0  # the onset is an above-threshold sample
    # Isolated noise peaks (0.27 % of samples exceed ζ = 9) never fill half a 25 ms window.
    assert double_threshold_onset(x[:2500], fs, 1.0) is None
    assert double_threshold_onset(x, fs, 1.0, m=1, n=1) == int(np.flatnonzero(x**2 > 9.0)[0])
    assert double_threshold_onset(x, fs, 1.0, start=3000) == 3000 + int(np.flatnonzero(x[3000:] ** 2 > 9.0)[0])
    with pytest.raises(ValueError):
        double_threshold_onset(x, fs, 1.0, m=5, n=3)


def _onset_errors_ms(snr_db: float, n_reps: int) -> dict[str, np.ndarray]:
    """Onset error (detected − true, ms) of each detector on the quadriceps channel of ``n_reps`` reps.

    Each rep period is processed on its own: causal filters from rest, baseline (mean, SD) from
    0.5–1.3 s (after the filter start transient, in quiet standing), search from 1.3 s on.
    """
    spec = AthleteSpec(snr_db=snr_db, seed=round(snr_db))
    athlete = SimAthlete(spec)
    fs = spec.emg_rate_hz
    period = round(spec.rep_period_s * fs)
    b0, b1 = round(0.5 * fs), round(1.3 * fs)
    band_sos, tk_sos = design_emg_bandpass(fs), design_envelope_lowpass(fs, 50.0)
    errors: dict[str, list[float]] = {"hodges_bui": [], "tkeo": [], "double_threshold": []}
    for k in range(n_reps):
        i0 = athlete._period_start(k, fs)
        x = athlete.emg(i0, period)[0]
        true = athlete.rep(k).leg_onset_s * fs - i0
        env = emg_envelope(x, fs)  # Hodges & Bui: 6 Hz linear envelope, mean + 3 SD for 25 ms
        base = env[b0:b1]
        found = {"hodges_bui": threshold_onset(env, fs, base.mean(), base.std(), start=b1)}
        band = signal.sosfilt(band_sos, x)
        tk = signal.sosfilt(tk_sos, np.abs(teager_kaiser(band)))  # Solnik 2010: TKEO, rectify, 50 Hz
        base = tk[b0:b1]
        found["tkeo"] = threshold_onset(tk, fs, base.mean(), base.std(), start=b1)
        found["double_threshold"] = double_threshold_onset(band, fs, band[b0:b1].std(), start=b1)
        for name, onset in found.items():
            errors[name].append(np.nan if onset is None else (onset - true) / fs * 1000.0)
    return {name: np.array(v) for name, v in errors.items()}


def test_detectors_against_ground_truth() -> None:
    medians = {}
    for snr_db in (10.0, 20.0, 30.0):
        errors = _onset_errors_ms(snr_db, n_reps=30)
        for name, e in errors.items():
            assert not np.isnan(e).any(), f"{name} missed an onset at {snr_db} dB"
            medians[name, snr_db] = float(np.median(np.abs(e)))
            print(
                f"{snr_db:4.0f} dB {name:17s} median |error| {medians[name, snr_db]:5.1f} ms, "
                f"bias {np.mean(e):+6.1f} ms, p95 {np.percentile(np.abs(e), 95):5.1f} ms"
            )
    for name in ("hodges_bui", "tkeo", "double_threshold"):
        # More noise, later detection; and within the published range (50–80 ms at 10 dB).
        assert medians[name, 30.0] < medians[name, 20.0] < medians[name, 10.0] < 100.0
        assert medians[name, 30.0] < 35.0
    # The burst rises from rest with zero slope (raised cosine), so every detector waits until the
    # activation clears the noise: ~20 ms at 20 dB before any threshold statistics.
    assert medians["tkeo", 20.0] < 40.0
    assert medians["double_threshold", 20.0] < 40.0
