"""Per-rep feedback cues: "on time", "early by X ms", "late by X ms", "uncertain", or "no timing" with the reason.

Pure: a rep record in, a cue out. The cue is judged against the window that judged the rep (its
``target_low_ms``/``target_high_ms`` and ``target_source``), so the athlete hears the same verdict
the metrics store. Early means the chest fired too soon after the legs (lag below the window),
late too long after (lag above it); X is the distance to the nearest window edge, rounded to whole
ms and at least 1 (a lag 0.3 ms outside is out, and "early by 0 ms" would contradict itself).

Uncertain: where the rep carries ``lag_se_ms``, its 95 % interval lag ± 1.96·lag_se_ms that straddles
an edge of the window gives "uncertain" instead of a verdict the data cannot back. Records without
``lag_se_ms`` are judged on the point estimate alone, as before.

Set-level lag: the mean lag of the current set's reps with a 95 % interval (``set_lag``), set
membership by ``same_set`` (docs/metrics.md, "Lag uncertainty and set-level lag").

Rep end: the end of the data the rep was measured on (``RepMetric.data_end_ns``: the owning window's
end, later for a heavy rep whose lift outlasted it), the moment the analyzer has every sample it needs
to judge the rep; cue latency is measured from there (docs/metrics.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from kinesync.models import RepMetric, TargetSource

CueKind = Literal["on_time", "early", "late", "uncertain", "no_timing"]

Z95 = 1.959963984540054  # two-sided 95 % quantile of the normal distribution
SET_GAP_S = 60.0  # reps further apart than this (peak to peak) start a new set when the plan does not say
# Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom.
_T95 = (12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
        2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
        2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423)

# Flags that explain a missing lag, in the words a coach at the rack understands.
_REASONS: tuple[tuple[str, str], ...] = (
    ("gap:emg", "EMG data gap"),
    ("flat:", "an EMG channel is flat (electrode off?)"),
    ("gap:", "an EMG channel has a gap"),
    ("no_pec_activity", "no chest activity"),
    ("no_lag_peak", "no clear timing peak"),
)


class SetLag(BaseModel):
    """The mean lag of one set's reps with its 95 % interval (docs/metrics.md)."""

    model_config = ConfigDict(extra="forbid")

    block_index: int | None = Field(None, description="plan block of the set (None: set found by gaps)")
    set_index: int | None = Field(None, description="plan set within the block (None: set found by gaps)")
    first_rep_peak_ns: int = Field(description="peak of the set's first rep, facility time, ns")
    reps: int = Field(description="reps of the set so far, with or without a lag")
    n: int = Field(description="reps with a lag: the mean's sample size")
    mean_ms: float = Field(description="mean lag of the set's reps, ms")
    half_ms: float | None = Field(None, description="half-width of the 95 % interval, ms (None: one rep, no SE)")
    low_ms: float | None = Field(None, description="mean - half_ms")
    high_ms: float | None = Field(None, description="mean + half_ms")
    se_within_ms: float | None = Field(None, description="sqrt(mean of lag_se_ms^2 / n): the reps' own errors, ms")
    se_between_ms: float | None = Field(None, description="sample SD of the lags / sqrt(n) (n >= 2), ms")
    kind: CueKind = Field(description="the set interval against the window: on_time, early, late or uncertain")
    target_low_ms: float = Field(description="window of the set's latest rep, ms")
    target_high_ms: float


class Cue(BaseModel):
    """One rep's cue, as pushed to the station view and to WebSocket listeners."""

    model_config = ConfigDict(extra="forbid")

    station: str
    athlete: str | None = None
    exercise: str | None = None
    session: str | None = None
    rep_peak_ns: int = Field(description="the rep's key (leg-drive peak, facility time), ns")
    rep_end_ns: int = Field(description="end of the owning window: when the rep could be judged, ns")
    kind: CueKind
    text: str = Field(description='"on time", "early by 12 ms", "late by 7 ms", "uncertain" or "no timing"')
    off_ms: int | None = Field(
        None, description="distance of the lag outside the window, ms: negative early, positive late, 0 inside "
        "(for uncertain, of the point estimate)")
    reason: str | None = Field(None, description="why there is no timing (kind no_timing)")
    lag_ms: float | None = None
    lag_se_ms: float | None = Field(None, description="standard error of the lag, ms (None: not estimated)")
    lag_half_ms: float | None = Field(None, description="half-width of the lag's 95 % interval, 1.96·lag_se_ms")
    set_lag: SetLag | None = Field(None, description="the current set's mean lag with its 95 % interval")
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


