from __future__ import annotations

import numpy as np
import pytest

from kinesync.dsp.filters import emg_envelope
from kinesync.dsp.onset import threshold_onset
from kinesync.sim.athlete import AthleteSpec, SimAthlete


@pytest.mark.parametrize("fs_hz", [1000.0, 1925.926, 2148.148])
def test_threshold_onset_finds_step(fs_hz: float) -> None:
    rng = np.random.default_rng(0)
    n, true_onset = int(2 * fs_hz), int(1.2 * fs_hz)
    x = 1.0 + 0.05 * rng.standard_normal(n)
    x[true_onset:] += 1.0
    base = x[: int(fs_hz)]
    onset = threshold_onset(x, fs_hz, base.mean(), base.std())
    assert onset == true_onset


def test_short_excursions_are_ignored_by_the_hold_time() -> None:
    fs = 1000.0
    x = np.zeros(2000)
    x[300:310] = 10.0  # 10 ms spike, shorter than the 25 ms hold
    x[1000:1025] = 10.0  # exactly 25 ms: counts
    assert threshold_onset(x, fs, 0.0, 1.0, h=3.0, hold_s=0.025) == 1000
    assert threshold_onset(x, fs, 0.0, 1.0, hold_s=0.026) is None
    assert threshold_onset(x, fs, 0.0, 1.0, start=1001, hold_s=0.020) == 1001
    assert threshold_onset(x[:5], fs, 0.0, 1.0) is None


def _hodges_bui_errors_ms(snr_db: float, n_reps: int) -> np.ndarray:
    """Onset error (detected − true, ms) on the quadriceps channel of ``n_reps`` simulated reps.

    Each rep period is processed on its own: the 6 Hz envelope from rest, baseline (mean, SD) from
    0.5–1.3 s (after the filter start transient, in quiet standing), search from 1.3 s on.
    """
    spec = AthleteSpec(snr_db=snr_db, seed=round(snr_db))
    athlete = SimAthlete(spec)
    fs = spec.emg_rate_hz
    period = round(spec.rep_period_s * fs)
    b0, b1 = round(0.5 * fs), round(1.3 * fs)
    errors = []
    for k in range(n_reps):
        i0 = athlete._period_start(k, fs)
        env = emg_envelope(athlete.emg(i0, period)[0], fs)
        true = athlete.rep(k).leg_onset_s * fs - i0
        base = env[b0:b1]
        onset = threshold_onset(env, fs, base.mean(), base.std(), start=b1)
        errors.append(np.nan if onset is None else (onset - true) / fs * 1000.0)
    return np.array(errors)


def test_hodges_bui_against_ground_truth() -> None:
    medians = {}
    for snr_db in (10.0, 20.0, 30.0):
        e = _hodges_bui_errors_ms(snr_db, n_reps=30)
        assert not np.isnan(e).any(), f"missed an onset at {snr_db} dB"
        medians[snr_db] = float(np.median(np.abs(e)))
        print(f"{snr_db:4.0f} dB median |error| {medians[snr_db]:5.1f} ms, bias {np.mean(e):+6.1f} ms, "
              f"p95 {np.percentile(np.abs(e), 95):5.1f} ms")
    # More noise, later detection; and within the published range (50–80 ms at 10 dB).
    assert medians[30.0] < medians[20.0] < medians[10.0] < 100.0
    assert medians[30.0] < 35.0
