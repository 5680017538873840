"""Per-rep records as ``kinesync analyze --json`` writes them, the session summary, and the table columns.

One definition for the command line and the session report, so both show the same numbers under
the same titles.
"""

from __future__ import annotations

import statistics

from kinesync.models import RepMetric

NS = 1_000_000_000

# (JSON key, column title, format) for the table; the JSON carries every field of RepMetric.
COLUMNS = (
    ("rep_start_s", "start s", "{:8.2f}"),
    ("lag_ms", "lag ms", "{:7.1f}"),
    ("onset_lag_ms", "onset ms", "{:8.1f}"),
    ("in_window", "in win", "{!s:>6}"),
    ("coupling", "coupl", "{:5.2f}"),
    ("peak_propulsive_force_n", "peak N", "{:7.0f}"),
    ("rfd_0_100_n_per_s", "RFD100 N/s", "{:10.0f}"),
    ("propulsive_impulse_n_s", "prop Ns", "{:7.1f}"),
    ("asymmetry_propulsive_impulse_pct", "asym %", "{:6.1f}"),
    ("transfer_index", "transfer", "{:8.2f}"),
    ("jump_height_flight_m", "jump m", "{:6.3f}"),
)


def rep_record(rep: RepMetric, t0_ns: int) -> dict[str, object]:
    """The rep's metrics, with its start and peak in seconds from ``t0_ns`` (the recording's start)."""
    data = rep.model_dump(exclude={"emitted_at_ns", "station", "athlete", "team", "session"})
    data["rep_start_s"] = round((rep.rep_start_ns - t0_ns) / NS, 4)
    data["rep_peak_s"] = round((rep.rep_peak_ns - t0_ns) / NS, 4)
    return data


def summarize(reps: list[dict[str, object]]) -> dict[str, object]:
    def values(key: str) -> list[float]:
        return [float(r[key]) for r in reps if r.get(key) is not None]

    lags = values("lag_ms")
    judged = [r["in_window"] for r in reps if r.get("in_window") is not None]
    summary: dict[str, object] = {
        "reps": len(reps), "reps_with_lag": len(lags), "flagged_reps": sum(bool(r["flags"]) for r in reps),
    }
    if lags:
        summary.update(lag_median_ms=statistics.median(lags), lag_mean_ms=statistics.fmean(lags))
    if judged:
        summary["in_window_share"] = sum(bool(j) for j in judged) / len(judged)
    for key in ("peak_propulsive_force_n", "rfd_0_100_n_per_s", "propulsive_impulse_n_s", "transfer_index",
                "jump_height_flight_m", "rsi_modified"):
        v = values(key)
        if v:
            summary[f"{key}_median"] = statistics.median(v)
    return summary
