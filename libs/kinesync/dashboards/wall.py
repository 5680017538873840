"""The facility wall: one tile per station, readable from 5 m, meant for ``?kiosk``.

A tile is one stat panel repeated for every selected station, with five big values side by side:
phase lag (coloured by the default 80-120 ms target band), in window (IN / OUT from the athlete's
own band), alignment score, force transfer index and the last alert (ALERT / ok).
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import common as cb
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import stat
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    BigValueJustifyMode,
    BigValueTextMode,
    VizOrientation,
)
from grafana_foundation_sdk.models.dashboard import Dashboard

from kinesync.dashboards.common import (
    DATASOURCE,
    TAGS,
    col,
    metric_filters,
    prop,
    tag_variable,
    target,
    thresholds,
    value_map,
)
from kinesync.dashboards.influxql import Select, TagMatch
from kinesync.storage.lineprotocol import MEASUREMENT as METRICS
from kinesync.storage.pipeline import ALERTS_MEASUREMENT

UID = "kinesync-wall"
TILES_PER_ROW = 4
STATION = TagMatch("station", "station")


def _last(ref: str, field: str, alias: str, measurement: str = METRICS) -> object:
    select = Select(measurement, (col(field, "last", alias),), metric_filters(STATION))
    return target(ref, select, alias)


def station_tile() -> stat.Panel:
    return (
        stat.Panel()
        .title("$station")
        .description("Latest values of the station in the time range. Lag colour: default 80-120 ms band; "
                     "In window: the athlete's own band.")
        .datasource(DATASOURCE)
        .repeat("station")
        .repeat_direction("h")
        .max_per_row(TILES_PER_ROW)
        .height(12)
        .span(24 // TILES_PER_ROW)
        .with_target(_last("A", "lag_ms", "Lag"))
        .with_target(_last("B", "in_window", "In window"))
        .with_target(_last("C", "alignment", "Alignment"))
        .with_target(_last("D", "transfer_index", "Transfer"))
        .with_target(_last("E", "state", "Alert", ALERTS_MEASUREMENT))
        .reduce_options(cb.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
        # Auto stacks the five values as rows in a tall tile: one large number per line.
        .orientation(VizOrientation.AUTO)
        .text_mode(BigValueTextMode.VALUE_AND_NAME)
        .color_mode(BigValueColorMode.BACKGROUND)
        .graph_mode(BigValueGraphMode.NONE)
        .justify_mode(BigValueJustifyMode.CENTER)
        # Fixed sizes: Grafana's auto sizing shrinks text on dense walls; these read from 5 m on a 55" screen.
        .text(cb.VizTextDisplayOptions().title_size(22).value_size(44))
        .no_value("–")
        .thresholds(thresholds((None, "text")))
        .override_by_query("A", [
            prop("unit", "ms"), prop("decimals", 0),
            prop("thresholds", thresholds((None, "red"), (80, "green"), (120.5, "red")).build()),
        ])
        .override_by_query("B", [
            prop("mappings", value_map({"true": ("IN", "green"), "false": ("OUT", "red")})),
        ])
        .override_by_query("C", [
            prop("unit", "percentunit"), prop("decimals", 0), prop("min", 0), prop("max", 1),
            prop("thresholds", thresholds((None, "red"), (0.5, "orange"), (0.8, "green")).build()),
        ])
        .override_by_query("D", [
            prop("unit", "percentunit"), prop("decimals", 0), prop("min", 0), prop("max", 1),
            prop("thresholds", thresholds((None, "orange"), (0.5, "green")).build()),
        ])
        .override_by_query("E", [
            prop("mappings", value_map({"firing": ("ALERT", "red"), "resolved": ("ok", "green")})),
        ])
    )


def build() -> Dashboard:
    return (
        dash.Dashboard("KineSync — facility wall")
        .uid(UID)
        .tags([*TAGS, "wall"])
        .description("One tile per station. Open with ?kiosk on wall screens.")
        .refresh("5s")
        .time("now-10m", "now")
        .timezone("browser")
        .readonly()
        .timepicker(dash.TimePicker().refresh_intervals(["5s", "10s", "30s", "1m"]))
        .with_variable(tag_variable("team", "Team", ()))
        .with_variable(tag_variable("exercise", "Exercise", ("team",)))
        .with_variable(tag_variable("athlete", "Athlete", ("team", "exercise")))
        .with_variable(tag_variable("station", "Station", ("team", "exercise", "athlete")))
        .with_panel(station_tile())
        .build()
    )
