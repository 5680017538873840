"""Load–velocity profile and estimated 1RM on data with a known line; velocity loss per set; bar power."""

from __future__ import annotations

import pytest

from kinesync.streaming.bar import VelocityLoss, mean_concentric_power_w
from kinesync.training.load_velocity import load_velocity_profile


def test_profile_recovers_a_known_line_and_its_1rm() -> None:
    # MCV = 1.30 − 0.0080·load: squat threshold 0.30 m/s → 1RM = (1.30 − 0.30)/0.0080 = 125 kg.
    reps = []
    for load in (40.0, 60.0, 80.0, 100.0):
        best = 1.30 - 0.0080 * load
        reps += [(load, best), (load, best - 0.05), (load, best - 0.10)]  # slower reps of a set do not count
    profile = load_velocity_profile(reps, "back_squat")
    assert profile is not None
    assert profile.slope_m_s_per_kg == pytest.approx(-0.0080)
    assert profile.intercept_m_s == pytest.approx(1.30)
    assert profile.one_rm_kg == pytest.approx(125.0)
    assert profile.r_squared == pytest.approx(1.0)
    bench = load_velocity_profile(reps, "bench_press")
    assert bench is not None and bench.one_rm_kg == pytest.approx((1.30 - 0.17) / 0.0080)


def test_profile_needs_two_distinct_loads() -> None:
    assert load_velocity_profile([(60.0, 0.8), (60.0, 0.7)], "back_squat") is None
    assert load_velocity_profile([], "back_squat") is None
    two = load_velocity_profile([(60.0, 0.8), (80.0, 0.6)], "unknown")
    assert two is not None and two.one_rm_kg is None and two.r_squared is None


def test_velocity_loss_per_set_by_hand() -> None:
    loss = VelocityLoss(set_gap_s=15.0)
    s = 1_000_000_000
    mcv = [0.80, 0.84, 0.78, 0.70, 0.63]
    got = [loss.observe(i * 3 * s, v, "A", {}) for i, v in enumerate(mcv)]
    # Reference: best of the first two reps, 0.84 (rep 1 is judged against itself).
    assert got == pytest.approx([0.0, 0.0, (0.84 - 0.78) / 0.84 * 100, (0.84 - 0.70) / 0.84 * 100,
                                 (0.84 - 0.63) / 0.84 * 100])
    # A pause longer than the set gap starts a new set.
    assert loss.observe(4 * 3 * s + 20 * s, 0.60, "A", {}) == 0.0
    assert loss.observe(4 * 3 * s + 23 * s, 0.57, "A", {}) == pytest.approx(5.0)
    # With a plan the plan's set decides, whatever the pause.
    plan = VelocityLoss(set_gap_s=15.0)
    assert plan.observe(0, 0.9, "A", {"block_index": 0, "set_index": 0}) == 0.0
    assert plan.observe(s, 0.45, "A", {"block_index": 0, "set_index": 1}) == 0.0
    assert plan.observe(2 * s, 0.36, "A", {"block_index": 0, "set_index": 1}) == pytest.approx(20.0)
    assert plan.observe(3 * s, None, "A", {"block_index": 0, "set_index": 1}) is None


def test_mean_concentric_power_is_work_over_time() -> None:
    # 100 kg raised 0.5 m in 1 s from and to 0.05 m/s: m·g·MCV exactly.
    assert mean_concentric_power_w(100.0, 0.5, 1.0, 0.05, 0.05) == pytest.approx(100.0 * 9.80665 * 0.5)
    # Leaving at 2 m/s adds the kinetic energy m·v²/2 over the duration.
    assert mean_concentric_power_w(10.0, 0.3, 0.5, 0.0, 2.0) == pytest.approx((10 * 9.80665 * 0.3 + 20.0) / 0.5)
