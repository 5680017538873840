"""An athlete's load–velocity profile and the one-repetition maximum (1RM) it predicts.

Pure function, no I/O. The mean concentric velocity (MCV) falls almost linearly with the load
(González-Badillo & Sánchez-Medina 2010); the profile is the least-squares line of MCV on load
through the athlete's best (fastest) rep at each load, and the estimated 1RM is the load at which
the line reaches the exercise's minimal velocity threshold, the MCV of a true 1RM (Jidovtseff et al.
2011 for the line; thresholds from González-Badillo & Sánchez-Medina 2010, Sánchez-Medina et al.
2017). Definitions: docs/metrics.md, "Bar velocity".

``athlete_load_velocity`` builds the profile over sessions from stored reps: one point per set (its
load and its fastest rep's MCV), the line through the best set at each load, the 1RM where it meets
the threshold; with too little data it says why instead of failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from kinesync.dsp.velocity import STANDARD_GRAVITY_M_S2
from kinesync.models import RepMetric
from kinesync.training.plan_models import DEFAULT_SET_GAP_S

PlanLoad = Callable[[str, int], "float | None"]  # (session id, block index) -> planned load, kg

# MCV of a 1RM, m/s: bench press ≈ 0.17, full squat ≈ 0.30 (the references above).
MINIMAL_VELOCITY_THRESHOLD_M_S: dict[str, float] = {"bench_press": 0.17, "back_squat": 0.30}


@dataclass(frozen=True)
class LoadVelocityProfile:
    slope_m_s_per_kg: float  # negative for a real profile
    intercept_m_s: float  # MCV extrapolated to no load, m/s
    loads_kg: tuple[float, ...]  # the distinct loads used, ascending
    best_mcv_m_s: tuple[float, ...]  # the best MCV at each of them
    r_squared: float | None  # None with exactly two loads (a line through two points fits exactly)
    minimal_velocity_m_s: float | None
    one_rm_kg: float | None  # None without a threshold or with a non-falling line


def load_velocity_profile(reps: Iterable[tuple[float, float]], exercise: str | None = None,
                          minimal_velocity_m_s: float | None = None) -> LoadVelocityProfile | None:
    """The profile of (load kg, MCV m/s) pairs; None with fewer than two distinct loads.

    ``minimal_velocity_m_s`` overrides the exercise's threshold (``MINIMAL_VELOCITY_THRESHOLD_M_S``).
    """
    best: dict[float, float] = {}
    for load, mcv in reps:
        if load is None or mcv is None or not (np.isfinite(load) and np.isfinite(mcv)) or mcv <= 0.0:
            continue
        best[float(load)] = max(best.get(float(load), 0.0), float(mcv))
    if len(best) < 2:
        return None
    loads = np.array(sorted(best))
    mcv = np.array([best[x] for x in loads])
    slope, intercept = np.polyfit(loads, mcv, 1)
    r2 = None
    if loads.size > 2:
        ss_tot = float(np.sum((mcv - mcv.mean()) ** 2))
        ss_res = float(np.sum((mcv - (slope * loads + intercept)) ** 2))
        r2 = 1.0 - ss_res / ss_tot if ss_tot > 0.0 else None
    threshold = minimal_velocity_m_s
    if threshold is None and exercise is not None:
        threshold = MINIMAL_VELOCITY_THRESHOLD_M_S.get(exercise)
    one_rm = None
    if threshold is not None and slope < 0.0:
        one_rm = float((threshold - intercept) / slope)
    return LoadVelocityProfile(
        slope_m_s_per_kg=float(slope), intercept_m_s=float(intercept), loads_kg=tuple(float(x) for x in loads),
        best_mcv_m_s=tuple(float(x) for x in mcv), r_squared=r2, minimal_velocity_m_s=threshold, one_rm_kg=one_rm,
    )


# ---- an athlete's profile over sessions, from stored reps -------------------------------------------

# Exercises whose concentric phase ends at takeoff: their mean concentric power carries the kinetic
# energy at takeoff, so the load cannot be read back from it (kinesync.streaming.bar).
_TAKEOFF_EXERCISES = frozenset({"squat_jump", "countermovement_jump"})
# MVT references, for the API and the report.
MVT_SOURCES: dict[str, str] = {
    "bench_press": "González-Badillo & Sánchez-Medina 2010 (MCV at 1RM, bench press ≈ 0.17 m/s)",
    "back_squat": "Sánchez-Medina et al. 2017 (MCV at 1RM, full squat ≈ 0.30 m/s)",
}
LOAD_RESOLUTION_KG = 0.01  # loads read back from the power are rounded to this, kg


class SetPoint(BaseModel):
    """One set of one session: its load and its best (fastest) rep's MCV."""

    session: str | None = Field(description="the session id the set was lifted in")
    block_index: int | None = Field(None, description="0-based block of the session plan, when one was followed")
    set_index: int | None = Field(None, description="0-based set within the block")
    start_ns: int = Field(description="facility time of the set's first rep, ns")
    load_kg: float = Field(description="external load on the bar, kg")
    load_source: Literal["plan", "power", "given"] = Field(
        description="plan: the session plan's block load; power: read back from the analyzer's mean concentric "
        "power, load = P / (g·MCV) (exact for lifts, which start and end at rest); given: supplied by the caller")
    best_mcv_m_s: float = Field(description="fastest mean concentric velocity of the set, m/s")
    reps: int = Field(description="reps of the set with a mean concentric velocity")