def judge(
    lag_ms: float | None, low_ms: float, high_ms: float, half_ms: float | None = None
) -> tuple[CueKind, int | None, str]:
    """(kind, signed ms outside the window, text) for one lag against [low_ms, high_ms].

    ``half_ms`` is the half-width of the lag's 95 % interval (1.96·lag_se_ms for a rep, the set
    interval for a set mean). When the open interval (lag - half, lag + half) contains an edge of
    the window, the verdict is "uncertain" (the signed distance is still the point estimate's). No
    ``half_ms`` (None, non-finite, <= 0) judges the point estimate alone.
    """
    if lag_ms is None or not math.isfinite(lag_ms):
        return "no_timing", None, "no timing"
    if low_ms <= lag_ms <= high_ms:
        off = 0
    elif lag_ms < low_ms:
        off = -max(1, round(low_ms - lag_ms))
    else:
        off = max(1, round(lag_ms - high_ms))
    if half_ms is not None and math.isfinite(half_ms) and half_ms > 0:
        lo, hi = lag_ms - half_ms, lag_ms + half_ms
        if lo < low_ms < hi or lo < high_ms < hi:
            return "uncertain", off, "uncertain"
    if off == 0:
        return "on_time", 0, "on time"
    if off < 0:
        return "early", off, f"early by {-off} ms"
    return "late", off, f"late by {off} ms"


def rep_se_ms(rep: RepMetric) -> float | None:
    """The rep's ``lag_se_ms`` when usable (finite, >= 0, with a lag), else None."""
    se = rep.lag_se_ms
    if rep.lag_ms is None or not math.isfinite(rep.lag_ms) or se is None or not math.isfinite(se) or se < 0:
        return None
    return se


def rep_half_ms(rep: RepMetric) -> float | None:
    """Half-width of the rep's 95 % lag interval, 1.96·lag_se_ms; None without a usable SE."""
    se = rep_se_ms(rep)
    return None if se is None else Z95 * se


def t95(df: int) -> float:
    """Two-sided 95 % quantile of Student's t with ``df`` >= 1 degrees of freedom."""
    if df < 1:
        raise ValueError("df must be >= 1")
    if df <= len(_T95):
        return _T95[df - 1]
    z = Z95  # Cornish-Fisher expansion, good to 1e-4 beyond 30 degrees of freedom
    return z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2)


def same_set(prev: RepMetric, rep: RepMetric, *, gap_s: float = SET_GAP_S) -> bool:
    """Whether ``rep`` continues the set of ``prev`` (the station's previous rep).

    A new set starts with another athlete, session or exercise (an assignment change). Where both
    reps carry a plan position, the position decides (block and set index), whatever the pause.
    Otherwise a pause of more than ``gap_s`` between the two reps' peaks starts a new set.
    """
    if (prev.athlete, prev.session, prev.exercise) != (rep.athlete, rep.session, rep.exercise):
        return False
    if prev.set_index is not None or rep.set_index is not None:
        return (prev.block_index, prev.set_index) == (rep.block_index, rep.set_index)
    return abs(rep.rep_peak_ns - prev.rep_peak_ns) <= gap_s * 1e9


