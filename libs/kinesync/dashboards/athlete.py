"""Athlete detail: lag per rep against the target band, coupling, RFD, transfer, EMG envelopes, alerts."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import table, timeseries
from grafana_foundation_sdk.models.common import GraphDrawStyle, LineInterpolation, VisibilityMode
from grafana_foundation_sdk.models.dashboard import Dashboard

from kinesync.dashboards.common import DATASOURCE, TAGS, col, metric_filters, prop, tag_variable, target
from kinesync.dashboards.influxql import Select
from kinesync.storage.lineprotocol import MEASUREMENT as METRICS
from kinesync.storage.lineprotocol import REP_MEASUREMENT as REPS
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


def block_lag_panel() -> timeseries.Panel:
    """Every rep's lag, one series per plan block kind (priming, working, control; empty: no plan)."""
    select = Select(REPS, (col("lag_ms", None, "lag"),), FILTERS, group_by_tags=("block_kind",))
    return (
        _series("Plan blocks: lag per rep by block kind", "ms", target("A", select, "$tag_block_kind"), width=12)
        .description("Reps tagged with the kind of the session-plan block they belong to. The priming effect "
                     "with its confidence interval: the session report or GET /api/v1/athletes/{id}/priming.")
        .draw_style(GraphDrawStyle.POINTS).point_size(7)
    )


def block_table_panel() -> table.Panel:
    """Means per block kind over the time range: the raw numbers behind the priming comparison."""
    select = Select(REPS, (col("lag_ms", "mean", "lag"), col("rfd_0_100_n_per_s", "mean", "RFD 0-100 ms"),
                           col("transfer_index", "mean", "transfer"), col("alignment", "mean", "alignment")),
                    FILTERS, group_by_tags=("block_kind",))
    return (
        table.Panel().title("Plan blocks: means per block kind").datasource(DATASOURCE).span(12).height(8)
        .description("Mean lag, RFD 0-100 ms, transfer index and alignment of the reps of each block kind.")
        .with_target(target("A", select, table=True))
    )


def _weekly(ref: str, field: str, alias: str) -> object:
    # 1w buckets start on Thursdays (the epoch's weekday); the 4d offset makes them ISO weeks, as in the report.
    return target(ref, Select(REPS, (col(field, "mean", alias),), FILTERS, group_by_time="1w, 4d", fill="none"),
                  alias)


def trends_panel(title: str, unit: str, *targets: object) -> timeseries.Panel:
    # Its own 12-week range, whatever the dashboard's: trends are about weeks, the rest about now.
    return _series(title, unit, *targets, width=8).time_from("12w").draw_style(GraphDrawStyle.LINE).show_points(
        VisibilityMode.ALWAYS)


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
        .with_panel(_series("Peak propulsive force", "forceN",
                            _trend("A", "peak_propulsive_force_n", "peak propulsive force")))
        .with_panel(_series("Bar velocity (mean concentric)", "velocityms",
                            _trend("A", "mean_concentric_velocity_m_s", "mean concentric velocity")).min(0))
        .with_panel(envelope_panel())
        .with_panel(alerts_panel())
        .with_panel(block_lag_panel())
        .with_panel(block_table_panel())
        .with_panel(trends_panel("Trend: lag, weekly (12 weeks)", "ms", _weekly("A", "lag_ms", "lag")))
        .with_panel(trends_panel("Trend: alignment, weekly", "percentunit",
                                 _weekly("A", "alignment", "alignment")).min(0).max(1))
        .with_panel(trends_panel("Trend: RFD 0-100 ms, weekly", "suffix: N/s",
                                 _weekly("A", "rfd_0_100_n_per_s", "RFD 0-100 ms")))
        .build()
    )
