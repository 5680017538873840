"""The ``pipeline`` and ``alerts`` measurements, beside the athletes' ``window_metrics``.

``pipeline``: one point per writer batch, for the pipeline-health dashboard.

Tags are ``service`` and ``instance`` only (a handful of series in total). The timestamp is the
database acknowledgement time of the batch: these points describe the pipeline, not the athletes,
so they are not replayed and need no window key.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kinesync.alerts.engine import RuleEngine
from kinesync.alerts.rules import AlertEvent
from kinesync.models import WindowMetric
from kinesync.storage.lineprotocol import escape_key, escape_string_field

MEASUREMENT = "pipeline"
# The analyzer's flag on a window it could not analyse (an unexpected error); it emits the window anyway.
ANALYSIS_ERROR_FLAG = "analysis_error"
TAG_KEYS: tuple[str, ...] = ("service", "instance")


@dataclass(frozen=True, slots=True)
class PipelineStats:
    """What one writer batch says about the pipeline. Latencies in ms, ``None`` when unknown."""

    service: str
    instance: str
    at_ns: int
    points: int
    batch_messages: int
    dead_letters: int
    # analyzer emit → database acknowledged: the writer's own share of the delay
    write_latency_ms_mean: float | None = None
    write_latency_ms_max: float | None = None
    # window end (facility time) → database acknowledged: what a wall screen lags behind the floor
    e2e_latency_ms_mean: float | None = None
    e2e_latency_ms_max: float | None = None
    # age of the oldest message of the batch at acknowledgement: consumer lag measured in time, because
    # offset lag needs end offsets, which not every Kafka-compatible broker reports correctly
    consumer_lag_ms: float | None = None
    # windows the analyzer could not analyse (flagged ``analysis_error``) and emitted anyway
    analysis_errors: int = 0


def batch_stats(
    metrics: Sequence[WindowMetric],
    *,
    service: str,
    instance: str,
    acked_at_ns: int,
    batch_messages: int,
    dead_letters: int,
) -> PipelineStats:
    """Summarise a batch the database has just acknowledged at ``acked_at_ns`` (wall clock)."""
    emitted = [m.emitted_at_ns for m in metrics if m.emitted_at_ns > 0]
    write_lat = [(acked_at_ns - t) / 1e6 for t in emitted]
    e2e = [(acked_at_ns - m.window_end_ns) / 1e6 for m in metrics]
    return PipelineStats(
        service=service,
        instance=instance,
        at_ns=acked_at_ns,
        points=len(metrics),
        batch_messages=batch_messages,
        dead_letters=dead_letters,
        write_latency_ms_mean=sum(write_lat) / len(write_lat) if write_lat else None,
        write_latency_ms_max=max(write_lat) if write_lat else None,
        e2e_latency_ms_mean=sum(e2e) / len(e2e) if e2e else None,
        e2e_latency_ms_max=max(e2e) if e2e else None,
        consumer_lag_ms=max(write_lat) if write_lat else None,
        analysis_errors=sum(1 for m in metrics if ANALYSIS_ERROR_FLAG in m.flags),
    )


def stats_to_line(s: PipelineStats) -> str:
    tags = ",".join(f"{k}={escape_key(getattr(s, k))}" for k in TAG_KEYS if getattr(s, k))
    fields = [
        f"points={s.points}i", f"batch_messages={s.batch_messages}i", f"dead_letters={s.dead_letters}i",
        f"analysis_errors={s.analysis_errors}i",
    ]
    for key in (
        "write_latency_ms_mean",
        "write_latency_ms_max",
        "e2e_latency_ms_mean",
        "e2e_latency_ms_max",
        "consumer_lag_ms",
    ):
        value = getattr(s, key)
        if value is not None and math.isfinite(value):
            fields.append(f"{key}={float(value)!r}")
    series = f"{MEASUREMENT},{tags}" if tags else MEASUREMENT
    return f"{series} {','.join(fields)} {int(s.at_ns)}"


ALERTS_MEASUREMENT = "alerts"
ALERT_TAG_KEYS: tuple[str, ...] = ("station", "athlete", "team", "exercise", "rule")


def alert_to_line(event: AlertEvent, metric: WindowMetric) -> str:
    """An alert event as a point keyed by station, rule and the window that triggered it.

    The timestamp is the triggering window's start (event time), so a replay rewrites the same point.
    """
    tag_values = {
        "station": event.station,
        "athlete": event.athlete,
        "team": metric.team,
        "exercise": metric.exercise,
        "rule": event.rule,
    }
    tags = ",".join(f"{k}={escape_key(v)}" for k in ALERT_TAG_KEYS if (v := tag_values[k]))
    firing = "true" if event.state == "firing" else "false"
    fields = f"state={escape_string_field(event.state)},firing={firing},message={escape_string_field(event.message)}"
    return f"{ALERTS_MEASUREMENT},{tags} {fields} {int(event.at_ns)}"


def batch_lines(
    rules: RuleEngine,
    metrics: Sequence[WindowMetric],
    *,
    service: str,
    instance: str,
    acked_at_ns: int,
    batch_messages: int,
    dead_letters: int,
) -> list[str]:
    """What a batch the database acknowledged at ``acked_at_ns`` adds beside its windows: the alert
    points it triggers, then its ``pipeline`` point.

    ``rules`` is the alerts service's rule engine (the writer runs it with the default rules), so the
    dashboards' alerts are the ones coaches get, per athlete; its points are keyed by the triggering
    window, so a replay rewrites them.
    """
    lines = [alert_to_line(ev, m) for m in metrics for ev in rules.observe(m)]
    stats = batch_stats(metrics, service=service, instance=instance, acked_at_ns=acked_at_ns,
                        batch_messages=batch_messages, dead_letters=dead_letters)
    lines.append(stats_to_line(stats))
    return lines
