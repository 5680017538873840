"""Bar velocity through the live analyzer engine: per-rep MCV against the simulator's truth, and a
station without a bar sensor behaving exactly as before."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from kinesync.bus.base import Message
from kinesync.bus.topics import EMG, FORCE, VELOCITY, topic_for_kind
from kinesync.codec.frame import SensorKind, encode
from kinesync.models import SessionAssignment
from kinesync.sim.athlete import AthleteSpec, SimAthlete
from kinesync.sources.recording import Recording, Track, to_frames, track_frames
from kinesync.streaming.bar import BarTransform
from kinesync.streaming.engine import AnalyzerEngine
from kinesync.streaming.offline import analyze_recording, replay_frames
from kinesync.streaming.station import AnalysisConfig
from tests.unit.test_dsp_velocity import GRIND_IMU_TOLERANCE

# Every movement, a jump from a pause too: its start is buried in LPT noise, but the station's plates
# time it (kinesync.dsp.rest_exit; the LPT alone: tests/unit/test_dsp_velocity.py).
MCV_TOLERANCE = 0.01
BAR_FIELDS = ("mean_concentric_velocity_m_s", "peak_concentric_velocity_m_s", "concentric_displacement_m",
              "mean_propulsive_velocity_m_s", "velocity_loss_pct", "mean_concentric_power_w")


def recording(
    spec: AthleteSpec, duration_s: float, bar: bool = True, bar_unit: str = "m", imu: bool = False
) -> tuple[Recording, SimAthlete]:
    athlete = SimAthlete(spec)
    tracks = [
        Track(SensorKind.EMG, "sim-emg", SimAthlete.EMG_CHANNELS, ("V",), spec.emg_rate_hz,
              athlete.emg(0, math.floor(duration_s * spec.emg_rate_hz)).astype(np.float32)),
        Track(SensorKind.FORCE, "sim-force", SimAthlete.FORCE_CHANNELS, ("N",), spec.force_rate_hz,
              athlete.force(0, math.floor(duration_s * spec.force_rate_hz)).astype(np.float32)),
    ]
    if imu:
        accel = athlete.bar_accel(0, math.floor(duration_s * spec.imu_rate_hz))
        tracks.append(Track(SensorKind.VELOCITY, "sim-imu", SimAthlete.IMU_CHANNELS, (SimAthlete.IMU_UNITS,),
                            spec.imu_rate_hz, accel.astype(np.float32)))
    elif bar:
        scale = 1000.0 if bar_unit == "mm" else 1.0
        position = athlete.bar(0, math.floor(duration_s * spec.bar_rate_hz)) * scale
        tracks.append(Track(SensorKind.VELOCITY, "sim-lpt", SimAthlete.BAR_CHANNELS, (bar_unit,), spec.bar_rate_hz,
                            position.astype(np.float32)))
    return Recording("sim", tracks, source="simulator"), athlete


def truth_for(athlete: SimAthlete, rec: Recording, rep_peak_ns: int, duration_s: float):
    t_s = (rep_peak_ns - rec.t0_ns) / 1e9
    return min(athlete.reps(0.0, duration_s), key=lambda r: abs(r.leg_peak_s - t_s))


@pytest.mark.parametrize("exercise", ["back_squat", "bench_press", "push_press", "squat_jump"])
def test_bar_velocities_per_rep_within_1_percent(exercise: str) -> None:
    spec = AthleteSpec.for_exercise(exercise, lag_jitter_ms=10.0, seed=11)
    duration = 6 * spec.rep_period_s + 1.0
    rec, athlete = recording(spec, duration)
    result = analyze_recording(rec, exercise=exercise)
    measured = [r for r in result.reps if r.mean_concentric_velocity_m_s is not None]
    assert len(measured) >= 5, [r.flags for r in result.reps]
    tolerance = MCV_TOLERANCE
    for rep in measured:
        truth = truth_for(athlete, rec, rep.rep_peak_ns, duration)
        assert rep.mean_concentric_velocity_m_s == pytest.approx(truth.mean_concentric_velocity_m_s, rel=tolerance)
        assert rep.peak_concentric_velocity_m_s == pytest.approx(truth.peak_concentric_velocity_m_s, rel=MCV_TOLERANCE)
        assert rep.mean_propulsive_velocity_m_s == pytest.approx(truth.mean_propulsive_velocity_m_s,
                                                                 rel=tolerance)
        assert rep.concentric_displacement_m == pytest.approx(truth.concentric_displacement_m, rel=0.02)
        assert not any("bar" in f for f in rep.flags)
    # The window that owns a rep repeats its MCV for the wall.
    owned = {w.rep_peak_ns: w.mean_concentric_velocity_m_s for w in result.windows if w.rep_peak_ns is not None}
    assert all(owned[r.rep_peak_ns] == r.mean_concentric_velocity_m_s for r in measured)


@pytest.mark.parametrize("imu", [False, True], ids=["lpt", "imu"])
@pytest.mark.parametrize("seed", [11, 12, 13])
def test_a_grind_is_measured_whole_through_the_live_engine(seed: int, imu: bool) -> None:
    """A slow back squat rising for 2.25 s through a sticking region (the "grind" of
    tests/unit/test_dsp_velocity.py): its top comes 1–1.25 s after its owning window's end. The window
    waits for it (``rep_wait_s``), so every rep gets its velocity, against the simulator's truth, and no
    flag; until 2026-12-06 every one of these reps came out flagged ``no_rep_end`` and ``no_concentric_phase``.
    An LPT within 1 %; a bar IMU within its integration error over a grind (2.5 %, test_dsp_velocity.py)."""
    spec = AthleteSpec.for_exercise("back_squat", movement_s=3.0, concentric_share=0.75, rep_period_s=5.0,
                                    lag_jitter_ms=10.0, seed=seed)
    duration = 6 * spec.rep_period_s + 1.0
    rec, athlete = recording(spec, duration, imu=imu)
    result = analyze_recording(rec, exercise="back_squat")
    assert len(result.reps) == 6
    for rep in result.reps:
        truth = truth_for(athlete, rec, rep.rep_peak_ns, duration)
        assert rep.mean_concentric_velocity_m_s == pytest.approx(
            truth.mean_concentric_velocity_m_s, rel=GRIND_IMU_TOLERANCE if imu else MCV_TOLERANCE)
        if not imu:
            assert rep.concentric_displacement_m == pytest.approx(truth.concentric_displacement_m, rel=0.02)
        assert not rep.flags, rep.flags
        assert rep.data_end_ns is not None and rep.window_end_ns is not None
        assert 0 < rep.data_end_ns - rep.window_end_ns <= AnalysisConfig.rep_wait_s * 1e9


@pytest.mark.parametrize(("movement_s", "concentric_share"), [(3.0, 0.6), (3.6, 0.65)],
                         ids=["press-1.8s", "press-2.3s"])
def test_a_slow_bench_press_is_measured_whole_through_the_live_engine(
    movement_s: float, concentric_share: float
) -> None:
    """Bench presses pressed for 1.8 and 2.3 s (a set's last reps near failure), LPT on the bar: each rep
    waits for the press to end and gets its velocity within 1 %; until 2026-12-06 none of them had one
    (``no_concentric_phase``). The plates under the feet weigh no body (``no_body_weight``, as ever)."""
    spec = AthleteSpec.for_exercise("bench_press", movement_s=movement_s, concentric_share=concentric_share,
                                    rep_period_s=6.0, lag_jitter_ms=10.0, seed=11)
    duration = 6 * spec.rep_period_s + 1.0
    rec, athlete = recording(spec, duration)
    result = analyze_recording(rec, exercise="bench_press")
    assert len(result.reps) == 6
    for rep in result.reps:
        truth = truth_for(athlete, rec, rep.rep_peak_ns, duration)
        assert rep.mean_concentric_velocity_m_s == pytest.approx(truth.mean_concentric_velocity_m_s, rel=MCV_TOLERANCE)
        assert rep.flags == ["no_body_weight"], rep.flags
        assert rep.data_end_ns is not None and rep.window_end_ns is not None and rep.data_end_ns > rep.window_end_ns


def test_a_station_without_a_bar_sensor_is_unchanged() -> None:
    spec = AthleteSpec(lag_ms=110.0, lag_jitter_ms=10.0, seed=3)
    with_bar, _ = recording(spec, 13.0)
    without, _ = recording(spec, 13.0, bar=False)
    a = analyze_recording(with_bar)
    b = analyze_recording(without)
    assert any(r.mean_concentric_velocity_m_s is not None for r in a.reps)
    assert all(r.mean_concentric_velocity_m_s is None and not any("bar" in f for f in r.flags) for r in b.reps)

    def strip(result):
        skip = {"emitted_at_ns", *BAR_FIELDS}
        return ([w.model_dump(exclude=skip) for w in result.windows], [r.model_dump(exclude=skip) for r in result.reps])

    assert strip(a) == strip(b)


def test_windows_do_not_wait_for_a_bar_sensor_that_never_comes() -> None:
    """Live: no velocity frame ever, wall clock frozen. Every window closes on EMG and force alone."""
    rec, _ = recording(AthleteSpec(seed=4), 10.0, bar=False)
    engine = AnalyzerEngine(AnalysisConfig())  # the live default: EMG and force expected, no bar
    windows = []
    for frame in to_frames(rec, 0.05):
        windows.extend(engine.add_frame(frame, 0))
    assert len(windows) >= 25
    assert not any(w.partial for w in windows)


def test_a_silent_bar_sensor_stops_being_waited_for_and_flags_the_reps() -> None:
    spec = AthleteSpec(seed=6)
    rec, _ = recording(spec, 16.0)
    frames = [f for f in to_frames(rec, 0.05) if f.kind != SensorKind.VELOCITY or f.t0_ns < rec.t0_ns + 6 * 10**9]
    config = AnalysisConfig(max_wait_s=1.0)
    engine = AnalyzerEngine(config)
    windows, now = [], 0
    for frame in frames:
        now = frame.end_ns - rec.t0_ns  # wall clock follows the data (real-time delivery)
        windows.extend(engine.add_frame(frame, now))
    reps = engine.take_reps()
    late = [r for r in reps if r.rep_peak_ns > rec.t0_ns + 8 * 10**9]
    early = [r for r in reps if r.rep_peak_ns < rec.t0_ns + 4 * 10**9]
    assert late and all("no_bar_data" in r.flags and r.mean_concentric_velocity_m_s is None for r in late)
    assert early and all(r.mean_concentric_velocity_m_s is not None for r in early)
    # Windows went on after the bar fell silent (partial while the wait ran, then on EMG and force).
    assert max(w.window_start_ns for w in windows) > rec.t0_ns + 12 * 10**9


def test_a_gap_in_the_bar_stream_flags_the_rep_instead_of_guessing() -> None:
    spec = AthleteSpec(seed=8)
    rec, athlete = recording(spec, 10.0)
    truth = athlete.rep(2)
    gap_t0 = rec.t0_ns + round((truth.leg_peak_s + 0.2) * 1e9)
    frames = [f for f in to_frames(rec, 0.05)
              if not (f.kind == SensorKind.VELOCITY and f.t0_ns <= gap_t0 < f.end_ns)]
    result = replay_frames(frames, AnalysisConfig(expected=rec.kinds))
    rep = min(result.reps, key=lambda r: abs(r.rep_peak_ns - (rec.t0_ns + truth.leg_peak_s * 1e9)))
    assert "gap:bar" in rep.flags and rep.mean_concentric_velocity_m_s is None
    assert rep.lag_ms is not None  # the other sensors' metrics stand


def test_streaming_equals_batch_with_a_bar_sensor() -> None:
    spec = AthleteSpec.for_exercise("push_press", seed=9)
    rec, _ = recording(spec, 12.0)
    batch = analyze_recording(rec)
    rng = np.random.default_rng(1)
    frames = []
    for track in rec.tracks:
        n = track.samples.shape[1]
        cuts = list(np.cumsum(rng.integers(5, 120, size=n)))
        frames.extend(track_frames(rec.station, track, [int(c) for c in cuts if c < n]))
    frames.sort(key=lambda f: f.end_ns)
    order = []
    for i in range(0, len(frames), 3):
        block = frames[i : i + 3]
        order.extend(block[j] for j in rng.permutation(len(block)))
    streamed = replay_frames(order, AnalysisConfig(expected=rec.kinds))

    def dump(result):
        return [r.model_dump(exclude={"emitted_at_ns"}) for r in result.reps]

    assert dump(streamed) == dump(batch)
    assert sum(r.mean_concentric_velocity_m_s is not None for r in batch.reps) >= 3


def test_millimetres_are_scaled_and_channel_roles() -> None:
    spec = AthleteSpec(seed=2)
    a = analyze_recording(recording(spec, 10.0)[0])
    b = analyze_recording(recording(spec, 10.0, bar_unit="mm")[0])
    va = [r.mean_concentric_velocity_m_s for r in a.reps if r.mean_concentric_velocity_m_s is not None]
    vb = [r.mean_concentric_velocity_m_s for r in b.reps if r.mean_concentric_velocity_m_s is not None]
    assert va and vb == pytest.approx(va, rel=1e-4)
    both = BarTransform(("bar_x", "bar_z", "bar_az"), ("m",))
    assert both.position_row == 1 and not both.acceleration  # an LPT wins over an IMU on one device
    imu_only = BarTransform(("bar_az",), ("g",))
    assert imu_only.usable and imu_only.acceleration
    np.testing.assert_allclose(imu_only(np.ones((1, 3))), 9.80665)
    assert not BarTransform(("bar_x",), ("m",)).usable


@pytest.mark.parametrize("exercise", ["back_squat", "bench_press", "push_press", "squat_jump"])
def test_a_bar_imu_gives_the_bar_velocities_within_1_percent(exercise: str) -> None:
    """A bar IMU (500 Hz, 0.05 m/s² noise, 0.03 m/s² bias) instead of an LPT: velocity integrated
    from the rest before each rep."""
    spec = AthleteSpec.for_exercise(exercise, seed=13)
    duration = 5 * spec.rep_period_s + 1.0
    rec, athlete = recording(spec, duration, imu=True)
    result = analyze_recording(rec, exercise=exercise)
    measured = [r for r in result.reps if r.mean_concentric_velocity_m_s is not None]
    assert len(measured) >= 4, [r.flags for r in result.reps]
    for rep in measured:
        truth = truth_for(athlete, rec, rep.rep_peak_ns, duration)
        assert rep.mean_concentric_velocity_m_s == pytest.approx(truth.mean_concentric_velocity_m_s, rel=MCV_TOLERANCE)
        assert rep.peak_concentric_velocity_m_s == pytest.approx(truth.peak_concentric_velocity_m_s, rel=MCV_TOLERANCE)
        assert rep.mean_propulsive_velocity_m_s == pytest.approx(truth.mean_propulsive_velocity_m_s,
                                                                 rel=MCV_TOLERANCE)


def test_commits_keep_the_bar_history_a_window_needs() -> None:
    rec, _ = recording(AthleteSpec(seed=1), 8.0)
    engine = AnalyzerEngine(replace(AnalysisConfig(), expected=rec.kinds))
    for i, frame in enumerate(to_frames(rec, 0.05)):
        msg = Message(topic_for_kind(frame.kind), 0, i, frame.station.encode(), encode(frame), 0)
        engine.handle(msg, 0)
    st = engine.stations["sim"]
    assert st.next_window_ns is not None
    c = engine.config
    assert engine.needed_from("sim", VELOCITY) == st.next_window_ns + c.window_ns - round(c.bar.history_s * 1e9)
    assert engine.needed_from("sim", FORCE) == st.next_window_ns + c.window_ns - round(c.history_s * 1e9)
    assert engine.needed_from("sim", EMG) == st.next_window_ns - round(c.settle_s * 1e9)


def test_a_session_with_a_bar_sensor_waits_for_its_frames() -> None:
    """After a restart the analyzer may read a station's EMG and force backlog before its bar frames:
    a session that declares the bar sensor makes the windows wait for them, so no rep loses its MCV."""
    rec, _ = recording(AthleteSpec(seed=12), 12.0)
    frames = to_frames(rec, 0.05)
    ordered = ([f for f in frames if f.kind != SensorKind.VELOCITY]
               + [f for f in frames if f.kind == SensorKind.VELOCITY])
    engine = AnalyzerEngine(AnalysisConfig())
    engine.assign_session(SessionAssignment(station=rec.station, athlete="A", bar_sensor=True))
    windows = []
    for frame in ordered:
        windows.extend(engine.add_frame(frame, 0))
        if frame.kind != SensorKind.VELOCITY:
            assert not windows, "a window closed before the declared bar sensor's data arrived"
    reps = engine.take_reps()
    assert len(reps) >= 3 and all(r.mean_concentric_velocity_m_s is not None for r in reps)
    assert not any(w.partial for w in windows)

    # Declared but never heard from: the bounded wait runs out, the windows go on partial and the
    # reps say what is missing.
    engine = AnalyzerEngine(AnalysisConfig(max_wait_s=1.0))
    engine.assign_session(SessionAssignment(station=rec.station, bar_sensor=True))
    windows = []
    for frame in (f for f in frames if f.kind != SensorKind.VELOCITY):
        windows.extend(engine.add_frame(frame, frame.end_ns - rec.t0_ns))
    reps = engine.take_reps()
    assert windows and all(w.partial for w in windows)
    assert reps and all("no_bar_data" in r.flags and r.lag_ms is not None for r in reps)


def test_load_gives_power_and_reps_carry_their_velocity_loss() -> None:
    rec, _ = recording(AthleteSpec(seed=12), 12.0)
    engine = AnalyzerEngine(AnalysisConfig())
    engine.assign_session(SessionAssignment(station=rec.station, athlete="A", bar_sensor=True, load_kg=100.0))
    for frame in to_frames(rec, 0.05):
        engine.add_frame(frame, 0)
    reps = [r for r in engine.take_reps() if r.mean_concentric_velocity_m_s is not None]
    assert len(reps) >= 3
    first_two = max(r.mean_concentric_velocity_m_s for r in reps[:2])
    for rep in reps:
        # Lifts start and end at zero velocity: power is m·g·MCV exactly.
        assert rep.mean_concentric_power_w == pytest.approx(100.0 * 9.80665 * rep.mean_concentric_velocity_m_s)
        if rep is not reps[0]:
            loss = (first_two - rep.mean_concentric_velocity_m_s) / first_two * 100
            assert rep.velocity_loss_pct == pytest.approx(loss)
    assert reps[0].velocity_loss_pct == 0.0
