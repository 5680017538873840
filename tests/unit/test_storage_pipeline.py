"""The writer's ``pipeline`` point: one per batch, with the windows the analyzer could not analyse."""

from __future__ import annotations

from kinesync.alerts.config import DEFAULT_RULES
from kinesync.alerts.engine import RuleEngine
from kinesync.models import WindowMetric
from kinesync.storage.pipeline import PipelineStats, batch_lines, batch_stats, stats_to_line

T0 = 1_700_000_000_000_000_000
HOP = 250_000_000


def metric(station: str, i: int, flags: list[str] | None = None) -> WindowMetric:
    return WindowMetric(
        station=station, window_start_ns=T0 + i * HOP, window_end_ns=T0 + i * HOP + 2_000_000_000,
        emitted_at_ns=T0 + i * HOP + 2_100_000_000, flags=flags or [],
    )


def test_batch_counts_windows_flagged_analysis_error() -> None:
    batch = [
        metric("s01", 0),
        metric("s01", 1, ["analysis_error"]),
        metric("s02", 0, ["force_clipping"]),
        metric("s02", 1, ["force_clipping", "analysis_error"]),
    ]
    stats = batch_stats(batch, service="writer", instance="w1", acked_at_ns=T0 + 3_000_000_000,
                        batch_messages=5, dead_letters=1)
    assert stats.points == 4 and stats.analysis_errors == 2
    line = stats_to_line(stats)
    assert line.startswith("pipeline,service=writer,instance=w1 ")
    fields = dict(f.split("=", 1) for f in line.split(" ")[1].split(","))
    assert fields["analysis_errors"] == "2i"
    assert fields["points"] == "4i" and fields["dead_letters"] == "1i"


def test_a_clean_or_empty_batch_writes_zero() -> None:
    clean = batch_stats([metric("s01", 0)], service="writer", instance="w1", acked_at_ns=T0 + 3_000_000_000,
                        batch_messages=1, dead_letters=0)
    assert clean.analysis_errors == 0 and ",analysis_errors=0i" in stats_to_line(clean)
    empty = PipelineStats(service="", instance="", at_ns=5, points=0, batch_messages=0, dead_letters=0)
    assert stats_to_line(empty) == "pipeline points=0i,batch_messages=0i,dead_letters=0i,analysis_errors=0i 5"


def test_batch_lines_are_the_alerts_the_batch_fired_then_its_pipeline_point() -> None:
    out = [WindowMetric(station="s01", window_start_ns=T0 + i * HOP, window_end_ns=T0 + i * HOP + 2_000_000_000,
                        lag_ms=150.0, in_window=False) for i in range(5)]
    lines = batch_lines(RuleEngine(DEFAULT_RULES), out, service="writer", instance="w1", acked_at_ns=T0 + 9_000_000_000,
                        batch_messages=5, dead_letters=0)
    # out of the window in enough of the last five reps: the rule fires once, on the fifth window
    assert [line.split(" ")[0] for line in lines] == ["alerts,station=s01,rule=lag-drift",
                                                      "pipeline,service=writer,instance=w1"]
    assert lines[0].endswith(f" {T0 + 4 * HOP}")  # keyed by that window: a replay rewrites it
