from __future__ import annotations

import numpy as np
import pytest

from kinesync.dsp.filters import EnvelopeFilter
from kinesync.dsp.lag import LagResult, onset_lag, phase_lag, xcorr_curve
from kinesync.sim.athlete import AthleteSpec, SimAthlete

RATES_HZ = (1925.926, 2000.0, 2148.148)
LAGS_MS = (40, 80, 120, 160, 200)
# Enough reps per cell that the bias check tests the estimator, not the sample: with a per-rep
# SD of ~4 ms the standard error of the mean of 200 reps is ~0.3 ms.
REPS_PER_CELL = 200
WINDOW_S = 2.0


def _bump(t_s: np.ndarray, centre_s: float, width_s: float) -> np.ndarray:
    return np.exp(-0.5 * ((t_s - centre_s) / width_s) ** 2)


@pytest.mark.parametrize("fs_hz", RATES_HZ)
@pytest.mark.parametrize("lag_s", [-0.05, 0.0, 0.0371, 0.1, 0.2345])
def test_noise_free_shift_is_recovered_below_one_sample(fs_hz: float, lag_s: float) -> None:
    t = np.arange(int(WINDOW_S * fs_hz)) / fs_hz
    leg = 0.1 + _bump(t, 0.8, 0.08)
    pec = 0.1 + 0.7 * _bump(t, 0.8 + lag_s, 0.08)
    for log_compress in (True, False):
        result = phase_lag(leg, pec, fs_hz, log_compress=log_compress)
        assert isinstance(result, LagResult)
        assert result.lag_s == pytest.approx(lag_s, abs=0.2e-3)
        assert result.coupling == pytest.approx(1.0, abs=1e-3)


def test_no_variance_or_edge_peak_gives_none() -> None:
    fs = 2000.0
    t = np.arange(int(WINDOW_S * fs)) / fs
    leg = 0.1 + _bump(t, 0.8, 0.08)
    assert phase_lag(np.full_like(t, 0.3), leg, fs) is None
    assert phase_lag(leg, np.full_like(t, 0.3), fs) is None
    assert phase_lag(leg, np.zeros_like(t), fs) is None
    assert phase_lag(leg, np.where(t > 1.0, np.nan, leg), fs) is None
    # True lag 0.6 s is outside the −0.1..0.4 s search range: the maximum sits on the edge.
    assert phase_lag(leg, 0.1 + _bump(t, 1.4, 0.08), fs) is None
    assert phase_lag(leg[:500], leg[:500], fs) is None  # window shorter than the search span
    with pytest.raises(ValueError):
        phase_lag(leg, leg[:-1], fs)


def test_inverted_signal_is_anti_phase_at_zero_lag_and_in_phase_half_a_period_later() -> None:
    fs = 1000.0
    t = np.arange(2000) / fs
    # Half a period (312.5 ms) is inside the −0.1..0.4 s search range, a whole period is not. It also
    # falls between two samples, so no sampled lag reaches +1 while lag 0 is exactly −1: only the
    # sign of the correlation tells the in-phase lag from the anti-phase one.
    f_hz = 1.6
    leg = 1.0 + 0.5 * np.sin(2 * np.pi * f_hz * t)
    pec = 2.0 - leg  # the same rhythm turned upside down
    lags, r = xcorr_curve(leg, pec, fs, -0.1, 0.4)
    assert r[lags == 0][0] == pytest.approx(-1.0, abs=1e-9)
    for log_compress in (False, True):
        res = phase_lag(leg, pec, fs, log_compress=log_compress)
        assert res is not None
        # The lag is where the correlation is largest, not where its magnitude is: an inverted
        # rhythm lines up with the original half a period later, perfectly correlated there.
        assert res.lag_s == pytest.approx(0.5 / f_hz, abs=0.2e-3)
        assert res.coupling == pytest.approx(1.0, abs=1e-3)


def _cell_errors_ms(lag_ms: float, fs_hz: float, seed: int) -> np.ndarray:
    spec = AthleteSpec(lag_ms=lag_ms, lag_jitter_ms=15.0, emg_rate_hz=fs_hz, snr_db=20.0, seed=seed)
    athlete = SimAthlete(spec)
    n = int(np.ceil((REPS_PER_CELL + 1) * spec.rep_period_s * fs_hz))
    # Envelopes of the continuous stream, as the analyzer keeps them (chunking changes nothing:
    # test_dsp_filters proves it bit for bit).
    env = EnvelopeFilter(fs_hz, 4).process(athlete.emg(0, n))
    rng = np.random.default_rng(seed + 1)
    width = round(WINDOW_S * fs_hz)
    errors = []
    for rep in athlete.reps(0.0, REPS_PER_CELL * spec.rep_period_s):
        i0 = round((rep.leg_peak_s - rng.uniform(0.75, 1.0)) * fs_hz)
        window = env[:, i0 : i0 + width]
        result = phase_lag(window[:2].mean(axis=0), window[2], fs_hz)
        assert result is not None, f"no lag for rep {rep.index}"
        errors.append((result.lag_s - rep.lag_s) * 1000.0)
    assert len(errors) == REPS_PER_CELL
    return np.asarray(errors)


@pytest.mark.parametrize("fs_hz", RATES_HZ)
@pytest.mark.parametrize("lag_ms", LAGS_MS)
def test_phase_lag_accuracy_against_simulator_truth(lag_ms: int, fs_hz: float) -> None:
    errors = _cell_errors_ms(lag_ms, fs_hz, seed=100 * RATES_HZ.index(fs_hz) + lag_ms)
    abs_err = np.abs(errors)
    median, p95, bias = np.median(abs_err), np.percentile(abs_err, 95), errors.mean()
    tens = errors[: errors.size // 10 * 10].reshape(-1, 10).mean(axis=1)
    summary = f"median {median:.2f} ms, p95 {p95:.2f} ms, bias {bias:+.2f} ms"
    assert median <= 4.0, summary
    assert p95 <= 12.0, summary
    assert abs(bias) <= 1.0, summary
    # Typical error of a 10-rep mean (RMS over the cell's consecutive groups of 10).
    assert np.sqrt(np.mean(tens**2)) <= 2.0, summary


def test_onset_lag_on_noise_free_bursts() -> None:
    fs = 2000.0
    t = np.arange(int(WINDOW_S * fs)) / fs
    rng = np.random.default_rng(3)
    ramp = lambda t0: np.clip((t - t0) / 0.1, 0.0, 1.0)  # noqa: E731
    leg = 0.1 + ramp(0.7) + 0.001 * rng.standard_normal(t.size)
    pec = 0.1 + ramp(0.8) + 0.001 * rng.standard_normal(t.size)
    lag = onset_lag(leg, pec, fs)
    assert lag == pytest.approx(0.1, abs=0.002)
    assert onset_lag(leg, np.full_like(t, 0.1), fs) is None
