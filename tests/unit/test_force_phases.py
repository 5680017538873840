"""Force-plate phases and metrics (kinesync.analysis.phases) against physics (kinesync.sim.force_truth).

The generator prescribes the centre-of-mass motion, so every metric has an exact value that owes
nothing to the estimators. Noise-free plates check the estimators themselves: every metric within
1 %, every phase boundary within 5 ms. With plate noise, the metrics that sampled noise alone can
move by more than 1 % get exactly that allowance on top (derived below), and no more.

The real recording ``squat_jump_dual_forceplates_1000hz.csv`` comes from andrewlba/ACL_squat_jump
(MIT licence, copyright (c) 2022 andrewlba); see ../shared/data/PROVENANCE.md. It is read in place.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import numpy as np
import pytest

from kinesync.analysis.phases import (
    analyze_jumps,
    asymmetry,
    find_weighing,
    jump_metrics,
    lift_metrics,
    plate_loads,
    segment_phases,
    weighing,
)
from kinesync.sim.force_truth import EXERCISES, JUMPS, STANDARD_GRAVITY_M_S2, ForceRecording, generate

PHASE_TOL_S = 0.005
NOISE_N = 1.0  # per plate; the sum of both plates carries √2 × that
TIME_METRICS = {
    "time_to_takeoff_s",
    "flight_time_s",
    "unweighting_duration_s",
    "braking_duration_s",
    "propulsion_duration_s",
    "drive_duration_s",
}


@functools.cache
def _record(
    exercise: str,
    fs_hz: float = 1000.0,
    mass_kg: float = 80.0,
    noise: float = 0.0,
    seed: int = 0,
    drive: float | None = None,
) -> ForceRecording:
    """One generated recording (cached: several tests read the same one); ``drive`` = left share of the propulsion."""
    shares = None if drive is None else {"propulsion": drive}
    return generate(exercise, body_mass_kg=mass_kg, fs_hz=fs_hz, noise_sd_n=noise, seed=seed, left_shares=shares)


def _analyse(rec: ForceRecording):
    """Weighing, phases, metrics and asymmetry as a caller would chain them."""
    fs = rec.fs_hz
    bench = rec.truth.exercise == "bench_press_leg_drive"
    if rec.truth.exercise in JUMPS:
        (jump,) = analyze_jumps(rec.total_n, fs)
        w, ph, metrics = jump.weighing, jump.phases, jump.metrics
    else:
        # The bench carries the athlete: the plates under the feet read a preload far below 200 N.
        w = find_weighing(rec.total_n, fs, min_load_n=50.0 if bench else 200.0)
        ph = segment_phases(rec.total_n, fs, w.bw_n, w.sd_n, w.end_index, com_on_plate=not bench)
        metrics = lift_metrics(rec.total_n, fs, ph)
    loads = plate_loads(rec.left_n, rec.right_n, w)
    asym = asymmetry(rec.left_n, rec.right_n, fs, ph, *loads)
    return w, ph, metrics, asym


def _check_phase_times(rec: ForceRecording, ph) -> float:
    worst = 0.0
    for name, true_s in rec.truth.phase_times_s.items():
        est_s = ph.times_s[name]
        if true_s is None:
            assert est_s is None, f"{name}: found {est_s} s where the exercise has no such phase"
            continue
        assert est_s is not None, f"{name} missing ({ph.flags})"
        worst = max(worst, abs(est_s - true_s))
        assert est_s == pytest.approx(true_s, abs=PHASE_TOL_S), name
    return worst


@pytest.mark.parametrize("exercise", EXERCISES)
def test_generator_is_reproducible_and_obeys_impulse_momentum(exercise: str) -> None:
    a = generate(exercise, seed=7)
    b = generate(exercise, seed=7)
    assert np.array_equal(a.left_n, b.left_n) and np.array_equal(a.right_n, b.right_n)
    assert not np.array_equal(a.total_n, generate(exercise, seed=8).total_n)
    assert np.allclose(a.left_n + a.right_n, a.total_n)
    truth = a.truth
    if truth.mass_kg is None:
        return  # the bench carries the body: no momentum to balance
    # Integrate the exact force on a 10 µs grid, independently of the generator's closed forms.
    times = truth.phase_times_s
    t0, t1 = times["onset"], times["takeoff"] or times["propulsion_end"]
    t = np.linspace(t0, t1, math.ceil((t1 - t0) / 1e-5) + 1)
    impulse = np.trapezoid(truth.force_n(t) - truth.bw_n, t)
    v_end = truth.metrics.get("takeoff_velocity_m_s", 0.02)  # a lift ends at v = 0.02 m/s by convention
    assert impulse == pytest.approx(truth.mass_kg * v_end, rel=1e-6, abs=1e-6)
    if exercise in JUMPS:
        v0 = truth.metrics["takeoff_velocity_m_s"]
        assert truth.metrics["flight_time_s"] == pytest.approx(2.0 * v0 / STANDARD_GRAVITY_M_S2, rel=1e-12)
        assert truth.metrics["jump_height_flight_m"] == pytest.approx(truth.metrics["jump_height_impulse_m"])
        assert float(truth.force_n(0.5 * (times["takeoff"] + times["landing"]))[0]) == 0.0


CLEAN_CASES = [(1000.0, 80.0), (500.0, 60.0), (2000.0, 100.0)]


@pytest.mark.parametrize(("fs_hz", "mass_kg"), CLEAN_CASES)
@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_metric_within_1_percent_of_physics_on_noise_free_plates(
    exercise: str, fs_hz: float, mass_kg: float
) -> None:
    rec = _record(exercise, fs_hz, mass_kg, drive=0.6)
    w, ph, metrics, asym = _analyse(rec)
    # The window ends where the force leaves the 5 SD band: its last samples hold the first few N
    # of the movement (0.002 % of a 150 N preload at most).
    assert w.ok and w.bw_n == pytest.approx(rec.truth.bw_n, rel=1e-4)
    assert ph.movement == ("from_rest" if exercise in ("squat_jump", "bench_press_leg_drive") else "countermovement")
    _check_phase_times(rec, ph)
    for name, true in rec.truth.metrics.items():
        est = getattr(metrics, name)
        assert est is not None, f"{name} missing ({metrics.flags})"
        assert est == pytest.approx(true, rel=0.01), name
    for name, side in rec.truth.asymmetry.items():
        est = getattr(asym, name)
        if side is None:
            assert est is None, name
            continue
        assert est.asymmetry_pct == pytest.approx(side.asymmetry_pct, abs=1.0), name
        if side.stronger is not None:
            assert est.stronger == side.stronger, name


def _noise_allowance(name: str, true: float, rec: ForceRecording) -> float:
    """What plate noise alone can move a metric by, beyond 1 % (absolute, in the metric's unit).

    - Peak forces: the largest of several noisy samples near a flat peak reads high by up to a
      few SD: 4 SD of the summed noise.
    - Metrics over a window that starts at the onset or ends where the force re-enters the 5 SD
      band (from rest: squat jump, bench drive) and RSI (time to take-off from the onset): noise
      moves those boundaries by up to the 5 ms phase-time tolerance.
    """
    sd = NOISE_N * math.sqrt(2.0)
    t = rec.truth.metrics
    if name.startswith("peak_") and "force" in name:
        return 4.0 * sd / (rec.truth.mass_kg if name.endswith("_per_kg") else 1.0)
    if name == "rsi_modified":
        return abs(true) * PHASE_TOL_S / t["time_to_takeoff_s"]
    from_rest = rec.truth.phase_times_s["unweighting_end"] is None
    if from_rest and name.startswith("mean_propulsive"):
        return abs(true) * PHASE_TOL_S / t["propulsion_duration_s"]
    return 0.0


def _exact_rfds(rec: ForceRecording, start_s: float) -> dict[str, float]:
    """RFDs of the exact curve from the estimator's own start (onset or propulsion start)."""
    force = rec.truth.force_n
    f0 = float(force(start_s)[0])
    out = {f"rfd_0_{ms}_n_per_s": (float(force(start_s + ms / 1000)[0]) - f0) / (ms / 1000) for ms in (50, 100, 200)}
    starts = start_s + np.arange(0.0, 0.180 + 1e-9, 1e-5)
    out["peak_rfd_n_per_s"] = float(((force(starts + 0.020) - force(starts)) / 0.020).max())
    return out


NOISY_CASES = [(1000.0, 80.0, 0), (1000.0, 80.0, 1), (1000.0, 80.0, 2), (500.0, 60.0, 3), (2000.0, 100.0, 4)]


@pytest.mark.parametrize(("fs_hz", "mass_kg", "seed"), NOISY_CASES)
@pytest.mark.parametrize("exercise", EXERCISES)
def test_metrics_with_plate_noise(exercise: str, fs_hz: float, mass_kg: float, seed: int) -> None:
    rec = _record(exercise, fs_hz, mass_kg, NOISE_N, seed)
    _, ph, metrics, _ = _analyse(rec)
    _check_phase_times(rec, ph)
    for name, true in rec.truth.metrics.items():
        est = getattr(metrics, name)
        assert est is not None, f"{name} missing ({metrics.flags})"
        if name in TIME_METRICS:
            assert est == pytest.approx(true, abs=PHASE_TOL_S), name
        elif name.startswith(("rfd_", "peak_rfd")):
            continue  # below: the start is a phase time, checked above; the slope from it here
        else:
            assert abs(est - true) <= 0.01 * abs(true) + _noise_allowance(name, true, rec), name
    # An RFD is a force difference over a short span from a start that noise moves by a few ms:
    # it is compared with the exact curve from the same start, allowing 1 % plus two noisy samples
    # (3 SD each) over the span.
    sd = NOISE_N * math.sqrt(2.0)
    start_s = ph.propulsion_start_index / fs_hz
    for name, exact in _exact_rfds(rec, start_s).items():
        span_s = 0.020 if name == "peak_rfd_n_per_s" else int(name.split("_")[2]) / 1000
        assert abs(getattr(metrics, name) - exact) <= 0.01 * abs(exact) + 3.0 * math.sqrt(2.0) * sd / span_s, name


@pytest.mark.parametrize("exercise", EXERCISES)
@pytest.mark.parametrize(("drive", "stronger"), [(0.6, "left"), (0.4, "right")])
def test_60_40_drive_on_a_50_50_stance_is_33_percent_with_the_stronger_side_named(
    exercise: str, drive: float, stronger: str
) -> None:
    rec = _record(exercise, noise=NOISE_N, seed=11, drive=drive)
    _, _, _, asym = _analyse(rec)
    peak = asym.peak_propulsive_force
    # The bench drive is small (250 N): each plate's peak carries the noise maximum, ~1.5 % of it.
    tol = 2.0 if exercise == "bench_press_leg_drive" else 1.0
    assert peak.stronger == stronger
    assert peak.asymmetry_pct == pytest.approx(100.0 / 3.0, abs=tol)
    true = rec.truth.asymmetry["propulsive_impulse"]
    impulse = asym.propulsive_impulse
    assert impulse.stronger == stronger == true.stronger
    assert impulse.asymmetry_pct == pytest.approx(true.asymmetry_pct, abs=1.0)
    if exercise not in JUMPS:
        # A lift's drive stays above body weight: its impulse splits exactly 60/40 as well.
        assert impulse.asymmetry_pct == pytest.approx(100.0 / 3.0, abs=1.0)
    braking = rec.truth.asymmetry["braking_impulse"]
    if braking is not None:
        # Braking is 50/50 but for its last 30 ms, where the split turns to the drive's.
        assert asym.braking_impulse.asymmetry_pct == pytest.approx(braking.asymmetry_pct, abs=1.0)
        assert asym.braking_impulse.stronger == braking.stronger


@pytest.mark.parametrize("exercise", JUMPS)
def test_peak_propulsive_force_never_includes_the_landing(exercise: str) -> None:
    rec = _record(exercise, noise=NOISE_N, seed=5)
    truth = rec.truth.metrics
    assert truth["peak_landing_force_n"] > 1.5 * truth["peak_propulsive_force_n"]  # the landing is the record's peak
    _, ph, metrics, _ = _analyse(rec)
    assert float(rec.total_n.max()) == pytest.approx(metrics.peak_landing_force_n)
    assert metrics.peak_propulsive_force_n == pytest.approx(truth["peak_propulsive_force_n"], rel=0.01)
    assert metrics.peak_propulsive_force_n < 0.7 * metrics.peak_landing_force_n
    assert ph.peak_landing_index > ph.landing_index > ph.takeoff_index


def test_a_squat_jump_is_weighed_on_its_hold_not_on_the_standing_before_the_descent() -> None:
    rec = _record("squat_jump", noise=NOISE_N, seed=2)
    w, ph, _, _ = _analyse(rec)
    hold_end_s = rec.truth.movement_start_s
    assert hold_end_s - 1.0 <= w.start_index / rec.fs_hz and w.end_index / rec.fs_hz <= hold_end_s + 0.03
    assert ph.movement == "from_rest" and ph.unweighting_end_index is None and ph.braking_end_index is None
    # Weighed before the descent instead, the descent is the movement: a countermovement.
    standing = find_weighing(rec.total_n, rec.fs_hz)
    assert standing.end_index / rec.fs_hz < hold_end_s - 1.0


def test_weighing_rules_name_the_reason() -> None:
    fs = 1000.0
    rng = np.random.default_rng(0)
    quiet = 800.0 + rng.normal(0.0, 1.5, 3000)
    assert weighing(quiet, fs, 3000).ok
    assert weighing(quiet, fs, 500).reason == "too_short"
    assert weighing(np.full(3000, 150.0), fs, 3000).reason == "plate_unloaded"  # below 200 N
    assert weighing(np.full(3000, 150.0), fs, 3000, min_load_n=100.0).ok
    with_flight = quiet.copy()
    with_flight[2500:2510] = 0.0
    assert weighing(with_flight, fs, 3000).reason == "plate_unloaded"
    swaying = 800.0 + 40.0 * np.sin(2 * np.pi * 1.0 * np.arange(3000) / fs)  # SD 28 N > 2 % of 800 N
    assert weighing(swaying, fs, 3000).reason == "no_quiet_standing"
    assert find_weighing(swaying, fs).reason == "no_quiet_standing"
    # A steady force far from the first quiet standing is a held push, not a weighing.
    held = np.concatenate([quiet[:1500], 1200.0 + rng.normal(0.0, 1.5, 1500)])
    w = find_weighing(held, fs, window_s=1.0)
    assert w.ok and w.bw_n == pytest.approx(800.0, abs=1.0) and w.end_index <= 1501


ODD_INPUTS = {
    "empty": np.array([]),
    "all zeros": np.zeros(4000),
    "10 ms": np.full(10, 750.0),
    "constant": np.full(4000, 750.0),
    "negative": np.full(4000, -30.0),
    "stepping off": np.concatenate([np.full(1500, 750.0), np.zeros(2500)]),
    "absurd": np.full(3000, 1e300),
    "one spike": np.concatenate([np.full(1500, 750.0), [1e9], np.full(1500, 750.0)]),
}


@pytest.mark.parametrize("name", list(ODD_INPUTS))
def test_odd_inputs_give_none_and_flags_not_exceptions(name: str) -> None:
    f = ODD_INPUTS[name]
    fs = 1000.0
    w = find_weighing(f, fs)
    if name in ("empty", "10 ms"):
        assert w.reason == "too_short"
    if name in ("all zeros", "negative"):
        assert w.reason == "plate_unloaded"
    ph = segment_phases(f, fs, w.bw_n, w.sd_n, w.end_index or 0)
    forced = segment_phases(f, fs, 750.0, 1.0, 0)  # a caller's body weight that does not fit the data
    for phases in (ph, forced):
        jm = jump_metrics(f, fs, phases)
        lm = lift_metrics(f, fs, phases)
        asym = asymmetry(f / 2, f / 2, fs, phases, 375.0, 375.0)
        assert jm.jump_height_impulse_m is None and lm.propulsive_impulse_n_s is None, phases.flags
        assert jm.flags and lm.flags
        assert asym.propulsive_impulse is None
    assert ph.flags
    if name in ("absurd", "one spike"):
        assert ph.flags == forced.flags == ("implausible_force",)
    assert analyze_jumps(f, fs) == []


def test_a_jump_whose_braking_never_ends_keeps_its_flight_and_raises_nothing() -> None:
    # A body weight far too high (a caller's, or odd data) keeps the velocity below 0 up to take-off:
    # no start of propulsion, so no propulsion metric, but the flight is still measured.
    rec = _record("countermovement_jump")
    w = find_weighing(rec.total_n, rec.fs_hz)
    ph = segment_phases(rec.total_n, rec.fs_hz, 1.5 * w.bw_n, w.sd_n, w.end_index)
    assert ph.is_jump and ph.propulsion_start_index is None and "no_braking_end" in ph.flags
    m = jump_metrics(rec.total_n, rec.fs_hz, ph)
    assert m.jump_height_flight_m == pytest.approx(rec.truth.metrics["jump_height_flight_m"], rel=0.01)
    assert m.propulsive_impulse_n_s is None and m.rfd_0_100_n_per_s is None and m.peak_propulsive_force_n is None

def test_programmer_errors_raise() -> None:
    f = np.full(2000, 700.0)
    with pytest.raises(ValueError):
        segment_phases(np.zeros((2, 10)), 1000.0, 700.0, 1.0, 0)
    with pytest.raises(ValueError):
        segment_phases(f, 0.0, 700.0, 1.0, 0)
    with pytest.raises(ValueError):
        weighing(f, -1.0, 1000)
    with pytest.raises(ValueError):
        segment_phases(f, 1000.0, 700.0, 1.0, 0, movement="hop")
    with pytest.raises(ValueError):
        asymmetry(f, f[:-1], 1000.0, segment_phases(f, 1000.0, 700.0, 1.0, 0), 350.0, 350.0)


def test_a_nan_is_a_flag() -> None:
    f = np.full(3000, 700.0)
    f[2000] = np.nan
    assert segment_phases(f, 1000.0, 700.0, 1.0, 0).flags == ("non_finite_force",)
    assert find_weighing(f, 1000.0).ok  # the windows before the gap are valid


# --- the real recording -----------------------------------------------------------------------------


def _read_plates(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertical force (axis y) of each plate: 6-line header, a CSV header row, UTF-8 BOM."""
    with path.open(encoding="utf-8-sig") as fh:
        lines = fh.read().splitlines()
    header = lines[6].split(",")
    data = np.array([line.split(",") for line in lines[7:] if line.strip()], dtype=np.float64)
    return data[:, header.index("ground_force1_vy")], data[:, header.index("ground_force2_vy")]


def _hand_flight_heights(fz: np.ndarray, fs_hz: float, threshold_n: float = 20.0, min_samples: int = 100) -> list:
    """Flight-time heights with plain numpy: runs below the threshold, crossings interpolated linearly."""
    below = np.concatenate(([0], (fz < threshold_n).astype(np.int8), [0]))
    starts = np.flatnonzero(np.diff(below) == 1)
    stops = np.flatnonzero(np.diff(below) == -1)
    heights = []
    for a, b in zip(starts, stops, strict=True):
        if b - a < min_samples:
            continue
        t_off = (a - 1) + (fz[a - 1] - threshold_n) / (fz[a - 1] - fz[a])
        t_on = (b - 1) + (threshold_n - fz[b - 1]) / (fz[b] - fz[b - 1])
        t = (t_on - t_off) / fs_hz
        heights.append(STANDARD_GRAVITY_M_S2 * t * t / 8.0)
    return heights


def test_real_squat_jumps(shared_data: Path) -> None:
    left, right = _read_plates(shared_data / "squat_jump_dual_forceplates_1000hz.csv")
    fz = left + right
    fs = 1000.0
    hand = _hand_flight_heights(fz, fs)
    assert len(hand) == 3
    # The recording stands still for only ~0.5 s before the first jump and never between jumps:
    # the default 1 s weighing finds no quiet standing anywhere.
    default = analyze_jumps(fz, fs)
    assert len(default) == 3
    for jump, h in zip(default, hand, strict=True):
        assert "no_quiet_standing" in jump.phases.flags and jump.metrics.jump_height_impulse_m is None
        assert jump.metrics.jump_height_flight_m == pytest.approx(h, abs=0.01)
    jumps = analyze_jumps(fz, fs, window_s=0.5)
    assert len(jumps) == 3
    for k, (jump, h) in enumerate(zip(jumps, hand, strict=True)):
        m, ph = jump.metrics, jump.phases
        assert m.jump_height_flight_m == pytest.approx(h, abs=0.01)
        imp = "—" if m.jump_height_impulse_m is None else f"{100 * m.jump_height_impulse_m:.2f} cm"
        print(
            f"jump {k + 1}: flight {1000 * m.flight_time_s:.1f} ms → {100 * m.jump_height_flight_m:.2f} cm "
            f"(hand {100 * h:.2f} cm), impulse {imp}, flags {ph.flags}"
        )
    first = jumps[0]
    assert first.weighing.ok and first.weighing.bw_n == pytest.approx(580.0, abs=3.0)
    m, ph = first.metrics, first.phases
    assert ph.movement == "countermovement" and ph.onset_index < ph.braking_end_index < ph.takeoff_index
    for name in (
        "jump_height_impulse_m",
        "time_to_takeoff_s",
        "rsi_modified",
        "countermovement_depth_m",
        "braking_impulse_n_s",
        "propulsive_impulse_n_s",
        "peak_propulsive_force_n",
        "peak_power_w",
        "rfd_0_100_n_per_s",
    ):
        assert getattr(m, name) is not None, name
    assert m.heights_disagree == (abs(m.jump_height_impulse_m - m.jump_height_flight_m) > 0.02)
    assert m.peak_propulsive_force_n < m.peak_landing_force_n
    asym = asymmetry(left, right, fs, ph, *plate_loads(left, right, first.weighing))
    assert asym.propulsive_impulse.stronger in ("left", "right")
    # The second and third jumps start from the previous landing: no weighing, a flag, flight metrics only.
    for jump in jumps[1:]:
        assert not jump.weighing.ok and "no_quiet_standing" in jump.phases.flags
        assert jump.phases.onset_index is None and jump.metrics.jump_height_impulse_m is None
        assert jump.metrics.peak_landing_force_n > 0
