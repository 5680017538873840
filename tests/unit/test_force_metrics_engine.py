"""Force-plate metrics through the live analyzer against physics (kinesync.sim.force_truth).

Sets of generated movements on a dual plate go through ``AnalyzerEngine`` as 50 ms frames of a
force-only station, so the weighing search, the rep ownership, the carried weighing and the field
mapping are checked along with the phase library. Every metric is within 1 % of the generator's
truth (plus the allowance plate noise alone needs, as in test_force_phases.py), every phase time
within 5 ms; one rep per movement.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from kinesync.bus.base import Message
from kinesync.bus.topics import topic_for_kind
from kinesync.codec.frame import Frame, SensorKind, encode
from kinesync.models import RepMetric, SessionAssignment
from kinesync.sim.force_truth import EXERCISES, JUMPS, ForceRecording, generate
from kinesync.streaming.engine import AnalyzerEngine
from kinesync.streaming.rep import PHASE_FIELDS
from kinesync.streaming.station import AnalysisConfig

NS = 1_000_000_000
ORIGIN_NS = 1_700_000_000 * NS
FRAME_S = 0.05
NOISE_N = 1.0  # per plate
PHASE_TOL_S = 0.005
STATION = "plates-01"
# The station's exercise names: a bench press puts the plates under the feet only.
STATION_EXERCISE = {"bench_press_leg_drive": "bench_press"}


@dataclass(frozen=True)
class Movement:
    rec: ForceRecording
    t0_s: float  # where the recording starts in the set, s


@dataclass(frozen=True)
class Run:
    movements: list[Movement]
    reps: list[RepMetric]
    fs_hz: float


def _set(exercise: str, n: int, *, drive: float | None = None, standing_s: float = 2.5, mass_kg: float = 80.0,
         fs_hz: float = 1000.0) -> tuple[list[Movement], np.ndarray, np.ndarray]:
    """``n`` recordings back to back: 1.5 s of standing before the first, ``standing_s`` between movements."""
    shares = None if drive is None else {"propulsion": drive}
    after = min(1.0, standing_s - 1.0) if standing_s >= 2.0 else 0.0
    before = standing_s - after
    movements, left, right = [], [], []
    t = 0.0
    for k in range(n):
        rec = generate(exercise, body_mass_kg=mass_kg, fs_hz=fs_hz, noise_sd_n=NOISE_N, seed=100 + k,
                       left_shares=shares, quiet_before_s=1.5 if k == 0 else max(1.0, before),
                       quiet_after_s=1.0 if k == n - 1 else after)
        # The generator stands at least 1 s before a movement: shorter standing is cut from its start.
        cut = round((1.0 - before) * fs_hz) if k and before < 1.0 else 0
        movements.append(Movement(rec, t - cut / fs_hz))
        left.append(rec.left_n[cut:])
        right.append(rec.right_n[cut:])
        t += (rec.total_n.size - cut) / fs_hz
    return movements, np.concatenate(left), np.concatenate(right)


def _messages(left: np.ndarray, right: np.ndarray, fs_hz: float) -> list[list[Message]]:
    """50 ms frames of a dual plate, one tick each."""
    step = round(FRAME_S * fs_hz)
    ticks = []
    for seq, i in enumerate(range(0, left.size - step + 1, step)):
        frame = Frame(
            station=STATION, device="plates", kind=SensorKind.FORCE, channels=("fz_left", "fz_right"),
            units=("N", "N"), rate_hz=fs_hz, t0_ns=ORIGIN_NS + round(i * NS / fs_hz), seq=seq,
            samples=np.stack([left[i : i + step], right[i : i + step]]).astype(np.float32),
        )
        ticks.append([Message(topic_for_kind(frame.kind), 0, seq, STATION.encode(), encode(frame), 0)])
    return ticks


def _engine_reps(exercise: str, left: np.ndarray, right: np.ndarray, fs_hz: float) -> list[RepMetric]:
    engine = AnalyzerEngine(AnalysisConfig(expected=frozenset({SensorKind.FORCE})))
    engine.assign_session(SessionAssignment(station=STATION, athlete="athlete-01",
                                            exercise=STATION_EXERCISE.get(exercise, exercise), session="s1"))
    reps = []
    now = ORIGIN_NS
    for tick in _messages(left, right, fs_hz):
        now += round(FRAME_S * NS)
        engine.handle_batch(tick, now)
        engine.tick(now)
        reps += engine.take_reps()
    engine.finish(now + NS)
    reps += engine.take_reps()
    return sorted(reps, key=lambda r: r.rep_peak_ns)


@functools.cache
def _run(exercise: str, n: int = 3, drive: float | None = None, standing_s: float = 2.5) -> Run:
    movements, left, right = _set(exercise, n, drive=drive, standing_s=standing_s)
    return Run(movements, _engine_reps(exercise, left, right, 1000.0), 1000.0)


def _pairs(run: Run) -> list[tuple[Movement, RepMetric]]:
    """Each movement with the one rep whose start lies within its recording (one rep per movement)."""
    out = []
    for m in run.movements:
        start = ORIGIN_NS + round(m.t0_s * NS)
        stop = start + round(m.rec.total_n.size / m.rec.fs_hz * NS)
        mine = [r for r in run.reps if start <= r.rep_peak_ns < stop]
        assert len(mine) == 1, f"{len(mine)} reps for one movement: {[r.flags for r in mine]}"
        out.append((m, mine[0]))
    return out


def _allowance(name: str, true: float, rec: ForceRecording) -> float:
    """What plate noise alone can move a metric by, beyond 1 % (see test_force_phases._noise_allowance)."""
    sd = NOISE_N * math.sqrt(2.0)
    t = rec.truth.metrics
    if name.startswith("peak_") and "force" in name:
        return 4.0 * sd / (rec.truth.mass_kg if name.endswith("_per_kg") else 1.0)
    if name == "rsi_modified":
        return abs(true) * PHASE_TOL_S / t["time_to_takeoff_s"]
    if name == "time_to_takeoff_s":
        return PHASE_TOL_S
    from_rest = rec.truth.phase_times_s["unweighting_end"] is None
    if from_rest and name.startswith("mean_propulsive"):
        return abs(true) * PHASE_TOL_S / t["propulsion_duration_s"]
    return 0.0


def _rfd_exact(rec: ForceRecording, start_s: float) -> dict[str, float]:
    force = rec.truth.force_n
    f0 = float(force(start_s)[0])
    out = {f"rfd_0_{ms}_n_per_s": (float(force(start_s + ms / 1000)[0]) - f0) / (ms / 1000) for ms in (50, 100, 200)}
    starts = start_s + np.arange(0.0, 0.180 + 1e-9, 1e-5)
    out["peak_rfd_n_per_s"] = float(((force(starts + 0.020) - force(starts)) / 0.020).max())
    return out


def worst_errors(exercise: str) -> dict[str, float]:
    """Worst relative error (%, beyond the noise allowance: 0 when within it) per metric over the set."""
    worst: dict[str, float] = {}
    for m, rep in _pairs(_run(exercise)):
        truth = m.rec.truth
        for name, true in truth.metrics.items():
            if name not in PHASE_FIELDS or name.startswith(("rfd_", "peak_rfd")):
                continue
            est = getattr(rep, name)
            assert est is not None, f"{name} missing ({rep.flags})"
            excess = max(0.0, abs(est - true) - _allowance(name, true, m.rec))
            worst[name] = max(worst.get(name, 0.0), 100.0 * abs(est - true) / abs(true))
            assert excess <= 0.01 * abs(true), f"{name}: {est} vs {true}"
    return worst


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_metric_through_the_engine_within_1_percent_of_physics(exercise: str) -> None:
    run = _run(exercise)
    assert len(run.reps) == len(run.movements), [r.flags for r in run.reps]
    worst_errors(exercise)
    sd = NOISE_N * math.sqrt(2.0)
    for m, rep in _pairs(run):
        truth = m.rec.truth
        assert rep.body_weight_n == pytest.approx(truth.bw_n, rel=1e-3)
        assert "weighing_carried" not in rep.flags  # 2.5 s of standing before every rep
        # rep_start_ns is the force onset; the phase times through the metrics that carry them.
        onset_s = (rep.rep_start_ns - ORIGIN_NS) / NS - m.t0_s
        assert rep.force_onset_ns == rep.rep_start_ns
        assert onset_s == pytest.approx(truth.phase_times_s["onset"], abs=PHASE_TOL_S)
        # RFDs against the exact curve from the phase start the engine found (within 5 ms of the truth).
        start_s = truth.phase_times_s["propulsion_start"]
        for name, exact in _rfd_exact(m.rec, start_s).items():
            span_s = 0.020 if name == "peak_rfd_n_per_s" else int(name.split("_")[2]) / 1000
            # A 5 ms shift of the start moves the slope by at most the curve's change of slope over 5 ms.
            shifted = [_rfd_exact(m.rec, start_s + d)[name] for d in (-PHASE_TOL_S, PHASE_TOL_S)]
            tol = 0.01 * abs(exact) + 3.0 * math.sqrt(2.0) * sd / span_s + max(abs(s - exact) for s in shifted)
            assert abs(getattr(rep, name) - exact) <= tol, name


@pytest.mark.parametrize("exercise", JUMPS)
def test_a_jump_is_one_rep_and_its_peak_propulsive_force_is_never_the_landing(exercise: str) -> None:
    for m, rep in _pairs(_run(exercise)):
        truth = m.rec.truth.metrics
        assert rep.peak_landing_force_n > 1.5 * rep.peak_propulsive_force_n
        assert rep.peak_propulsive_force_n == pytest.approx(truth["peak_propulsive_force_n"], rel=0.01)
        assert rep.peak_landing_force_n == pytest.approx(truth["peak_landing_force_n"], rel=0.01)
        assert rep.jump_height_flight_m == pytest.approx(truth["jump_height_flight_m"], rel=0.01)
        assert rep.jump_height_impulse_m == pytest.approx(truth["jump_height_impulse_m"], rel=0.01)


@pytest.mark.parametrize("exercise", EXERCISES)
@pytest.mark.parametrize(("drive", "stronger"), [(0.6, "left"), (0.4, "right")])
def test_60_40_drive_on_a_50_50_stance_is_33_percent_with_the_stronger_side_named(
    exercise: str, drive: float, stronger: str
) -> None:
    run = _run(exercise, 2, drive)
    for m, rep in _pairs(run):
        tol = 2.0 if exercise == "bench_press_leg_drive" else 1.0  # a 250 N drive: noise is 1.5 % of a plate's peak
        assert rep.asymmetry_side == stronger
        assert rep.asymmetry_peak_force_pct == pytest.approx(100.0 / 3.0, abs=tol)
        true = m.rec.truth.asymmetry["propulsive_impulse"]
        assert rep.asymmetry_propulsive_impulse_pct == pytest.approx(true.asymmetry_pct, abs=1.0)
        braking = m.rec.truth.asymmetry["braking_impulse"]
        if braking is None:
            assert rep.asymmetry_braking_impulse_pct is None
        else:
            assert rep.asymmetry_braking_impulse_pct == pytest.approx(braking.asymmetry_pct, abs=1.0)


@pytest.mark.parametrize("exercise", ["countermovement_jump", "back_squat"])
def test_a_set_with_short_standing_carries_the_first_weighing(exercise: str) -> None:
    # 0.6 s of standing between movements: too short to weigh, long enough to confirm the weighing.
    run = _run(exercise, 3, standing_s=0.6)
    pairs = _pairs(run)
    assert "weighing_carried" not in pairs[0][1].flags
    for m, rep in pairs[1:]:
        assert "weighing_carried" in rep.flags
        assert rep.body_weight_n == pytest.approx(m.rec.truth.bw_n, rel=1e-3)
        for name in ("propulsive_impulse_n_s", "peak_propulsive_force_n", "mean_propulsive_power_w"):
            true = m.rec.truth.metrics[name]
            assert abs(getattr(rep, name) - true) <= 0.01 * abs(true) + _allowance(name, true, m.rec), name


def test_a_set_without_any_weighing_flags_every_rep_and_keeps_the_flight() -> None:
    # 0.6 s of standing before every rep (the first one's 1.5 s cut): never a full second to weigh on.
    movements, left, right = _set("countermovement_jump", 2, standing_s=0.6)
    cut = round(0.9 * 1000.0)
    reps = _engine_reps("countermovement_jump", left[cut:], right[cut:], 1000.0)
    assert len(reps) == 2
    for rep, m in zip(reps, movements, strict=True):
        assert "no_body_weight" in rep.flags
        assert rep.body_weight_n is None and rep.propulsive_impulse_n_s is None and rep.rsi_modified is None
        assert rep.jump_height_flight_m == pytest.approx(m.rec.truth.metrics["jump_height_flight_m"], rel=0.01)


def test_real_squat_jumps_give_three_reps_with_flight_heights_of_a_hand_calculation(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from kinesync.cli import main

    path = shared_data / "squat_jump_dual_forceplates_1000hz.csv"
    mapping = tmp_path / "map.txt"
    mapping.write_text("ground_force1_vy = fz_left\nground_force2_vy = fz_right\n")
    out = tmp_path / "reps.json"
    code = main(["analyze", "--force", str(path), "--map", str(mapping), "--exercise", "squat_jump",
                 "--json", str(out)])
    capsys.readouterr()
    assert code == 0
    reps = json.loads(out.read_text())["reps"]
    # Hand calculation: the total force, flights = runs below 20 N of at least 100 ms, times at the
    # linearly interpolated 20 N crossings, h = g·t²/8.
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    first = lines.index(next(x for x in lines if x.startswith("endheader"))) + 1
    header = lines[first].split(",")
    data = np.loadtxt(lines[first + 1 :], delimiter=",")
    fz = data[:, header.index("ground_force1_vy")] + data[:, header.index("ground_force2_vy")]
    low = fz < 20.0
    edges = np.flatnonzero(np.diff(low.astype(int)))
    heights = []
    for a, b in zip(edges[::2], edges[1::2], strict=False):
        if b - a < 100:
            continue
        t_off = a + (fz[a] - 20.0) / (fz[a] - fz[a + 1])
        t_on = b + (20.0 - fz[b]) / (fz[b + 1] - fz[b])
        t = (t_on - t_off) / 1000.0
        heights.append(9.80665 * t * t / 8.0)
    assert len(heights) == 3 and len(reps) == 3
    for rep, h in zip(reps, heights, strict=True):
        assert rep["jump_height_flight_m"] == pytest.approx(h, abs=0.01)
        if rep["body_weight_n"] is None:
            assert {"no_body_weight", "plate_unloaded", "force_negative"} & set(rep["flags"]), rep["flags"]
            assert rep["propulsive_impulse_n_s"] is None
        else:
            assert rep["propulsive_impulse_n_s"] is not None and rep["peak_propulsive_force_n"] is not None
    # About 0.5 s of quiet standing before the first jump and none between jumps: no weighing anywhere.
    assert all("no_body_weight" in rep["flags"] for rep in reps)
