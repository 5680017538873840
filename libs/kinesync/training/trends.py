"""An athlete's trends across sessions and weeks: lag, timing, alignment, RFD, transfer, bar velocity.

Pure: reps in, per-week and per-session summaries out (docs/metrics.md, "Trends"). Weeks are ISO
weeks (Monday 00:00 UTC to the next Monday); a report over N weeks covers the N weeks ending with
the one that holds ``until_ns``, empty weeks included so gaps show as gaps.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

import numpy as np
from pydantic import BaseModel, Field

from kinesync.models import RepMetric
from kinesync.training.priming import timing_score_ms

NS = 1_000_000_000
WEEK_NS = 7 * 86_400 * NS


class Summary(BaseModel):
    reps: int = 0
    reps_with_lag: int = 0
    lag_mean_ms: float | None = None
    lag_sd_ms: float | None = None
    timing_error_ms: float | None = Field(None, description="mean |lag − target window centre|, ms")
    alignment: float | None = Field(None, description="share of reps with a lag that were in the target window")
    rfd_0_100_n_per_s: float | None = None
    peak_rfd_n_per_s: float | None = None
    transfer_index: float | None = None
    propulsive_impulse_n_s: float | None = None
    peak_propulsive_force_n: float | None = None
    jump_height_flight_m: float | None = None
    rsi_modified: float | None = None
    mean_concentric_velocity_m_s: float | None = None
    peak_concentric_velocity_m_s: float | None = None


class WeekTrend(Summary):
    week_start_ns: int = Field(description="Monday 00:00 UTC of the ISO week, ns")
    week: str = Field(description="ISO week, e.g. 2026-W45")
    sessions: int = 0


class SessionTrend(Summary):
    session: str
    start_ns: int = Field(description="first rep's start, ns")


class Trends(BaseModel):
    athlete: str
    weeks: int
    since_ns: int
    until_ns: int
    target_ms: tuple[float, float] | None = Field(None, description="target window of the latest rep, ms")
    weekly: list[WeekTrend]
    sessions: list[SessionTrend]


def _mean(values: Iterable[float | None]) -> float | None:
    xs = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.mean(xs)) if xs else None


def summarize(reps: Sequence[RepMetric]) -> dict[str, object]:
    lags = [r.lag_ms for r in reps if r.lag_ms is not None]
    judged = [r.in_window for r in reps if r.in_window is not None]
    timing = [timing_score_ms(r) for r in reps]
    return {
        "reps": len(reps), "reps_with_lag": len(lags),
        "lag_mean_ms": _mean(lags), "lag_sd_ms": float(np.std(lags, ddof=1)) if len(lags) > 1 else None,
        "timing_error_ms": None if (t := _mean(timing)) is None else -t,
        "alignment": sum(judged) / len(judged) if judged else None,
        "rfd_0_100_n_per_s": _mean(r.rfd_0_100_n_per_s for r in reps),
        "peak_rfd_n_per_s": _mean(r.peak_rfd_n_per_s for r in reps),
        "transfer_index": _mean(r.transfer_index for r in reps),
        "propulsive_impulse_n_s": _mean(r.propulsive_impulse_n_s for r in reps),
        "peak_propulsive_force_n": _mean(r.peak_propulsive_force_n for r in reps),
        "jump_height_flight_m": _mean(r.jump_height_flight_m for r in reps),
        "rsi_modified": _mean(r.rsi_modified for r in reps),
        # getattr: bar velocity is a newer RepMetric field
        "mean_concentric_velocity_m_s": _mean(getattr(r, "mean_concentric_velocity_m_s", None) for r in reps),
        "peak_concentric_velocity_m_s": _mean(getattr(r, "peak_concentric_velocity_m_s", None) for r in reps),
    }


def week_start_ns(t_ns: int) -> int:
    """Monday 00:00 UTC of the ISO week holding ``t_ns``."""
    day = datetime.fromtimestamp(t_ns // NS, UTC).date()
    monday = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(days=day.weekday())
    return int(monday.timestamp()) * NS


def trend_range_ns(weeks: int, until_ns: int) -> tuple[int, int]:
    """[first Monday, the Monday after the last week) of ``weeks`` ISO weeks ending with ``until_ns``'s, ns."""
    if weeks < 1:
        raise ValueError("weeks must be >= 1")
    return week_start_ns(until_ns) - (weeks - 1) * WEEK_NS, week_start_ns(until_ns) + WEEK_NS


def trends(athlete: str, reps: Sequence[RepMetric], weeks: int, until_ns: int) -> Trends:
    """Weekly and per-session summaries of ``reps`` over the ``weeks`` ISO weeks ending with ``until_ns``'s."""
    first, end = trend_range_ns(weeks, until_ns)
    inside = sorted((r for r in reps if first <= r.rep_peak_ns < end), key=lambda r: r.rep_peak_ns)
    weekly = []
    for k in range(weeks):
        lo = first + k * WEEK_NS
        week = [r for r in inside if lo <= r.rep_peak_ns < lo + WEEK_NS]
        iso = datetime.fromtimestamp(lo // NS, UTC).isocalendar()
        weekly.append(WeekTrend(week_start_ns=lo, week=f"{iso.year}-W{iso.week:02d}",
                                sessions=len({r.session for r in week}), **summarize(week)))
    by_session: dict[str, list[RepMetric]] = {}
    for r in inside:
        by_session.setdefault(r.session or "(none)", []).append(r)
    sessions = [SessionTrend(session=s, start_ns=min(r.rep_start_ns for r in rs), **summarize(rs))
                for s, rs in by_session.items()]
    sessions.sort(key=lambda s: s.start_ns)
    target = (inside[-1].target_low_ms, inside[-1].target_high_ms) if inside else None
    return Trends(athlete=athlete, weeks=weeks, since_ns=first, until_ns=end, target_ms=target, weekly=weekly,
                  sessions=sessions)
