"""An athlete's load–velocity profile and the one-repetition maximum (1RM) it predicts.

Pure function, no I/O. The mean concentric velocity (MCV) falls almost linearly with the load
(González-Badillo & Sánchez-Medina 2010); the profile is the least-squares line of MCV on load
through the athlete's best (fastest) rep at each load, and the estimated 1RM is the load at which
the line reaches the exercise's minimal velocity threshold, the MCV of a true 1RM (Jidovtseff et al.
2011 for the line; thresholds from González-Badillo & Sánchez-Medina 2010, Sánchez-Medina et al.
2017). Definitions: docs/metrics.md, "Bar velocity".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

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