def set_lag(reps: Iterable[RepMetric]) -> SetLag | None:
    """Mean lag of one set's reps with its 95 % interval; None when no rep has a lag.

    With n reps carrying a lag x_i, of which those with a standard error carry se_i:
      within  = sqrt(mean(se_i^2) / n)    (= sqrt(sum se_i^2) / n when every rep has one): the SE of the
                                           mean if the reps measured one constant lag;
      between = s / sqrt(n), s the sample SD of the x_i (n >= 2): the SE of the mean if the true lag
                varies from rep to rep (s contains that variation and the measurement error);
      half    = max(1.96 · within, t(0.975, n - 1) · between).
    The larger of the two is the conservative choice: the between-rep term alone is unreliable with a
    few reps (it can come out near zero by chance), the within term alone ignores real rep-to-rep
    variation. Student's t for the sample-SD term, as its SD is itself estimated from n reps.
    """
    reps = list(reps)
    if not reps:
        return None
    lags = [r.lag_ms for r in reps if r.lag_ms is not None and math.isfinite(r.lag_ms)]
    n = len(lags)
    if n == 0:
        return None
    mean = math.fsum(lags) / n
    ses = [se for r in reps if (se := rep_se_ms(r)) is not None]
    within = math.sqrt(math.fsum(se * se for se in ses) / len(ses) / n) if ses else None
    between = None
    if n >= 2:
        sd = math.sqrt(math.fsum((x - mean) ** 2 for x in lags) / (n - 1))
        between = sd / math.sqrt(n)
    halves = [h for h in (Z95 * within if within is not None else None,
                          t95(n - 1) * between if between is not None else None) if h is not None]
    half = max(halves) if halves else None
    last = reps[-1]
    kind, _, _ = judge(mean, last.target_low_ms, last.target_high_ms, half)
    return SetLag(
        block_index=last.block_index if last.set_index is not None else None, set_index=last.set_index,
        first_rep_peak_ns=reps[0].rep_peak_ns, reps=len(reps), n=n, mean_ms=round(mean, 1),
        half_ms=None if half is None else round(half, 1),
        low_ms=None if half is None else round(mean - half, 1),
        high_ms=None if half is None else round(mean + half, 1),
        se_within_ms=None if within is None else round(within, 2),
        se_between_ms=None if between is None else round(between, 2),
        kind=kind, target_low_ms=last.target_low_ms, target_high_ms=last.target_high_ms,
    )


class SetTracker:
    """The current set of one station: reps in arrival order, a rep redelivered replaces its copy."""

    def __init__(self, *, gap_s: float = SET_GAP_S) -> None:
        self.gap_s = gap_s
        self.reps: dict[int, RepMetric] = {}
        self.last: RepMetric | None = None

    def add(self, rep: RepMetric) -> SetLag | None:
        """Take the station's next rep; the summary of its set, None for an old rep of an earlier set."""
        if rep.rep_peak_ns in self.reps:
            self.reps[rep.rep_peak_ns] = rep  # redelivered: the same rep, counted once
        elif self.last is not None and rep.rep_peak_ns < self.last.rep_peak_ns:
            if not same_set(self.last, rep, gap_s=self.gap_s):
                return None  # an earlier set's rep, redelivered late: the current set stays
            self.reps[rep.rep_peak_ns] = rep
        else:
            if self.last is None or not same_set(self.last, rep, gap_s=self.gap_s):
                self.reps = {}
            self.reps[rep.rep_peak_ns] = rep
            self.last = rep
        return set_lag(sorted(self.reps.values(), key=lambda r: r.rep_peak_ns))


def cue_for(rep: RepMetric, *, window_s: float = 2.0, sent_at_ns: int = 0, set_lag: SetLag | None = None) -> Cue:
    """The cue of ``rep``; ``window_s`` gives the rep end for records that do not carry it; ``set_lag``
    is the current set's summary (the cue hub tracks sets), passed through."""
    half = rep_half_ms(rep)
    kind, off, text = judge(rep.lag_ms, rep.target_low_ms, rep.target_high_ms, half)
    end = rep.data_end_ns or rep.window_end_ns
    if end is None:
        end = rep.window_start_ns + round(window_s * 1e9)
    return Cue(
        station=rep.station, athlete=rep.athlete, exercise=rep.exercise, session=rep.session,
        rep_peak_ns=rep.rep_peak_ns, rep_end_ns=end, kind=kind, text=text, off_ms=off,
        reason=no_timing_reason(rep.flags) if kind == "no_timing" else None,
        lag_ms=None if rep.lag_ms is None else round(rep.lag_ms, 1),
        lag_se_ms=None if half is None else round(half / Z95, 1),
        lag_half_ms=None if half is None else round(half, 1), set_lag=set_lag,
        target_low_ms=rep.target_low_ms, target_high_ms=rep.target_high_ms, target_source=rep.target_source,
        emitted_at_ns=rep.emitted_at_ns, sent_at_ns=sent_at_ns,
    )
