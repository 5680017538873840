"""The live phase lag (kinesync.dsp.peak_lag on broadband carriers, wired into emg_metrics), by construction."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import signal

from kinesync.dsp.peak_lag import ChannelReference, PeakLagConfig, peak_lag, peak_lag_learned, whiten
from kinesync.sim.physiology import LEG_CHANNELS, PEC_CHANNELS, PhysiologySpec, simulate_session
from kinesync.streaming.rep import EmgView, RepConfig, RepResult, emg_metrics

FS_HZ = 2000.0
NAMES = ("R Rect Fem", "L Rect Fem", "R Glut Max", "L Glut Max", "R Pect Maj", "L Pect Maj")


def _burst(t: np.ndarray, peak_s: float, rise_s: float = 0.1, fall_s: float = 0.2) -> np.ndarray:
    """A smooth asymmetric burst (half Gaussians, 10 % to peak in rise_s, back to 10 % in fall_s)."""
    d = t - peak_s
    s = np.where(d < 0, rise_s, fall_s) / math.sqrt(math.log(10.0))
    return np.exp(-((d / s) ** 2))


def _carrier(n: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-RMS coloured Gaussian carrier, 20–300 Hz (most surface-EMG power)."""
    sos = signal.butter(2, (20.0, 300.0), btype="bandpass", fs=FS_HZ, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal(n + 2000))[2000:]
    return x / x.std()


