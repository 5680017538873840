"""Priming effect: working sets after a priming block against the athlete's unprimed baseline.

Pure: stored (or replayed) reps in, a comparison per metric out. Definitions, the choice of
baseline and references are in docs/metrics.md, "Priming effect".

- **Primed reps**: reps of the session in a ``working`` block that comes after its first
  ``priming`` block.
- **Baseline**: reps of ``control`` blocks before that priming block in the same session when there
  are any; otherwise the athlete's reps of up to ``max_baseline_sessions`` earlier sessions of the
  same exercise that had no priming block (reps without a plan, or in working/control blocks).
- Per metric: difference primed − baseline, Welch 95 % interval, Hedges' g. Every metric is signed
  so that a positive difference is the better outcome, except the raw lag, which has no better
  direction (the timing metric judges it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel, Field

from kinesync.models import RepMetric
from kinesync.training.stats import compare

MIN_REPS = 2  # per group, for a standard deviation


def timing_score_ms(rep: RepMetric) -> float | None:
    """−|lag − centre of the rep's target window|, ms: higher is better timing, 0 is dead centre."""
    if rep.lag_ms is None:
        return None
    return -abs(rep.lag_ms - (rep.target_low_ms + rep.target_high_ms) / 2.0)


def _in_window(rep: RepMetric) -> float | None:
    return None if rep.in_window is None else float(rep.in_window)


def _field(name: str) -> Callable[[RepMetric], float | None]:
    # getattr: per-rep bar velocity is a newer RepMetric field; the metric is left out while absent.
    return lambda rep: getattr(rep, name, None)


@dataclass(frozen=True)
class MetricDef:
    name: str
    unit: str
    value: Callable[[RepMetric], float | None]
    better: str | None  # "higher" or None (no better direction)
    label: str


METRICS: tuple[MetricDef, ...] = (
    MetricDef("timing_improvement_ms", "ms", timing_score_ms, "higher",
              "timing: reduction of |lag − window centre|"),
    MetricDef("lag_ms", "ms", _field("lag_ms"), None, "phase lag"),
    MetricDef("alignment", "share", _in_window, "higher", "alignment: share of reps in the target window"),
    MetricDef("rfd_0_100_n_per_s", "N/s", _field("rfd_0_100_n_per_s"), "higher",
              "RFD 0–100 ms from the start of propulsion"),
    MetricDef("braking_rfd_n_per_s", "N/s", _field("braking_rfd_n_per_s"), "higher", "braking RFD"),
    MetricDef("propulsive_impulse_n_s", "N·s", _field("propulsive_impulse_n_s"), "higher",
              "propulsive impulse (net of body weight)"),
    MetricDef("peak_propulsive_force_n", "N", _field("peak_propulsive_force_n"), "higher", "peak propulsive force"),
    MetricDef("jump_height_flight_m", "m", _field("jump_height_flight_m"), "higher", "jump height (flight time)"),
    MetricDef("rsi_modified", "m/s", _field("rsi_modified"), "higher", "RSI modified"),
    MetricDef("transfer_index", "share", _field("transfer_index"), "higher", "force transfer index"),
    MetricDef("mean_concentric_velocity_m_s", "m/s", _field("mean_concentric_velocity_m_s"), "higher",
              "mean concentric bar velocity"),
    MetricDef("peak_concentric_velocity_m_s", "m/s", _field("peak_concentric_velocity_m_s"), "higher",
              "peak concentric bar velocity"),
)


class MetricEffect(BaseModel):
    metric: str
    label: str
    unit: str
    better: str | None = Field(description="'higher' when a positive difference is the better outcome")
    n_primed: int
    n_baseline: int
    mean_primed: float
    mean_baseline: float
    sd_primed: float
    sd_baseline: float
    difference: float = Field(description="mean primed − mean baseline")
    ci_low: float = Field(description="95 % confidence interval of the difference (Welch t), lower end")
    ci_high: float
    df: float = Field(description="Welch–Satterthwaite degrees of freedom")
    hedges_g: float | None = Field(None, description="standardised difference with small-sample correction")
    g_ci_low: float | None = None
    g_ci_high: float | None = None
    excludes_zero: bool = Field(description="the confidence interval of the difference excludes 0")


