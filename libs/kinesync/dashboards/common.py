"""Pieces every dashboard shares: the datasource, template variables, field-config helpers."""

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DynamicConfigValue,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableRefresh,
    VariableSort,
)

from kinesync.dashboards.influxql import Column, InfluxQL, Select, ShowTagValues, TagMatch
from kinesync.storage.lineprotocol import MEASUREMENT as METRICS

# Fixed uid, matched by deploy/grafana/provisioning/datasources/influxdb.yaml: dashboards refer to the
# datasource by uid, so they work on any Grafana that has our provisioning.
DATASOURCE = DataSourceRef(type_val="influxdb", uid="kinesync-influxdb")
TAGS = ["kinesync"]

# The filters every athlete-facing dashboard offers, in dependency order (each narrows the next).
FILTER_TAGS: tuple[str, ...] = ("team", "exercise", "athlete")


def target(ref_id: str, select: Select, alias: str | None = None, *, table: bool = False) -> InfluxQL:
    return InfluxQL(ref_id, select, DATASOURCE, alias, "table" if table else "time_series")


def tag_variable(name: str, label: str, narrowed_by: tuple[str, ...], *, multi: bool = True) -> dash.QueryVariable:
    """A variable listing the values of tag ``name`` in ``window_metrics``, narrowed by earlier ones.

    "All" is sent as ``.*``, which also matches points without the tag (InfluxQL compares an absent
    tag as the empty string), so a station with no team still shows under team = All.
    """
    query = ShowTagValues(METRICS, name, tuple(TagMatch(t, t) for t in narrowed_by)).render()
    var = (
        dash.QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_CASE_INSENSITIVE_ASC)
        .multi(multi)
        .include_all(multi)
    )
    if multi:
        var = var.all_value(".*")
    return var


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return dash.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(v, c) for v, c in steps])


def value_map(mapping: dict[str, tuple[str, str]]) -> list[ValueMap]:
    return [ValueMap({k: ValueMappingResult(text=t, color=c) for k, (t, c) in mapping.items()})]


def prop(key: str, value: object) -> DynamicConfigValue:
    return DynamicConfigValue(key, value)


def metric_filters(*extra: TagMatch) -> tuple[TagMatch, ...]:
    return (*(TagMatch(t, t) for t in FILTER_TAGS), *extra)


def col(field: str, func: str | None = None, alias: str | None = None, scale: str = "") -> Column:
    return Column(field, func, alias, scale)  # type: ignore[arg-type]
