"""Athlete detail: lag per rep against the target band, coupling, RFD, transfer, EMG envelopes, alerts."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.models.common import GraphDrawStyle, LineInterpolation, VisibilityMode
from grafana_foundation_sdk.models.dashboard import Dashboard

from kinesync.dashboards.common import DATASOURCE, TAGS, col, metric_filters, prop, tag_variable, target
from kinesync.dashboards.influxql import Select
from kinesync.storage.lineprotocol import MEASUREMENT as METRICS
from kinesync.storage.pipeline import ALERTS_MEASUREMENT

UID = "kinesync-athlete"
# Downsampled linear envelopes per muscle (see docs/storage.md); written by the analyzer.
ENVELOPE_MEASUREMENT = "emg_envelope"

FILTERS = metric_filters()


def _series(title: str, unit: str, *targets: object, width: int = 12, height: int = 8) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).datasource(DATASOURCE).unit(unit).span(width).height(height)
    for t in targets:
        panel = panel.with_target(t)  # type: ignore[arg-type]
    return panel.line_interpolation(LineInterpolation.SMOOTH).span_nulls(True)


def lag_panel() -> timeseries.Panel:
    reps = target("A", Select(METRICS, (col("lag_ms", None, "lag"),), FILTERS), "lag per rep")
    band = target(
        "B",
        Select(
            METRICS,
            (col("target_low_ms", "mean", "target low"), col("target_high_ms", "mean", "target high")),
            FILTERS, group_by_time="$__interval", fill="previous",
        ),
        "$col",
    )
    return (
        _series("Phase lag per rep vs target band", "ms", reps, band, width=24, height=10)
        .description("Pectoral envelope delay behind the leg drive, one point per rep; the band is the "
                     "athlete's target window.")
        .override_by_query("A", [
            prop("custom.drawStyle", GraphDrawStyle.POINTS), prop("custom.pointSize", 8),
            prop("color", {"mode": "fixed", "fixedColor": "blue"}),
        ])
        .override_by_name("target high", [
            prop("custom.fillBelowTo", "target low"), prop("custom.fillOpacity", 15),
            prop("color", {"mode": "fixed", "fixedColor": "green"}),
        ])
        .override_by_name("target low", [prop("color", {"mode": "fixed", "fixedColor": "green"})])
        .show_points(VisibilityMode.NEVER)
    )


def _trend(ref: str, field: str, alias: str) -> object:
    return target(ref, Select(METRICS, (col(field, "mean", alias),), FILTERS, group_by_time="$__interval",
                              fill="none"), alias)


def envelope_panel() -> timeseries.Panel:
    select = Select(ENVELOPE_MEASUREMENT, (col("envelope", "mean", "envelope"),), FILTERS,
                    group_by_time="$__interval", group_by_tags=("muscle",), fill="none")
    return _series("EMG envelopes (downsampled)", "short", target("A", select, "$tag_muscle"), width=24).description(
        "Linear envelopes per muscle, downsampled by the analyzer, averaged per interval."
    )


def alerts_panel() -> table.Panel:
    select = Select(ALERTS_MEASUREMENT, (col("state"), col("message")), FILTERS, order_desc=True, limit=50)
    return (
        table.Panel().title("Alerts").datasource(DATASOURCE).span(24).height(8)
        .with_target(target("A", select, table=True))
    )


def build() -> Dashboard:
    return (
        dash.Dashboard("KineSync — athlete detail")
        .uid(UID)
        .tags([*TAGS, "athlete"])
        .refresh("10s")
        .time("now-1h", "now")
        .timezone("browser")
        .with_variable(tag_variable("team", "Team", ()))
        .with_variable(tag_variable("exercise", "Exercise", ("team",)))
        .with_variable(tag_variable("athlete", "Athlete", ("team", "exercise"), multi=False))
        .with_panel(lag_panel())
        .with_panel(_series("Coupling and alignment", "percentunit",
                            _trend("A", "coupling", "coupling"), _trend("B", "alignment", "alignment")).min(0).max(1))
        .with_panel(_series("Force transfer index", "percentunit",
                            _trend("A", "transfer_index", "transfer")).min(0).max(1))
        .with_panel(_series("RFD 0-100 ms", "suffix: N/s", _trend("A", "rfd_0_100_n_per_s", "RFD 0-100 ms")))
        .with_panel(_series("Peak force", "forceN", _trend("A", "peak_force_n", "peak force")))
        .with_panel(envelope_panel())
        .with_panel(alerts_panel())
        .build()
    )