class LoadVelocityFit(BaseModel):
    slope_m_s_per_kg: float = Field(description="MCV change per kg; negative for a real profile")
    intercept_m_s: float = Field(description="MCV extrapolated to no load, m/s")
    r_squared: float | None = Field(description="of the line through the fitted points; null with exactly two loads")
    loads_kg: list[float] = Field(description="the distinct loads fitted, ascending")
    best_mcv_m_s: list[float] = Field(description="the best set MCV at each of them, m/s")


class AthleteLoadVelocity(BaseModel):
    """An athlete's load–velocity profile for one exercise over sessions (docs/metrics.md, "Load–velocity")."""

    athlete: str
    exercise: str
    points: list[SetPoint] = Field(description="every set with a known load and a measured MCV, in time order")
    fit: LoadVelocityFit | None = Field(description="least-squares line of the best MCV per load on the load")
    minimal_velocity_m_s: float | None = Field(description="MCV taken as the 1RM's, m/s")
    minimal_velocity_source: str | None = Field(description="where that threshold comes from")
    one_rm_kg: float | None = Field(description="load at which the line reaches the minimal velocity, kg")
    sessions: list[str] = Field(description="the sessions the points come from, in time order")
    reason: str | None = Field(None, description="why the fit or the 1RM is missing; null when both are there")
    reps_without_load: int = Field(0, description="reps with an MCV but no known load (not used)")


def rep_load_kg(rep: RepMetric, plan_load_kg: float | None = None) -> tuple[float, str] | None:
    """The external load of a rep and where it comes from: the plan's block load, else the load the
    analyzer computed the mean concentric power with (P = load·g·MCV for a lift from rest to rest)."""
    if plan_load_kg is not None and plan_load_kg > 0.0:
        return float(plan_load_kg), "plan"
    mcv, power = rep.mean_concentric_velocity_m_s, rep.mean_concentric_power_w
    if (mcv is None or power is None or not mcv > 0.0 or not power > 0.0
            or (rep.exercise or "") in _TAKEOFF_EXERCISES):
        return None
    load = power / (STANDARD_GRAVITY_M_S2 * mcv)
    return round(load / LOAD_RESOLUTION_KG) * LOAD_RESOLUTION_KG, "power"


