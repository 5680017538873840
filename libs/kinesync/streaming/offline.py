"""Offline replay: a recording's frames through the live analyzer engine, nothing else."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from kinesync.codec.frame import Frame
from kinesync.models import RepMetric, SessionAssignment, WindowMetric
from kinesync.sources.recording import Recording, to_frames
from kinesync.streaming.engine import AnalyzerEngine
from kinesync.streaming.station import AnalysisConfig


@dataclass
class ReplayResult:
    windows: list[WindowMetric]
    reps: list[RepMetric]


def replay_frames(
    frames: Iterable[Frame], config: AnalysisConfig, assignment: SessionAssignment | None = None
) -> ReplayResult:
    """Feed ``frames`` in the given order, then flush: what the live service would have emitted.

    Wall-clock time plays no part: the configuration's ``expected`` kinds say what to wait for,
    and the end of input releases the rest.
    """
    engine = AnalyzerEngine(config)
    if assignment is not None:
        engine.assign_session(assignment)
    windows: list[WindowMetric] = []
    for frame in frames:
        windows.extend(engine.add_frame(frame, 0))
    windows.extend(engine.finish(0))
    return ReplayResult(windows=windows, reps=engine.take_reps())


def analyze_recording(
    rec: Recording,
    config: AnalysisConfig | None = None,
    *,
    exercise: str | None = None,
    frame_s: float = 0.05,
    target_ms: tuple[float, float] = (80.0, 120.0),
) -> ReplayResult:
    config = replace(config or AnalysisConfig(), expected=rec.kinds)
    assignment = SessionAssignment(
        station=rec.station, exercise=exercise, target_low_ms=target_ms[0], target_high_ms=target_ms[1]
    )
    return replay_frames(to_frames(rec, frame_s), config, assignment)
