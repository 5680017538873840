"""Streaming equals batch: any framing and any arrival order within the lateness bound give the
same metrics as `kinesync analyze` on the whole recording."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kinesync.sim.athlete import AthleteSpec
from kinesync.sources.recording import track_frames
from kinesync.streaming.offline import analyze_recording, replay_frames
from kinesync.streaming.station import AnalysisConfig
from kinesync.validation.grid import simulated_recording

REC, _ = simulated_recording(AthleteSpec(lag_ms=100.0, lag_jitter_ms=10.0, emg_rate_hz=1925.926, seed=5), 10.0)
CONFIG = AnalysisConfig(expected=REC.kinds)
BATCH = analyze_recording(REC)


def comparable(result) -> tuple[list[dict], list[dict]]:
    windows = [w.model_dump(exclude={"emitted_at_ns"}) for w in result.windows]
    reps = [r.model_dump(exclude={"emitted_at_ns"}) for r in result.reps]
    return windows, reps


def test_batch_finds_the_reps() -> None:
    assert len(BATCH.reps) >= 2
    assert sum(r.lag_ms is not None for r in BATCH.reps) >= 2
    starts = [w.window_start_ns for w in BATCH.windows]
    assert starts == sorted(set(starts)), "windows are unique and in order"
    peaks = [r.rep_peak_ns for r in BATCH.reps]
    assert len(peaks) == len(set(peaks)), "a rep straddling windows was counted twice"


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    emg_frame=st.integers(7, 200),
    force_frame=st.integers(5, 100),
    jitter=st.integers(1, 3),
    seed=st.integers(0, 2**31),
)
def test_random_framing_and_late_arrival_give_identical_metrics(
    emg_frame: int, force_frame: int, jitter: int, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    frames = []
    for track, step in zip(REC.tracks, (emg_frame, force_frame), strict=True):
        n = track.samples.shape[1]
        # Random frame sizes around the drawn size.
        cuts, pos = [], 0
        while True:
            pos += int(rng.integers(max(1, step // 2), step * 2))
            if pos >= n:
                break
            cuts.append(pos)
        frames.extend(track_frames(REC.station, track, cuts))
    frames.sort(key=lambda f: f.end_ns)
    # Shuffle arrival within small blocks: every frame is late by well under the 1 s bound.
    order = []
    for i in range(0, len(frames), jitter + 1):
        block = frames[i : i + jitter + 1]
        order.extend(block[j] for j in rng.permutation(len(block)))
    streamed = replay_frames(order, CONFIG)
    assert comparable(streamed) == comparable(BATCH)
