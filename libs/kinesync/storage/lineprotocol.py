"""WindowMetric → InfluxDB line protocol (1.x ``/write``, 2.x ``/api/v2/write``, VictoriaMetrics).

A point's identity in InfluxDB is measurement + tag set + timestamp. The timestamp is the window
start and the tags come from the record, so re-writing the same window replaces the point: a replay
after a crash or a consumer rebalance overwrites instead of duplicating.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from kinesync.models import RepMetric, WindowMetric

MEASUREMENT = "window_metrics"

# Only low-cardinality things people filter by. Rep numbers, timestamps and other ids go in fields:
# every distinct tag value creates a series, and series are what exhausts InfluxDB's memory.
TAG_KEYS: tuple[str, ...] = ("station", "athlete", "team", "exercise", "session")

FLOAT_FIELDS: tuple[str, ...] = (
    "lag_ms",
    "coupling",
    "alignment",
    "body_weight_n",
    "rfd_0_100_n_per_s",
    "peak_propulsive_force_n",
    "target_low_ms",
    "target_high_ms",
    "transfer_index",
    "mean_concentric_velocity_m_s",
)
BOOL_FIELDS: tuple[str, ...] = ("in_window", "partial")
INT_FIELDS: tuple[str, ...] = ("window_end_ns", "force_onset_ns", "rep_peak_ns", "emitted_at_ns")
# Lists of short codes, stored comma-joined as one string field (a tag would multiply series).
LIST_FIELDS: tuple[str, ...] = ("flags",)
# Short codes stored as string fields: which target window judged (fixed, personal or locked).
STRING_FIELDS: tuple[str, ...] = ("target_source",)

# Same table as influxdb-client, so the v1 and v2 write paths store identical keys. Newlines and tabs
# would end or split the line; backslash is doubled so a trailing one cannot escape the separator.
_ESCAPE_KEY = str.maketrans({"\\": "\\\\", ",": "\\,", " ": "\\ ", "=": "\\=", "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_ESCAPE_MEASUREMENT = str.maketrans({"\\": "\\\\", ",": "\\,", " ": "\\ ", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def escape_key(value: str) -> str:
    """Escape a tag key, tag value or field key."""
    return value.translate(_ESCAPE_KEY)


def escape_string_field(value: str) -> str:
    """A string field value, quoted; inside the quotes only the quote and backslash need escaping."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _format_float(value: float) -> str:
    # repr is the shortest string that round-trips exactly; a whole number still carries ".0", so the
    # field never flips to integer type (InfluxDB rejects type changes within a shard).
    return repr(float(value))


def _tags(m: WindowMetric | RepMetric) -> list[str]:
    tags = []
    for key in TAG_KEYS:
        value = getattr(m, key)
        # InfluxDB rejects empty tag values; an absent tag and an empty one mean the same to a query.
        if value is not None and value != "":
            tags.append(f"{key}={escape_key(value)}")
    return tags


def metric_to_line(m: WindowMetric) -> str:
    """One line (no trailing newline) for one window of one station."""
    tags = _tags(m)
    fields = []
    # getattr with a default: a field added to WindowMetric later is written as soon as it exists.
    for key in FLOAT_FIELDS:
        value = getattr(m, key, None)
        # NaN and Inf have no line-protocol spelling; a missing field is the honest encoding.
        if value is not None and math.isfinite(value):
            fields.append(f"{key}={_format_float(value)}")
    for key in BOOL_FIELDS:
        value = getattr(m, key)
        if value is not None:
            fields.append(f"{key}={'true' if value else 'false'}")
    for key in INT_FIELDS:
        value = getattr(m, key)
        if value is not None:
            fields.append(f"{key}={int(value)}i")
    for key in LIST_FIELDS:
        value = getattr(m, key, None)
        if value:
            fields.append(f"{key}={escape_string_field(','.join(value))}")
    for key in STRING_FIELDS:
        value = getattr(m, key, None)
        if value:
            fields.append(f"{key}={escape_string_field(value)}")

    series = ",".join([MEASUREMENT.translate(_ESCAPE_MEASUREMENT), *tags])
    # fields is never empty: window_end_ns, partial and the target band are always set.
    return f"{series} {','.join(fields)} {int(m.window_start_ns)}"


REP_MEASUREMENT = "reps"
ENVELOPE_MEASUREMENT = "emg_envelope"
# Tags of the reps measurement only: the plan block's kind (priming, working, control; three values), so
# dashboards can compare block kinds with GROUP BY.
REP_TAG_KEYS: tuple[str, ...] = ("block_kind",)
# Short codes of the reps measurement stored as string fields: the stronger side of an asymmetry.
REP_STRING_FIELDS: tuple[str, ...] = ("asymmetry_side",)
_REP_SKIP = frozenset({*TAG_KEYS, *REP_TAG_KEYS, "rep_peak_ns", "flags", "envelopes_uv", "envelope_t0_ns",
                       "envelope_step_ns"})


def _field(key: str, value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return f"{key}={'true' if value else 'false'}"
    if isinstance(value, int):
        return f"{key}={value}i"
    if isinstance(value, float):
        return f"{key}={_format_float(value)}" if math.isfinite(value) else None
    return None


def rep_to_lines(rep: RepMetric) -> list[str]:
    """A ``reps`` point at the rep's peak time, and its ``emg_envelope`` points (tag ``muscle``).

    Timestamps are the rep peak and the envelope samples' own times on a fixed grid, so a replay
    rewrites the same points.
    """
    tags = _tags(rep)
    fields = [f for key, value in rep.model_dump().items() if key not in _REP_SKIP and (f := _field(key, value))]
    if rep.flags:
        fields.append(f"flags={escape_string_field(','.join(rep.flags))}")
    for key in (*STRING_FIELDS, *REP_STRING_FIELDS):
        if value := getattr(rep, key, None):
            fields.append(f"{key}={escape_string_field(value)}")
    rep_tags = [f"{key}={escape_key(v)}" for key in REP_TAG_KEYS if (v := getattr(rep, key, None))]
    series = ",".join([REP_MEASUREMENT, *tags, *rep_tags])
    lines = [f"{series} {','.join(fields)} {int(rep.rep_peak_ns)}"]
    if rep.envelope_t0_ns is not None and rep.envelope_step_ns:
        for muscle, values in rep.envelopes_uv.items():
            env_series = ",".join([ENVELOPE_MEASUREMENT, *tags, f"muscle={escape_key(muscle)}"])
            for i, v in enumerate(values):
                if math.isfinite(v):
                    t = rep.envelope_t0_ns + i * rep.envelope_step_ns
                    lines.append(f"{env_series} envelope={_format_float(v)} {t}")
    return lines


def metrics_to_lines(metrics: Iterable[WindowMetric | RepMetric]) -> list[str]:
    lines: list[str] = []
    for m in metrics:
        if isinstance(m, RepMetric):
            lines.extend(rep_to_lines(m))
        else:
            lines.append(metric_to_line(m))
    return lines
