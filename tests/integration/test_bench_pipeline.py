"""``kinesync bench``'s pipeline run on a tiny floor: real broker, analyzer, writer, API and station
views in headless Chromium. Checks that every hop is measured (not how fast: that is the benchmark's)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kinesync.bench.pipeline import run_pipeline
from tests.unit.test_api_wall_browser import _need_browser

pytestmark = pytest.mark.integration


async def test_the_pipeline_run_times_every_hop_up_to_the_painted_cue(tmp_path: Path) -> None:
    _need_browser()
    result = await run_pipeline(2, 11.0, 2.0, tmp_path, views=2)  # reps measured after every first rep
    assert result.cue_note is None, result.cue_note
    assert result.kept_up and result.reps >= 4
    assert result.cue_views == 2
    # every rep after the warm-up reached its view and was painted after its window ended
    assert len(result.cue_latency_ms) == len(result.rep_latency_ms) >= 4
    assert all(math.isfinite(v) and 0 < v < 10_000 for v in result.cue_latency_ms), result.cue_latency_ms
    # the view received each cue before painting it, and after the rep's window ended
    assert len(result.cue_received_ms) == len(result.cue_latency_ms)
    assert all(0 < r <= p for r, p in zip(result.cue_received_ms, result.cue_latency_ms, strict=True))
    # the same reps' metric at the probe in this run splits off the API hop and the socket
    assert len(result.cue_metric_ms) == len(result.cue_latency_ms)
    assert all(math.isfinite(v) and 0 < v < 10_000 for v in result.cue_metric_ms), result.cue_metric_ms
    # and the input hop of every rep of the run with views, to set beside the run without
    assert result.cue_run_input_ms == result.rep_input_ms
    # a cue is painted after the rep's record reached the topic, never before
    assert sorted(result.cue_latency_ms)[len(result.cue_latency_ms) // 2] > min(result.rep_latency_ms)
    assert result.storage_latency_ms and result.stored > 0


async def test_two_analyzers_share_the_floor_and_analyse_every_frame(tmp_path: Path) -> None:
    """As deployed on a 2-core server: two analyzer processes in one consumer group, started before the
    gateway, split the stations between them; every frame sent is analysed once, and every rep arrives."""
    result = await run_pipeline(4, 6.0, 2.0, tmp_path, analyzers=2)
    assert result.analyzers == 2
    assert len(result.stations_per_analyzer) == 2 and sum(result.stations_per_analyzer) == 4  # each station once
    assert result.frames_analyzed == result.frames_sent == result.frames_expected
    assert result.kept_up and result.partial_windows == 0
    assert result.reps >= 4 and result.rep_latency_ms  # a rep from every station
