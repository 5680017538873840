from __future__ import annotations

import math

from kinesync.models import RepMetric, WindowMetric
from kinesync.storage.lineprotocol import TAG_KEYS, escape_key, metric_to_line, rep_to_lines


def full_metric(**overrides: object) -> WindowMetric:
    values: dict[str, object] = dict(
        station="s01",
        athlete="a17",
        team="red",
        exercise="push_press",
        session="sess-3",
        window_start_ns=1_700_000_000_000_000_000,
        window_end_ns=1_700_000_002_000_000_000,
        partial=False,
        rep_peak_ns=1_700_000_001_200_000_000,
        lag_ms=97.5,
        coupling=0.82,
        in_window=True,
        target_low_ms=80.0,
        target_high_ms=120.0,
        alignment=0.7,
        body_weight_n=812.25,
        force_onset_ns=1_700_000_000_900_000_000,
        rfd_0_100_n_per_s=5400.0,
        peak_propulsive_force_n=1900.5,
        emitted_at_ns=1_700_000_004_000_000_123,
    )
    values.update(overrides)
    return WindowMetric.model_validate(values)


def test_full_metric_exact_line() -> None:
    assert metric_to_line(full_metric()) == (
        "window_metrics,station=s01,athlete=a17,team=red,exercise=push_press,session=sess-3 "
        "lag_ms=97.5,coupling=0.82,alignment=0.7,body_weight_n=812.25,rfd_0_100_n_per_s=5400.0,"
        "peak_propulsive_force_n=1900.5,target_low_ms=80.0,target_high_ms=120.0,in_window=true,partial=false,"
        "window_end_ns=1700000002000000000i,force_onset_ns=1700000000900000000i,"
        "rep_peak_ns=1700000001200000000i,emitted_at_ns=1700000004000000123i,target_source=\"fixed\" "
        "1700000000000000000"
    )


def test_none_and_empty_are_omitted() -> None:
    m = WindowMetric(station="s02", athlete="", window_start_ns=10, window_end_ns=20, partial=True)
    assert metric_to_line(m) == (
        "window_metrics,station=s02 target_low_ms=80.0,target_high_ms=120.0,partial=true,"
        "window_end_ns=20i,emitted_at_ns=0i,target_source=\"fixed\" 10"
    )


def test_non_finite_floats_are_skipped() -> None:
    line = metric_to_line(full_metric(lag_ms=math.nan, coupling=math.inf))
    assert "lag_ms" not in line and "coupling" not in line
    assert "alignment=0.7" in line


def test_escaping_of_tags() -> None:
    m = full_metric(station="Rack 1,West=A", athlete="O'Neil, J.", team="a\\", exercise="x\ny", session=None)
    series, fields, ts = _split(metric_to_line(m))
    assert series == ("window_metrics,station=Rack\\ 1\\,West\\=A,athlete=O'Neil\\,\\ J.,team=a\\\\,exercise=x\\ny")
    assert "\n" not in metric_to_line(m)
    assert ts == "1700000000000000000"
    assert fields.startswith("lag_ms=97.5,")
    assert escape_key("a b,c=d") == "a\\ b\\,c\\=d"


def test_only_low_cardinality_tags() -> None:
    series, _, _ = _split(metric_to_line(full_metric()))
    keys = [kv.split("=", 1)[0] for kv in series.split(",")[1:]]
    assert keys == list(TAG_KEYS)
    for unbounded in ("rep_peak_ns", "window_end_ns", "emitted_at_ns", "force_onset_ns"):
        assert unbounded not in series


def test_deterministic_timestamp_is_window_start() -> None:
    a = full_metric()
    b = full_metric(emitted_at_ns=a.emitted_at_ns + 5_000_000_000, lag_ms=99.0)
    assert metric_to_line(a) == metric_to_line(full_metric())
    # a replay re-emits later with other values; the point key (series + timestamp) stays the same
    (sa, _, ta), (sb, _, tb) = _split(metric_to_line(a)), _split(metric_to_line(b))
    assert (sa, ta) == (sb, tb) == (sa, str(a.window_start_ns))


def test_floats_stay_floats() -> None:
    line = metric_to_line(full_metric(lag_ms=100, peak_propulsive_force_n=2000))
    assert "lag_ms=100.0," in line and "peak_propulsive_force_n=2000.0," in line


def _split(line: str) -> tuple[str, str, str]:
    """Split on unescaped spaces (good enough for lines without string fields)."""
    parts: list[str] = []
    current = ""
    escaped = False
    for ch in line:
        if escaped:
            current += ch
            escaped = False
        elif ch == "\\":
            current += ch
            escaped = True
        elif ch == " ":
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    assert len(parts) == 3, parts
    return parts[0], parts[1], parts[2]


def test_rep_lines_carry_the_lag_uncertainty_as_float_fields() -> None:
    rep = RepMetric(station="s01", athlete="a17", rep_peak_ns=1_700_000_001_200_000_000,
                    rep_start_ns=1_700_000_000_900_000_000, window_start_ns=1_700_000_000_000_000_000,
                    lag_ms=97.5, lag_se_ms=6.0, lag_p_in_window=0.93, envelope_delay_ms=104.25)
    fields = rep_to_lines(rep)[0].split(" ")[1].split(",")
    assert {"lag_ms=97.5", "lag_se_ms=6.0", "lag_p_in_window=0.93", "envelope_delay_ms=104.25"} <= set(fields)
    bare = rep_to_lines(rep.model_copy(update={"lag_se_ms": None, "lag_p_in_window": float("nan")}))[0]
    assert "lag_se_ms" not in bare and "lag_p_in_window" not in bare  # absent, never NaN
