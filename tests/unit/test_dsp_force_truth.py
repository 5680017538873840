"""Force metrics of kinesync.dsp.force against the simulator's analytic truth, every exercise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kinesync.analysis import jump_heights
from kinesync.dsp.force import net_impulse, peak_force, peak_rfd, rfd
from kinesync.sim.athlete import EXERCISES, AthleteSpec, SimAthlete


def _rep_force(exercise: str, fs_hz: float, k: int = 1, **fields) -> tuple[SimAthlete, np.ndarray, int]:
    """Total vertical force of rep period k (both plates) and the index of its first sample."""
    athlete = SimAthlete(AthleteSpec.for_exercise(exercise, force_rate_hz=fs_hz, asymmetry=0.1, seed=7, **fields))
    i0 = athlete._period_start(k, fs_hz)
    n = athlete._period_start(k + 1, fs_hz) - i0
    return athlete, athlete.force(i0, n).sum(axis=0), i0


def _rel(measured: float, truth: float) -> float:
    return abs(measured - truth) / abs(truth)


@pytest.mark.parametrize("fs_hz", [1000.0, 1111.111])
@pytest.mark.parametrize("exercise", EXERCISES)
def test_rfd_peak_rfd_peak_force_and_impulse_within_1_percent(exercise: str, fs_hz: float) -> None:
    # Noise-free plates: this checks the estimators against the analytic curve. (With the default
    # 1.5 N load-cell noise a 0–50 ms RFD carries ~±60 N/s of noise from two samples.)
    athlete, fz, i0 = _rep_force(exercise, fs_hz, plate_noise_n=0.0)
    rep = athlete.rep(1)
    onset = rep.force_onset_s * fs_hz - i0  # the true onset, fractional index
    errors = {}
    for span_s, truth in ((0.05, rep.rfd_0_50_n_s), (0.1, rep.rfd_0_100_n_s), (0.2, rep.rfd_0_200_n_s)):
        errors[f"rfd 0-{span_s * 1000:.0f}"] = _rel(rfd(fz, fs_hz, onset, span_s), truth)
    errors["peak rfd"] = _rel(peak_rfd(fz, fs_hz, onset), rep.peak_rfd_n_s)
    last_contact = len(fz) - 1
    if rep.takeoff_s is not None:
        last_contact = math.ceil(rep.takeoff_s * fs_hz - i0) - 1
    start, stop = math.ceil(onset), last_contact
    errors["peak force"] = _rel(peak_force(fz, start, stop), rep.peak_force_n)
    bw = athlete.body_weight_n
    if rep.takeoff_impulse_n_s is not None:  # jump: net impulse to takeoff = m·v0
        errors["net impulse"] = _rel(net_impulse(fz, fs_hz, bw, start, stop), rep.takeoff_impulse_n_s)
    elif rep.net_impulse_n_s != 0.0:  # bench: the leg-drive impulse
        errors["net impulse"] = _rel(net_impulse(fz, fs_hz, bw, 0, len(fz) - 1), rep.net_impulse_n_s)
    else:  # standing, rest to rest: 0 by impulse–momentum, judged against the propulsive impulse
        errors["net impulse"] = abs(net_impulse(fz, fs_hz, bw, 0, len(fz) - 1)) / rep.propulsive_impulse_n_s
    positive = np.maximum(fz[: stop + 1] - bw, 0.0)
    errors["propulsive impulse"] = _rel(float(np.sum(positive)) / fs_hz, rep.propulsive_impulse_n_s)
    print(exercise, fs_hz, {k: f"{100 * v:.3f} %" for k, v in errors.items()})
    assert max(errors.values()) < 0.01, errors


@pytest.mark.parametrize("fs_hz", [1000.0, 1111.111])
def test_jump_height_within_1_percent_of_truth(fs_hz: float) -> None:
    athlete = SimAthlete(AthleteSpec.for_exercise("squat_jump", force_rate_hz=fs_hz, seed=3))  # 1.5 N noise
    n_reps = 4
    fz = athlete.force(0, round(n_reps * athlete.spec.rep_period_s * fs_hz)).sum(axis=0)
    jumps = jump_heights(fz, fs_hz, athlete.body_weight_n)
    assert len(jumps) == n_reps
    for k, jump in enumerate(jumps):
        rep = athlete.rep(k)
        assert jump.takeoff_s == pytest.approx(rep.takeoff_s, abs=1e-3)
        assert jump.landing_s == pytest.approx(rep.landing_s, abs=1e-3)
        e_flight = _rel(jump.height_flight_m, rep.jump_height_m)
        e_impulse = _rel(jump.height_impulse_m, rep.jump_height_m)
        print(f"jump {k} at {fs_hz} Hz: flight {100 * e_flight:.2f} %, impulse {100 * e_impulse:.2f} %")
        assert e_flight < 0.01 and e_impulse < 0.01
        assert _rel(jump.flight_time_s, rep.flight_time_s) < 0.005
        assert not jump.inconsistent
