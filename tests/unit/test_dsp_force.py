from __future__ import annotations

import math

import numpy as np
import pytest

from kinesync.dsp.force import body_weight, force_onset, net_impulse, peak_force, peak_rfd, rfd
from kinesync.sim.athlete import STANDARD_GRAVITY_M_S2, AthleteSpec, SimAthlete

FS_HZ = 1000.0
BW_N = 800.0
AMP_N = 900.0
PUSH_S = 0.5
ONSET_S = 1.5


def _half_sine_push(fs_hz: float, noise_n: float = 0.0, seed: int = 0) -> np.ndarray:
    """Body weight, then F = BW + A·sin(π·τ/T) for τ in [0, T]: every metric is known in closed form."""
    t = np.arange(round(3.0 * fs_hz)) / fs_hz
    tau = t - ONSET_S
    push = np.where((tau >= 0) & (tau <= PUSH_S), AMP_N * np.sin(np.pi * np.clip(tau, 0, PUSH_S) / PUSH_S), 0.0)
    return BW_N + push + noise_n * np.random.default_rng(seed).standard_normal(t.size)


def test_body_weight_is_the_steadiest_second() -> None:
    f = _half_sine_push(FS_HZ, noise_n=2.0)
    f[:300] += 50.0 * np.random.default_rng(1).standard_normal(300)  # fidgeting before settling
    bw, sd = body_weight(f, FS_HZ)
    assert bw == pytest.approx(BW_N, rel=0.005)
    assert sd == pytest.approx(2.0, rel=0.15)
    assert body_weight(f[:999], FS_HZ) is None


@pytest.mark.parametrize("span_s", [0.05, 0.1, 0.2])
@pytest.mark.parametrize("fs_hz", [1000.0, 1111.111])
def test_rfd_matches_the_analytic_curve(span_s: float, fs_hz: float) -> None:
    f = _half_sine_push(fs_hz)
    expected = AMP_N * math.sin(math.pi * span_s / PUSH_S) / span_s
    assert rfd(f, fs_hz, ONSET_S * fs_hz, span_s) == pytest.approx(expected, rel=0.01)


def test_rfd_with_fractional_onset_interpolates() -> None:
    # On a linear ramp every span gives the ramp slope exactly, whatever the sub-sample onset.
    f = 100.0 + 2500.0 * np.arange(500) / FS_HZ
    assert rfd(f, FS_HZ, 10.37, 0.1) == pytest.approx(2500.0, rel=1e-9)
    assert rfd(f, FS_HZ, 450.0, 0.1) is None


def test_peak_rfd_is_the_steepest_20_ms() -> None:
    f = _half_sine_push(FS_HZ)
    w = 0.02
    expected = AMP_N * math.sin(math.pi * w / PUSH_S) / w  # steepest at the start of the sine
    assert peak_rfd(f, FS_HZ, ONSET_S * FS_HZ) == pytest.approx(expected, rel=0.01)
    assert peak_rfd(f, FS_HZ, f.size - 50.0) is None


def test_net_impulse_and_peak_force_match_the_analytic_curve() -> None:
    f = _half_sine_push(FS_HZ)
    start, stop = round(ONSET_S * FS_HZ), round((ONSET_S + PUSH_S) * FS_HZ)
    assert net_impulse(f, FS_HZ, BW_N, start, stop) == pytest.approx(2 * AMP_N * PUSH_S / math.pi, rel=0.01)
    assert peak_force(f, start, stop) == pytest.approx(BW_N + AMP_N, rel=1e-6)
    with pytest.raises(ValueError):
        net_impulse(f, FS_HZ, BW_N, stop, start)


def test_force_onset_detects_and_backdates() -> None:
    f = _half_sine_push(FS_HZ, noise_n=1.5, seed=4)
    bw, sd = body_weight(f[: round(ONSET_S * FS_HZ)], FS_HZ)
    onset = force_onset(f, FS_HZ, bw, sd)
    # The sine crosses 5 SD (~7.5 N) about 1.3 ms after the true start; back-dating 30 ms clears it.
    threshold_delay_s = PUSH_S / math.pi * math.asin(5 * sd / AMP_N)
    assert onset / FS_HZ == pytest.approx(ONSET_S + threshold_delay_s - 0.030, abs=0.003)
    assert force_onset(f, FS_HZ, bw, sd, start=int(ONSET_S * FS_HZ) + 10) == int(ONSET_S * FS_HZ) + 10
    assert force_onset(np.full(100, bw), FS_HZ, bw, sd) is None


def test_simulated_rep_metrics_match_truth() -> None:
    athlete = SimAthlete(AthleteSpec(body_mass_kg=92.0, asymmetry=0.1, seed=11))
    fs = athlete.spec.force_rate_hz
    rep = athlete.reps(0.0, 6.0)[1]
    period_start = round(rep.index * athlete.spec.rep_period_s * fs)
    fz = athlete.force(period_start, round(athlete.spec.rep_period_s * fs)).sum(axis=0)
    bw, sd = body_weight(fz[: round(athlete.spec.quiet_s * fs)], fs)
    assert bw == pytest.approx(92.0 * STANDARD_GRAVITY_M_S2, rel=0.005)
    onset = force_onset(fz, fs, bw, sd)
    assert (period_start + onset) / fs == pytest.approx(rep.force_onset_s, abs=0.020)
    i0 = round(rep.force_onset_s * fs) - period_start
    i1 = round(rep.force_end_s * fs) - period_start
    assert abs(net_impulse(fz, fs, bw, i0, i1)) <= 0.01 * rep.propulsive_impulse_n_s
    assert peak_force(fz, i0, i1) == pytest.approx(rep.peak_force_n, rel=0.01)
