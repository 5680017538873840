"""Per-rep feedback cues: "on time", "early by X ms", "late by X ms", or "no timing" with the reason.

Pure: a rep record in, a cue out. The cue is judged against the window that judged the rep (its
``target_low_ms``/``target_high_ms`` and ``target_source``), so the athlete hears the same verdict
the metrics store. Early means the chest fired too soon after the legs (lag below the window),
late too long after (lag above it); X is the distance to the nearest window edge, rounded to whole
ms and at least 1 (a lag 0.3 ms outside is out, and "early by 0 ms" would contradict itself).

Rep end: the end of the owning window (``RepMetric.window_end_ns``), the moment the analyzer has
every sample it needs to judge the rep; cue latency is measured from there (docs/metrics.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kinesync.models import RepMetric, TargetSource

CueKind = Literal["on_time", "early", "late", "no_timing"]

# Flags that explain a missing lag, in the words a coach at the rack understands.
_REASONS: tuple[tuple[str, str], ...] = (
    ("gap:emg", "EMG data gap"),
    ("flat:", "an EMG channel is flat (electrode off?)"),
    ("gap:", "an EMG channel has a gap"),
    ("no_pec_activity", "no chest activity"),
    ("no_lag_peak", "no clear timing peak"),
)


class Cue(BaseModel):
    """One rep's cue, as pushed to the station view and to WebSocket listeners."""

    station: str
    athlete: str | None = None
    exercise: str | None = None
    session: str | None = None
    rep_peak_ns: int = Field(description="the rep's key (leg-drive peak, facility time), ns")
    rep_end_ns: int = Field(description="end of the owning window: when the rep could be judged, ns")
    kind: CueKind
    text: str = Field(description='"on time", "early by 12 ms", "late by 7 ms" or "no timing"')
    off_ms: int | None = Field(None, description="distance outside the window, ms: negative early, positive late")
    reason: str | None = Field(None, description="why there is no timing (kind no_timing)")
    lag_ms: float | None = None
    target_low_ms: float
    target_high_ms: float
    target_source: TargetSource = "fixed"
    emitted_at_ns: int = Field(0, description="wall clock when the analyzer emitted the rep, ns")
    sent_at_ns: int = Field(0, description="wall clock when the API pushed the cue, ns")


def no_timing_reason(flags: list[str]) -> str:
    for prefix, reason in _REASONS:
        if any(f.startswith(prefix) for f in flags):
            return reason
    return "no lag measured"


def judge(lag_ms: float | None, low_ms: float, high_ms: float) -> tuple[CueKind, int | None, str]:
    """(kind, signed ms outside the window, text) for one lag against [low_ms, high_ms]."""
    if lag_ms is None:
        return "no_timing", None, "no timing"
    if low_ms <= lag_ms <= high_ms:
        return "on_time", 0, "on time"
    if lag_ms < low_ms:
        off = max(1, round(low_ms - lag_ms))
        return "early", -off, f"early by {off} ms"
    off = max(1, round(lag_ms - high_ms))
    return "late", off, f"late by {off} ms"


def cue_for(rep: RepMetric, *, window_s: float = 2.0, sent_at_ns: int = 0) -> Cue:
    """The cue of ``rep``; ``window_s`` gives the rep end for records that do not carry it."""
    kind, off, text = judge(rep.lag_ms, rep.target_low_ms, rep.target_high_ms)
    end = rep.window_end_ns if rep.window_end_ns is not None else rep.window_start_ns + round(window_s * 1e9)
    return Cue(
        station=rep.station, athlete=rep.athlete, exercise=rep.exercise, session=rep.session,
        rep_peak_ns=rep.rep_peak_ns, rep_end_ns=end, kind=kind, text=text, off_ms=off,
        reason=no_timing_reason(rep.flags) if kind == "no_timing" else None,
        lag_ms=None if rep.lag_ms is None else round(rep.lag_ms, 1),
        target_low_ms=rep.target_low_ms, target_high_ms=rep.target_high_ms, target_source=rep.target_source,
        emitted_at_ns=rep.emitted_at_ns, sent_at_ns=sent_at_ns,
    )
