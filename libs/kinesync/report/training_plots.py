"""Figures of the training analyses: the priming effect (a forest plot) and an athlete's trends."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from kinesync.report.plots import BAD, LEG, OK, PEC, _png, plt
from kinesync.training.load_velocity import AthleteLoadVelocity
from kinesync.training.priming import PrimingEffect
from kinesync.training.trends import Trends

NS = 1_000_000_000


def priming_forest(effect: PrimingEffect) -> bytes | None:
    """Hedges' g with its 95 % interval per metric, signed so that right of zero is the better outcome."""
    rows = [e for e in effect.effects if e.hedges_g is not None and e.g_ci_low is not None]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.6 * len(rows) + 1.4))
    for y, e in enumerate(reversed(rows)):
        colour = "#6b7280" if e.better is None else (OK if e.g_ci_low > 0 else BAD if e.g_ci_high < 0 else "#6b7280")
        ax.plot([e.g_ci_low, e.g_ci_high], [y, y], color=colour, lw=2)
        ax.scatter([e.hedges_g], [y], color=colour, s=40, zorder=3)
    ax.axvline(0.0, color="#111827", lw=1)
    ax.set_yticks(range(len(rows)), [e.label for e in reversed(rows)])
    ax.set_xlabel("Hedges' g, primed − baseline (95 % interval)")
    ax.set_title(f"Priming effect, session {effect.session} vs {effect.baseline}")
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def _weeks(t: Trends) -> list[datetime]:
    return [datetime.fromtimestamp(w.week_start_ns // NS, UTC) for w in t.weekly]


def trend_lag(t: Trends, target_ms: tuple[float, float] | None) -> bytes:
    """Weekly mean lag ± SD against the target band, with every session's mean as a dot."""
    fig, ax = plt.subplots(figsize=(9, 3.6))
    if target_ms is not None:
        ax.axhspan(*target_ms, color=OK, alpha=0.15, label=f"target {target_ms[0]:g}–{target_ms[1]:g} ms")
    xs = _weeks(t)
    mean = np.array([np.nan if w.lag_mean_ms is None else w.lag_mean_ms for w in t.weekly])
    sd = np.array([np.nan if w.lag_sd_ms is None else w.lag_sd_ms for w in t.weekly])
    ax.errorbar(xs, mean, yerr=sd, color=LEG, marker="o", capsize=4, label="weekly mean ± SD")
    sx = [datetime.fromtimestamp(s.start_ns // NS, UTC) for s in t.sessions if s.lag_mean_ms is not None]
    sy = [s.lag_mean_ms for s in t.sessions if s.lag_mean_ms is not None]
    ax.scatter(sx, sy, color=PEC, s=14, alpha=0.7, label="session mean", zorder=3)
    ax.set_ylabel("phase lag, ms")
    ax.set_title("Phase lag per week")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.autofmt_xdate()
    return _png(fig)


def trend_panels(t: Trends) -> bytes:
    """Weekly alignment, timing error, RFD 0–100 ms, transfer and bar velocity (where measured)."""
    series = [("alignment", "alignment (share in window)"), ("timing_error_ms", "|lag − centre|, ms"),
              ("rfd_0_100_n_per_s", "RFD 0–100 ms, N/s"), ("transfer_index", "transfer index"),
              ("mean_concentric_velocity_m_s", "mean bar velocity, m/s")]
    series = [s for s in series if any(getattr(w, s[0]) is not None for w in t.weekly)] or series[:1]
    fig, axes = plt.subplots(len(series), 1, figsize=(9, 2.0 * len(series) + 0.6), sharex=True, squeeze=False)
    xs = _weeks(t)
    for ax, (key, label) in zip(axes[:, 0], series, strict=True):
        ys = [np.nan if getattr(w, key) is None else getattr(w, key) for w in t.weekly]
        ax.plot(xs, ys, marker="o", color=LEG)
        ax.set_ylabel(label, fontsize=8)
        ax.grid(alpha=0.3)
    axes[0, 0].set_title("Weekly means")
    fig.autofmt_xdate()
    return _png(fig)


def load_velocity_plot(lv: AthleteLoadVelocity) -> bytes | None:
    """Best MCV of every set against its load, the fitted line out to the minimal velocity threshold
    and the estimated 1RM."""
    if not lv.points:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.8))
    loads = np.array([p.load_kg for p in lv.points])
    mcv = np.array([p.best_mcv_m_s for p in lv.points])
    ax.scatter(loads, mcv, color=LEG, s=22, alpha=0.6, label="best rep of each set", zorder=3)
    if lv.fit is not None:
        ax.scatter(lv.fit.loads_kg, lv.fit.best_mcv_m_s, facecolors="none", edgecolors=PEC, s=70,
                   label="fitted (fastest set per load)", zorder=4)
        top = lv.one_rm_kg if lv.one_rm_kg is not None else float(loads.max())
        xs = np.linspace(0.0, max(top, float(loads.max())) * 1.05, 50)
        r2 = "" if lv.fit.r_squared is None else f", R² = {lv.fit.r_squared:.3f}"
        ax.plot(xs, lv.fit.intercept_m_s + lv.fit.slope_m_s_per_kg * xs, color=PEC, lw=1.5,
                label=f"MCV = {lv.fit.intercept_m_s:.3f} {lv.fit.slope_m_s_per_kg:+.5f}·load{r2}")
    if lv.minimal_velocity_m_s is not None:
        ax.axhline(lv.minimal_velocity_m_s, color=BAD, lw=1, ls="--",
                   label=f"minimal velocity threshold {lv.minimal_velocity_m_s:.2f} m/s")
    if lv.one_rm_kg is not None and lv.minimal_velocity_m_s is not None:
        ax.scatter([lv.one_rm_kg], [lv.minimal_velocity_m_s], color=OK, marker="*", s=160, zorder=5,
                   label=f"estimated 1RM {lv.one_rm_kg:.1f} kg")
    ax.set_xlabel("external load, kg")
    ax.set_ylabel("mean concentric velocity, m/s")
    ax.set_title(f"Load–velocity profile, {lv.exercise} ({len(lv.sessions)} sessions)")
    ax.set_ylim(bottom=0.0)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)
