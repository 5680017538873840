"""A small typed InfluxQL query class, and the Grafana target that carries it.

grafana-foundation-sdk has no InfluxDB query builder, so this composes the few statement shapes the
dashboards need (SELECT with aggregates, tag filters bound to template variables, GROUP BY time) and
emits them as raw InfluxQL targets. ``interpolate`` does what Grafana does to a raw query before it
sends it (template variables, ``$timeFilter``, ``$__interval``), so tests can run every panel query
against a real InfluxDB.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

Aggregate = Literal["mean", "median", "max", "min", "sum", "count", "last", "first", "spread"]
Fill = Literal["none", "null", "previous", "linear"]
ResultFormat = Literal["time_series", "table"]


def quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True, slots=True)
class Column:
    """One selected expression: ``func("field")`` or a bare field, times an optional factor, with an alias.

    ``scale`` is appended verbatim (``* 100``, ``* 1000 / $__interval_ms``); keep it to literals and
    Grafana's interval macros.
    """

    field: str
    func: Aggregate | None = None
    alias: str | None = None
    scale: str = ""

    def render(self) -> str:
        expr = quote_ident(self.field) if self.func is None else f"{self.func}({quote_ident(self.field)})"
        if self.scale:
            expr = f"{expr} {self.scale}"
        return f"{expr} AS {quote_ident(self.alias)}" if self.alias else expr


@dataclass(frozen=True, slots=True)
class TagMatch:
    """``"tag" =~ /^$variable$/``: the shape Grafana expands for single, multi and All values."""

    tag: str
    variable: str

    def render(self) -> str:
        return f"{quote_ident(self.tag)} =~ /^${self.variable}$/"


@dataclass(frozen=True, slots=True)
class Select:
    measurement: str
    columns: tuple[Column, ...]
    where: tuple[TagMatch, ...] = ()
    group_by_time: str | None = None  # "$__interval" or a duration literal
    group_by_tags: tuple[str, ...] = ()
    fill: Fill | None = None
    limit: int | None = None
    order_desc: bool = False

    def render(self) -> str:
        cols = ", ".join(c.render() for c in self.columns)
        conditions = [w.render() for w in self.where] + ["$timeFilter"]
        sql = f"SELECT {cols} FROM {quote_ident(self.measurement)} WHERE {' AND '.join(conditions)}"
        groups = []
        if self.group_by_time:
            groups.append(f"time({self.group_by_time})")
        groups.extend(quote_ident(t) for t in self.group_by_tags)
        if groups:
            sql += " GROUP BY " + ", ".join(groups)
        if self.fill:
            sql += f" fill({self.fill})"
        if self.order_desc:
            sql += " ORDER BY time DESC"
        if self.limit is not None:
            sql += f" LIMIT {self.limit}"
        return sql

    def fields(self) -> tuple[str, ...]:
        return tuple(c.field for c in self.columns)


@dataclass(frozen=True, slots=True)
class ShowTagValues:
    """``SHOW TAG VALUES`` for a template variable, optionally narrowed by earlier variables."""

    measurement: str
    key: str
    where: tuple[TagMatch, ...] = ()

    def render(self) -> str:
        sql = f"SHOW TAG VALUES FROM {quote_ident(self.measurement)} WITH KEY = {quote_ident(self.key)}"
        if self.where:
            sql += " WHERE " + " AND ".join(w.render() for w in self.where)
        return sql


class InfluxQLQuery(cogvariants.Dataquery):
    """The JSON of a raw-mode InfluxQL target of Grafana's InfluxDB datasource."""

    def __init__(self, ref_id: str, select: Select, datasource: DataSourceRef, alias: str | None = None,
                 result_format: ResultFormat = "time_series") -> None:
        self.ref_id = ref_id
        self.select = select
        self.datasource = datasource
        self.alias = alias
        self.result_format = result_format

    def to_json(self) -> dict[str, object]:
        payload: dict[str, object] = {
            "refId": self.ref_id,
            "datasource": self.datasource,
            "query": self.select.render(),
            "rawQuery": True,
            "resultFormat": self.result_format,
        }
        if self.alias:
            payload["alias"] = self.alias
        return payload


@dataclass
class InfluxQL(cogbuilder.Builder[InfluxQLQuery]):
    """Builder form, for ``panel.with_target(...)``."""

    ref_id: str
    select: Select
    datasource: DataSourceRef
    alias: str | None = None
    result_format: ResultFormat = "time_series"

    def build(self) -> InfluxQLQuery:
        return InfluxQLQuery(self.ref_id, self.select, self.datasource, self.alias, self.result_format)


# What Grafana does to a raw InfluxQL query before sending it.

_VAR = re.compile(r"\$(\w+)|\$\{(\w+)(?::\w+)?\}")


def _regex_value(values: Sequence[str], all_value: str | None) -> str:
    if all_value is not None:
        return all_value
    escaped = [re.sub(r"([\\/^$.|?*+()\[\]{}-])", r"\\\1", v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def interpolate(
    query: str,
    variables: Mapping[str, Sequence[str] | None],
    *,
    start_ms: int,
    end_ms: int,
    interval_ms: int,
) -> str:
    """Expand template variables (None = "All", which our variables map to ``.*``) and time macros.

    Values are regex-escaped, as Grafana does for multi-value and include-All variables inside
    ``=~ /.../``.
    """
    interval = f"{interval_ms}ms"
    out = query.replace("$timeFilter", f"time >= {start_ms}ms and time <= {end_ms}ms")
    out = out.replace("$__interval_ms", str(interval_ms)).replace("$__interval", interval)

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in variables:
            raise KeyError(f"no value for template variable ${name} in: {query}")
        values = variables[name]
        return _regex_value(values or (), ".*" if values is None else None)

    return _VAR.sub(sub, out)
