"""Reps come from the movement on the plates: one record per true rep on the physiology simulator.

Legs active through the descent, double-peaked heavy drives, pauses in the hole, squat jumps and a
bench press whose legs barely fire: none of them splits, adds or loses a rep. Reps are matched to
the simulator's movement truth by time, as the physiology grid does.
"""

from __future__ import annotations

import pytest

from kinesync.sim.physiology import PhysiologySpec, session_recording, simulate_session
from kinesync.streaming.offline import analyze_recording
from kinesync.validation.physiology_grid import match_reps

REPS = 12


def _records_per_rep(spec: PhysiologySpec) -> tuple[list[int], int, object]:
    session = simulate_session(spec, n_reps=REPS)
    result = analyze_recording(session_recording(session), exercise=spec.exercise)
    peaks = [r.rep_peak_ns / 1e9 for r in result.reps]
    _, extra, missed = match_reps(peaks, session.reps)
    # Records per true rep: those whose time lies in the rep's movement (descent start to rep end).
    counts = [sum(1 for t in peaks if r.descent_start_s - 0.5 <= t <= r.rep_end_s + 0.5) for r in session.reps]
    return counts, extra + missed, session


@pytest.mark.parametrize("seed", [3, 11])
def test_heavy_and_paused_squats_with_eccentric_legs_give_one_record_per_rep(seed: int) -> None:
    spec = PhysiologySpec(exercise="back_squat", seed=seed, eccentric=True, heavy_share=0.5, paused_share=0.4,
                          lag_ms=120.0)
    counts, wrong, session = _records_per_rep(spec)
    assert any(r.double_peak for r in session.reps) and any(r.paused for r in session.reps)
    assert counts == [1] * REPS and wrong == 0


def test_squat_jumps_with_eccentric_legs_give_one_record_per_jump() -> None:
    spec = PhysiologySpec(exercise="squat_jump", seed=5, eccentric=True, lag_ms=160.0)
    counts, wrong, _ = _records_per_rep(spec)
    assert counts == [1] * REPS and wrong == 0


@pytest.mark.parametrize("leg_share", [0.3, 0.05])
def test_bench_reps_are_found_when_the_legs_barely_fire(leg_share: float) -> None:
    spec = PhysiologySpec(exercise="bench_press", seed=7, eccentric=True, heavy_share=0.4, paused_share=0.4,
                          bench_leg_share=leg_share, lag_ms=80.0)
    counts, wrong, session = _records_per_rep(spec)
    assert any(r.heavy for r in session.reps) and any(r.paused for r in session.reps)
    assert counts == [1] * REPS and wrong == 0


def test_the_owning_window_holds_the_leg_drive() -> None:
    """The rep's time sits near the leg drive, so the lag still comes from the window that holds it."""
    spec = PhysiologySpec(exercise="back_squat", seed=3, identical_shapes=True, heavy_share=0.4, paused_share=0.4)
    session = simulate_session(spec, n_reps=REPS)
    result = analyze_recording(session_recording(session), exercise=spec.exercise)
    pairs, extra, missed = match_reps([r.rep_peak_ns / 1e9 for r in result.reps], session.reps)
    assert extra == missed == 0
    for k, i in pairs.items():
        rep = result.reps[i]
        into = session.reps[k].leg_peak_s - rep.window_start_ns / 1e9
        assert 0.4 <= into <= 1.6, (k, into)
        assert rep.lag_ms is not None and abs(rep.lag_ms - session.reps[k].lag_ms) < 20.0, (k, rep.lag_ms)


def test_a_bar_position_sensor_segments_the_bench_press() -> None:
    """On the bench a bar position sensor says where the reps are: one record per lowering and rise."""
    import math

    import numpy as np

    from kinesync.codec.frame import SensorKind
    from kinesync.sim.athlete import AthleteSpec, SimAthlete
    from kinesync.sources.recording import Recording, Track

    spec = AthleteSpec.for_exercise("bench_press", seed=13)
    duration = 8 * spec.rep_period_s + 1.0
    athlete = SimAthlete(spec)
    n_emg, n_force = math.floor(duration * spec.emg_rate_hz), math.floor(duration * spec.force_rate_hz)
    tracks = [
        Track(SensorKind.EMG, "emg", SimAthlete.EMG_CHANNELS, ("V",), spec.emg_rate_hz,
              athlete.emg(0, n_emg).astype(np.float32)),
        Track(SensorKind.FORCE, "force", SimAthlete.FORCE_CHANNELS, ("N",), spec.force_rate_hz,
              athlete.force(0, n_force).astype(np.float32)),
        Track(SensorKind.VELOCITY, "lpt", SimAthlete.BAR_CHANNELS, ("m",), spec.bar_rate_hz,
              athlete.bar(0, math.floor(duration * spec.bar_rate_hz)).astype(np.float32)),
    ]
    result = analyze_recording(Recording("sim", tracks, source="simulator"), exercise="bench_press")
    truths = athlete.reps(0.0, duration)
    peaks = [r.rep_peak_ns / 1e9 for r in result.reps]
    assert len(peaks) == len(truths) >= 7
    for t, truth in zip(peaks, truths, strict=True):
        assert abs(t - truth.leg_peak_s) < 0.25  # the rise of the bar, next to the leg drive
