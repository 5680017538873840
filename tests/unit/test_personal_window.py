"""Personal target window: the pure estimator, and through the analyzer engine on simulated athletes
whose outcome depends on their lag (a known best band, ``kinesync.sim.outcome``)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kinesync.analysis.personal_window import PersonalWindow, PersonalWindowConfig, estimate_window
from kinesync.models import SessionAssignment
from kinesync.sim.athlete import AthleteSpec, SimAthlete
from kinesync.sim.outcome import LagOutcome
from kinesync.sources.recording import to_frames
from kinesync.streaming.offline import replay_frames
from kinesync.streaming.station import AnalysisConfig
from kinesync.validation.grid import simulated_recording

CONFIG = PersonalWindowConfig()
# A window is measured from analysed lags, so its edges cannot be more exact than one rep's lag:
# single reps at 20 dB miss by up to ~15 ms (docs/metrics.md, "Personal target window").
EDGE_TOLERANCE_MS = 15.0


def test_window_is_the_band_of_the_best_outcomes() -> None:
    lags = [40.0, 60.0, 118.0, 125.0, 131.0, 170.0, 200.0]
    outcomes = [0.8, 0.85, 1.0, 0.999, 0.998, 0.9, 0.7]
    low, high = estimate_window(lags, outcomes, CONFIG)
    # the three near-best reps: centre their median (125), half their range (6.5) widened to the minimum
    assert (low, high) == (125.0 - CONFIG.min_half_width_ms, 125.0 + CONFIG.min_half_width_ms)


def test_bounds_hold_whatever_the_reps_say() -> None:
    rng = np.random.default_rng(3)
    est = PersonalWindow(CONFIG, (80.0, 120.0))
    for _ in range(300):
        lag = float(rng.uniform(-100.0, 400.0))
        est.observe(lag, {"propulsive_impulse_n_s": float(rng.uniform(50, 200))})
        w = est.current()
        assert CONFIG.bound_low_ms <= w.low_ms < w.high_ms <= CONFIG.bound_high_ms
        assert w.high_ms - w.low_ms >= 2 * CONFIG.min_half_width_ms - 1e-9 or w.low_ms == CONFIG.bound_low_ms \
            or w.high_ms == CONFIG.bound_high_ms


def test_fixed_until_enough_reps_then_personal_lock_and_unlock() -> None:
    est = PersonalWindow(CONFIG, (80.0, 120.0))
    for i in range(CONFIG.min_reps - 1):
        est.observe(140.0 + i, {"propulsive_impulse_n_s": 100.0})
        assert est.current().source == "fixed"
    est.observe(150.0, {"propulsive_impulse_n_s": 100.0})
    learned = est.current()
    assert learned.source == "personal" and learned.low_ms > 120.0
    est.lock()
    est.observe(60.0, {"propulsive_impulse_n_s": 1e9})  # frozen: nothing learned
    assert (est.current().low_ms, est.current().high_ms, est.current().source) == (
        learned.low_ms, learned.high_ms, "locked")
    est.unlock()
    est.observe(60.0, {"propulsive_impulse_n_s": 1e9})
    assert est.current().source == "personal" and est.current().low_ms < learned.low_ms


def test_velocity_ranks_when_every_rep_has_it() -> None:
    est = PersonalWindow(dataclasses.replace(CONFIG, min_reps=2, min_best=1, top_k=1), (80.0, 120.0))
    est.observe(90.0, {"propulsive_impulse_n_s": 200.0, "mean_concentric_velocity_m_s": 0.5})
    est.observe(140.0, {"propulsive_impulse_n_s": 100.0, "mean_concentric_velocity_m_s": 0.9})
    w = est.current()
    assert w.low_ms < 140.0 < w.high_ms


def test_seed_continues_and_is_bounded() -> None:
    est = PersonalWindow(CONFIG, (80.0, 120.0), seed=(40.0, 100.0))
    assert (est.current().low_ms, est.current().high_ms, est.current().source) == (60.0, 100.0, "personal")


def test_coupled_simulator_truth() -> None:
    outcome = LagOutcome(115.0, 145.0)
    a = SimAthlete(AthleteSpec(lag_ms=120.0, lag_jitter_ms=30.0, seed=1, outcome=outcome))
    plain = SimAthlete(AthleteSpec(lag_ms=120.0, lag_jitter_ms=30.0, seed=1))
    for k in range(8):
        g = outcome.gain(a.rep_lag_s(k) * 1000.0)
        t, t0 = a.rep(k), plain.rep(k)
        assert t.propulsive_impulse_n_s == pytest.approx(g * t0.propulsive_impulse_n_s)
        assert t.peak_force_n - t.body_weight_n == pytest.approx(g * (t0.peak_force_n - t0.body_weight_n))
    with pytest.raises(ValueError):
        AthleteSpec.for_exercise("squat_jump", outcome=outcome)


@pytest.mark.parametrize(("mean_lag_ms", "band", "seed"), [
    (120.0, (115.0, 145.0), 1), (120.0, (115.0, 145.0), 4), (90.0, (70.0, 95.0), 2), (100.0, (130.0, 155.0), 5),
])
def test_converges_to_the_true_best_band_within_20_reps(mean_lag_ms, band, seed) -> None:
    """Measured on analysed reps through the engine: lags and outcomes as the analyzer sees them."""
    spec = AthleteSpec(lag_ms=mean_lag_ms, lag_jitter_ms=30.0, seed=seed, outcome=LagOutcome(*band))
    reps_n = 30
    rec, athlete = simulated_recording(spec, reps_n * spec.rep_period_s + 1.0)
    config = dataclasses.replace(AnalysisConfig(), expected=rec.kinds)
    assignment = SessionAssignment(station="sim", athlete="A", exercise="back_squat", target_mode="personal")
    reps = replay_frames(to_frames(rec, 0.05), config, assignment).reps
    assert len(reps) >= reps_n - 1
    for i, r in enumerate(reps):
        assert CONFIG.bound_low_ms <= r.target_low_ms < r.target_high_ms <= CONFIG.bound_high_ms
        if i >= 20:  # the window that judges the 21st rep has learned from 20
            centre = (r.target_low_ms + r.target_high_ms) / 2
            assert r.target_source == "personal"
            assert band[0] <= centre <= band[1], (i, r.target_low_ms, r.target_high_ms)
            assert r.target_low_ms >= band[0] - EDGE_TOLERANCE_MS and r.target_high_ms <= band[1] + EDGE_TOLERANCE_MS
        if r.lag_ms is not None:
            assert r.in_window == (r.target_low_ms <= r.lag_ms <= r.target_high_ms)
    # the reps really were judged against different windows than the fixed one
    assert {r.target_source for r in reps} == {"fixed", "personal"}
    assert athlete.spec.outcome is not None