def _window(acts: np.ndarray, gains: list[float], seed: int, noise: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = acts.shape[1]
    raw = np.stack([g * a * _carrier(n, rng) for a, g in zip(acts, gains, strict=True)])
    return raw + noise * rng.standard_normal(raw.shape)


def test_whitening_flattens_a_coloured_carrier() -> None:
    x = _carrier(8000, np.random.default_rng(0))[None, :]
    w = whiten(x, 4)
    lag1 = lambda y: float(np.dot(y[0, :-1], y[0, 1:]) / np.dot(y[0], y[0]))  # noqa: E731
    assert abs(lag1(x)) > 0.5 and abs(lag1(w)) < 0.2


def test_noisy_bursts_land_within_their_standard_error() -> None:
    t = np.arange(int(2.0 * FS_HZ)) / FS_HZ
    z = []
    for seed in range(12):
        lag_s = 0.04 + 0.015 * seed
        acts = np.stack([_burst(t, 0.9)] * 4 + [_burst(t, 0.9 + lag_s)] * 2)
        res = peak_lag(_window(acts, [0.6, 1.4, 1.0, 0.8, 1.2, 0.7], seed, noise=0.05), FS_HZ,
                       [0, 1, 2, 3], [4, 5], hint_s=0.9)
        assert res is not None
        z.append((res.lag_ms - lag_s * 1000.0) / res.lag_se_ms)
    z = np.asarray(z)
    assert np.all(np.abs(z) < 3.0)
    assert abs(float(np.mean(z))) < 1.0  # no systematic bias on same-shaped bursts


def test_a_qrs_train_on_the_chest_does_not_move_the_pectoral_peak() -> None:
    t = np.arange(int(2.0 * FS_HZ)) / FS_HZ
    acts = np.stack([_burst(t, 0.9)] * 4 + [_burst(t, 1.0)] * 2)
    clean = _window(acts, [1.0] * 6, 3, noise=0.05)
    # R waves (7 ms SD, plus Q and S) at 150 bpm, as tall as three times the burst RMS, on both pectorals.
    ecg = np.zeros_like(t)
    for beat in np.arange(0.13, 2.0, 0.4):
        for off, amp, sd in ((-0.024, -0.15, 0.006), (0.0, 1.0, 0.007), (0.024, -0.3, 0.007)):
            ecg += amp * np.exp(-0.5 * ((t - beat - off) / sd) ** 2)
    with_ecg = clean.copy()
    with_ecg[4:] += 3.0 * ecg
    a = peak_lag(clean, FS_HZ, [0, 1, 2, 3], [4, 5], hint_s=0.9)
    b = peak_lag(with_ecg, FS_HZ, [0, 1, 2, 3], [4, 5], hint_s=0.9)
    assert a is not None and b is not None
    assert abs(b.pec_peak_s - a.pec_peak_s) * 1000.0 <= 3.0


def test_a_loud_leg_electrode_does_not_set_the_timing() -> None:
    # One quadriceps electrode reads 5x the others and peaks 150 ms early; in units of each channel's
    # reference amplitude it weighs as much as any other, so the leg peak is that of the plain mean.
    t = np.arange(int(2.0 * FS_HZ)) / FS_HZ
    peaks = [0.75, 0.9, 0.9, 0.9]
    acts = np.stack([_burst(t, p) for p in peaks] + [_burst(t, 1.0)] * 2)
    truth = t[int(np.argmax(acts[:4].mean(axis=0)))]
    loud = t[int(np.argmax((acts[:4] * np.array([5.0, 1, 1, 1])[:, None]).mean(axis=0)))]
    assert truth - loud > 0.02  # an unnormalised mean would be pulled well towards the loud channel
    state = ChannelReference()
    learned, exact, unnormalised = [], [], []
    gains = [5.0, 1.0, 1.0, 1.0, 1.0, 1.0]
    for seed in range(6):
        raw = _window(acts, gains, 10 + seed, noise=0.02)
        res = peak_lag_learned(raw, FS_HZ, NAMES, [0, 1, 2, 3], [4, 5], state, hint_s=0.9)
        # The same window with the true references (the gains) and with none (every channel in volts).
        ref = peak_lag(raw, FS_HZ, [0, 1, 2, 3], [4, 5], hint_s=0.9, reference=np.array(gains))
        raw_v = peak_lag(raw, FS_HZ, [0, 1, 2, 3], [4, 5], hint_s=0.9, reference=np.ones(6))
        assert res is not None and ref is not None and raw_v is not None
        learned.append(res.leg_peak_s)
        exact.append(ref.leg_peak_s)
        unnormalised.append(raw_v.leg_peak_s)
    diff_ms = 1000.0 * np.abs(np.subtract(learned, exact))
    assert float(np.median(diff_ms)) <= 3.0
    assert float(np.median(np.subtract(exact, unnormalised))) * 1000.0 > 60.0  # volts would follow the loud one
    ref = state.reference(NAMES)
    assert ref[0] / ref[1] == pytest.approx(5.0, rel=0.15)  # the learned reference carries the gain


def test_channel_reference_is_a_running_median_by_name() -> None:
    state = ChannelReference(reps=3)
    for v in (1.0, 5.0, 2.0, 3.0):
        state.observe(["a", "b"], [v, 2 * v])
    assert list(state.reference(["b", "a", "c"])) == [6.0, 3.0, 0.0]  # last 3: (5, 2, 3), doubled for b
    state.reset()
    assert list(state.reference(["a"])) == [0.0]


def _sim_windows(n_reps: int = 12):
    spec = PhysiologySpec(exercise="push_press", lag_ms=100.0, emg_rate_hz=FS_HZ, snr_db=20.0, seed=5)
    s = simulate_session(spec, n_reps=n_reps)
    rows = s.rows(LEG_CHANNELS) + s.rows(PEC_CHANNELS)
    for r in s.reps:
        a = round((r.ascent_start_s - 0.9) * FS_HZ)
        yield s.emg[rows, a : a + int(2.0 * FS_HZ)], a / FS_HZ, r


def test_intervals_cover_the_truth_on_a_seeded_realistic_set() -> None:
    state = ChannelReference()
    covered = []
    for raw, t0, r in _sim_windows(16):
        res = peak_lag_learned(raw, FS_HZ, NAMES, [0, 1, 2, 3], [4, 5], state, hint_s=r.ascent_start_s - t0)
        assert res is not None
        covered.append(abs(res.lag_ms - r.lag_ms) <= 1.96 * res.lag_se_ms)
    assert np.mean(covered) >= 0.85


def test_emg_metrics_reports_the_peak_lag_its_uncertainty_and_the_envelope_delay() -> None:
    from kinesync.dsp.filters import EnvelopeFilter

    raw, t0, r = next(iter(_sim_windows(1)))
    env = EnvelopeFilter(FS_HZ, raw.shape[0]).process(raw.copy())
    view = EmgView(rate_hz=FS_HZ, t0_ns=0, leg=env[:4].mean(axis=0), pec=env[4:].mean(axis=0), raw=raw,
                   raw_names=NAMES, has_gap=False)
    out = RepResult()
    peak_ns = round((r.ascent_start_s - t0) * 1e9)
    emg_metrics(view, RepConfig(), 80.0, 120.0, out, peak_ns=peak_ns, reference=ChannelReference())
    f = out.fields
    assert {"lag_ms", "lag_se_ms", "lag_p_in_window", "envelope_delay_ms", "coupling", "in_window"} <= set(f)
    direct = peak_lag(raw, FS_HZ, [0, 1, 2, 3], [4, 5], hint_s=peak_ns / 1e9, cfg=PeakLagConfig())
    assert direct is not None and f["lag_ms"] == pytest.approx(direct.lag_ms)
    assert 0.0 <= f["lag_p_in_window"] <= 1.0
    assert f["in_window"] == (80.0 <= f["lag_ms"] <= 120.0)