class PrimingEffect(BaseModel):
    athlete: str | None
    session: str
    exercise: str | None
    baseline: str = Field(description="'control block' or 'earlier sessions'")
    baseline_sessions: list[str] = Field(default_factory=list)
    n_primed_reps: int
    n_baseline_reps: int
    effects: list[MetricEffect]
    notes: list[str] = Field(default_factory=list)

    def effect(self, metric: str) -> MetricEffect | None:
        return next((e for e in self.effects if e.metric == metric), None)


class NoPrimingComparison(LookupError):
    """The session has no priming block, no primed working reps, or no baseline."""


def split(session: str, reps: Sequence[RepMetric], max_baseline_sessions: int = 5
          ) -> tuple[list[RepMetric], list[RepMetric], str, list[str]]:
    """(primed reps, baseline reps, baseline kind, baseline sessions) from all of an athlete's reps."""
    own = sorted((r for r in reps if r.session == session), key=lambda r: r.rep_peak_ns)
    priming = [r.block_index for r in own if r.block_kind == "priming" and r.block_index is not None]
    if not priming:
        raise NoPrimingComparison(f"session {session} has no reps in a priming block")
    first = min(priming)
    primed = [r for r in own if r.block_kind == "working" and (r.block_index or 0) > first]
    if not primed:
        raise NoPrimingComparison(f"session {session} has no working-set reps after its priming block")
    control = [r for r in own if r.block_kind == "control" and (r.block_index or 0) < first]
    if control:
        return primed, control, "control block", [session]
    exercises = {r.exercise for r in primed}
    start = own[0].rep_peak_ns
    by_session: dict[str, list[RepMetric]] = {}
    for r in reps:
        if r.session is not None and r.session != session and r.rep_peak_ns < start and r.exercise in exercises:
            by_session.setdefault(r.session, []).append(r)
    unprimed = {s: rs for s, rs in by_session.items() if not any(r.block_kind == "priming" for r in rs)}
    latest = sorted(unprimed, key=lambda s: max(r.rep_peak_ns for r in unprimed[s]))[-max_baseline_sessions:]
    baseline = [r for s in latest for r in unprimed[s] if r.block_kind in (None, "working", "control")]
    if not baseline:
        raise NoPrimingComparison(
            f"no baseline for session {session}: no control block before its priming block and no earlier "
            "unprimed session of the same exercise")
    return primed, baseline, "earlier sessions", latest


def priming_effect(session: str, reps: Sequence[RepMetric], *, confidence: float = 0.95,
                   max_baseline_sessions: int = 5) -> PrimingEffect:
    """The priming effect of ``session`` from all of one athlete's reps (``reps``)."""
    primed, baseline, kind, sessions = split(session, reps, max_baseline_sessions)
    effects: list[MetricEffect] = []
    notes: list[str] = []
    for m in METRICS:
        a = [v for r in primed if (v := m.value(r)) is not None]
        b = [v for r in baseline if (v := m.value(r)) is not None]
        if len(a) < MIN_REPS or len(b) < MIN_REPS:
            if a or b:
                notes.append(f"{m.name}: too few reps with a value ({len(a)} primed, {len(b)} baseline)")
            continue
        c = compare(a, b, confidence)
        effects.append(MetricEffect(
            metric=m.name, label=m.label, unit=m.unit, better=m.better, n_primed=c.n_a, n_baseline=c.n_b,
            mean_primed=c.mean_a, mean_baseline=c.mean_b, sd_primed=c.sd_a, sd_baseline=c.sd_b,
            difference=c.difference, ci_low=c.ci_low, ci_high=c.ci_high, df=c.df, hedges_g=c.hedges_g,
            g_ci_low=c.g_ci_low, g_ci_high=c.g_ci_high, excludes_zero=c.excludes_zero,
        ))
    first = primed[0]
    return PrimingEffect(
        athlete=first.athlete, session=session, exercise=first.exercise, baseline=kind, baseline_sessions=sessions,
        n_primed_reps=len(primed), n_baseline_reps=len(baseline), effects=effects, notes=notes,
    )