def set_points(reps: Iterable[RepMetric], exercise: str, *, plan_load: PlanLoad | None = None,
               set_gap_s: float = DEFAULT_SET_GAP_S) -> tuple[list[SetPoint], int]:
    """Per set, its load and best MCV, from the athlete's reps of ``exercise`` (any order).

    A set is the plan's set (session, block, set) when the reps carry a plan position, else the
    reps of one session at one load with pauses of at most ``set_gap_s``. ``plan_load(session,
    block_index)`` gives a planned load (kg) or None. Returns (points, reps with an MCV but no load).
    """
    groups: dict[tuple, dict] = {}
    open_set: dict[tuple, tuple[int, int]] = {}  # (session, load) -> (last rep ns, set number)
    gap_ns = round(set_gap_s * 1e9)
    unloaded = 0
    for rep in sorted(reps, key=lambda r: r.rep_peak_ns):
        if rep.exercise != exercise or rep.mean_concentric_velocity_m_s is None:
            continue
        mcv = float(rep.mean_concentric_velocity_m_s)
        if not (np.isfinite(mcv) and mcv > 0.0):
            continue
        planned = None
        if plan_load is not None and rep.session is not None and rep.block_index is not None:
            planned = plan_load(rep.session, rep.block_index)
        load = rep_load_kg(rep, planned)
        if load is None:
            unloaded += 1
            continue
        if rep.block_index is not None and rep.set_index is not None:
            key: tuple = (rep.session, "plan", rep.block_index, rep.set_index)
        else:
            last = open_set.get((rep.session, load[0]))
            number = 0 if last is None else last[1] + (rep.rep_peak_ns - last[0] > gap_ns)
            open_set[(rep.session, load[0])] = (rep.rep_peak_ns, number)
            key = (rep.session, "time", load[0], number)
        g = groups.setdefault(key, {"session": rep.session, "block_index": rep.block_index,
                                    "set_index": rep.set_index, "start_ns": rep.rep_peak_ns, "load_kg": load[0],
                                    "load_source": load[1], "best_mcv_m_s": mcv, "reps": 0})
        g["best_mcv_m_s"] = max(g["best_mcv_m_s"], mcv)
        g["reps"] += 1
    points = sorted((SetPoint(**g) for g in groups.values()), key=lambda p: p.start_ns)
    return points, unloaded


def athlete_load_velocity(athlete: str, exercise: str, reps: Iterable[RepMetric], *,
                          plan_load: PlanLoad | None = None, minimal_velocity_m_s: float | None = None,
                          set_gap_s: float = DEFAULT_SET_GAP_S) -> AthleteLoadVelocity:
    """The athlete's profile for ``exercise`` from their stored reps over any number of sessions.

    Never raises for thin data: with fewer than two distinct loads ``fit`` and ``one_rm_kg`` are None
    and ``reason`` says why; without a threshold for the exercise the fit stands and the 1RM is None.
    """
    points, unloaded = set_points(reps, exercise, plan_load=plan_load, set_gap_s=set_gap_s)
    sessions = list(dict.fromkeys(p.session for p in points if p.session is not None))
    threshold = minimal_velocity_m_s if minimal_velocity_m_s is not None else MINIMAL_VELOCITY_THRESHOLD_M_S.get(
        exercise)
    source = ("given by the caller" if minimal_velocity_m_s is not None else MVT_SOURCES.get(exercise))
    out = AthleteLoadVelocity(athlete=athlete, exercise=exercise, points=points, fit=None,
                              minimal_velocity_m_s=threshold, minimal_velocity_source=source, one_rm_kg=None,
                              sessions=sessions, reps_without_load=unloaded)
    distinct = {p.load_kg for p in points}
    if len(distinct) < 2:
        why = (f"{len(distinct)} distinct load{'s' if len(distinct) != 1 else ''} with a measured mean concentric "
               "velocity; a load–velocity line needs at least 2")
        if unloaded:
            why += f" ({unloaded} reps have an MCV but no known load: give the session plan a load)"
        out.reason = why
        return out
    profile = load_velocity_profile(((p.load_kg, p.best_mcv_m_s) for p in points), exercise, threshold)
    assert profile is not None  # two distinct loads, all MCVs positive
    out.fit = LoadVelocityFit(slope_m_s_per_kg=profile.slope_m_s_per_kg, intercept_m_s=profile.intercept_m_s,
                              r_squared=profile.r_squared, loads_kg=list(profile.loads_kg),
                              best_mcv_m_s=list(profile.best_mcv_m_s))
    out.one_rm_kg = profile.one_rm_kg
    if threshold is None:
        out.reason = (f"no minimal velocity threshold for {exercise} (known: "
                      f"{', '.join(sorted(MINIMAL_VELOCITY_THRESHOLD_M_S))}); pass one to get a 1RM")
    elif profile.one_rm_kg is None:
        out.reason = "the MCV does not fall with the load: no 1RM can be extrapolated"
    return out
