"""Pipeline health: throughput, consumer lag, end-to-end latency, dead letters, analysis errors (``pipeline``)."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat, timeseries
from grafana_foundation_sdk.models.common import BigValueGraphMode
from grafana_foundation_sdk.models.dashboard import Dashboard

from kinesync.dashboards.common import DATASOURCE, TAGS, col, target, thresholds
from kinesync.dashboards.influxql import Column, Select
from kinesync.storage.lineprotocol import MEASUREMENT as METRICS
from kinesync.storage.pipeline import MEASUREMENT as PIPELINE

UID = "kinesync-pipeline"
BY_INSTANCE = ("instance",)


def _per_interval(*columns: Column, tags: tuple[str, ...] = BY_INSTANCE, measurement: str = PIPELINE) -> Select:
    return Select(measurement, columns, group_by_time="$__interval", group_by_tags=tags, fill="none")


def _series(title: str, unit: str, select: Select, alias: str, description: str) -> timeseries.Panel:
    return (
        timeseries.Panel().title(title).description(description).datasource(DATASOURCE).unit(unit)
        .span(12).height(8).with_target(target("A", select, alias))
    )


def _stat(title: str, unit: str, select: Select, steps: dash.ThresholdsConfig) -> stat.Panel:
    return (
        stat.Panel().title(title).datasource(DATASOURCE).unit(unit).span(6).height(4)
        .graph_mode(BigValueGraphMode.AREA).thresholds(steps).with_target(target("A", select))
    )


def build() -> Dashboard:
    # Grafana replaces $__interval_ms with the group-by interval in ms: sum per interval → per second.
    per_s = "* 1000 / $__interval_ms"
    return (
        dash.Dashboard("KineSync — pipeline health")
        .uid(UID)
        .tags([*TAGS, "pipeline"])
        .refresh("10s")
        .time("now-1h", "now")
        .timezone("browser")
        .with_panel(_stat("Windows written", "short", Select(PIPELINE, (col("points", "sum", "windows"),)),
                          thresholds((None, "blue"))))
        .with_panel(_stat("Dead letters", "short", Select(PIPELINE, (col("dead_letters", "sum", "dead letters"),)),
                          thresholds((None, "green"), (1, "red"))))
        .with_panel(_stat("Worst end-to-end latency", "ms",
                          Select(PIPELINE, (col("e2e_latency_ms_max", "max", "e2e max"),)),
                          thresholds((None, "green"), (1000, "orange"), (5000, "red"))))
        .with_panel(_stat("Worst consumer lag", "ms",
                          Select(PIPELINE, (col("consumer_lag_ms", "max", "consumer lag"),)),
                          thresholds((None, "green"), (2000, "orange"), (10000, "red"))))
        .with_panel(_series("Throughput", "suffix: /s", _per_interval(col("points", "sum", "windows/s", per_s)),
                            "$tag_instance", "Window metrics acknowledged by the database per second, per writer."))
        .with_panel(_series("Consumer lag (time)", "ms", _per_interval(col("consumer_lag_ms", "max", "consumer lag")),
                            "$tag_instance", "Age of the oldest message of a batch when the database acknowledged "
                            "it: how far the writer is behind the analyzers."))
        .with_panel(_series("End-to-end latency", "ms",
                            _per_interval(col("e2e_latency_ms_mean", "mean", "window end → stored, mean"),
                                          col("e2e_latency_ms_max", "max", "window end → stored, max"),
                                          col("write_latency_ms_mean", "mean", "emitted → stored, mean"), tags=()),
                            "$col", "Window end (facility time) to database acknowledgement, and the writer's "
                            "own share (analyzer emit to acknowledgement)."))
        .with_panel(_series("Cue latency p50/p99", "ms",
                            _per_interval(col("cue_latency_ms_p50", "mean", "rep end → cue shown, p50"),
                                          col("cue_latency_ms_p99", "max", "rep end → cue shown, p99"),
                                          col("cue_push_latency_ms_p99", "max", "rep end → cue sent, p99"), tags=()),
                            "$col", "Rep end (the owning window's end, facility time) to the cue painted in a "
                            "station view, as the views acknowledge it to the API (service=api points, one per "
                            "10 s); target p99 ≤ 250 ms."))
        .with_panel(_series("Dead letters", "short", _per_interval(col("dead_letters", "sum", "dead letters")),
                            "$tag_instance", "Messages sent to kinesync.deadletter (bad frames, bad metrics)."))
        .with_panel(_series("Analysis errors", "short", _per_interval(col("analysis_errors", "sum", "analysis errors")),
                            "$tag_instance", "Windows the analyzer could not analyse (an unexpected error, caught; "
                            "emitted flagged analysis_error). The API's /health counts them per station."))
        .with_panel(_series("Windows per station", "short",
                            _per_interval(col("window_end_ns", "count", "windows"), tags=("station",),
                                          measurement=METRICS),
                            "$tag_station", "Windows stored per station and interval: a station that stops "
                            "reporting drops to nothing."))
        .build()
    )
