"""An athlete's load–velocity profile and estimated 1RM over sessions (``/api/v1``).

Read-only; the viewer (or admin) token, like the other analyses. Reps come from the rep store (the
database the writer fills), the athlete and the sessions' plans (their block loads) from the
registry. The computation is ``kinesync.training.load_velocity.athlete_load_velocity``; method and
thresholds: docs/metrics.md, "Load–velocity profile and 1RM".
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query

from kinesync.api.deps import AthleteId, RegistryDep, RepStoreDep, ViewerDep
from kinesync.api.routes.analysis import MAX_WEEKS, athlete_reps
from kinesync.api.schemas.errors import ANALYSIS_ERRORS
from kinesync.facility.models import Exercise
from kinesync.facility.registry import NotFound
from kinesync.training.load_velocity import AthleteLoadVelocity, athlete_load_velocity

WEEK_NS = 7 * 86_400 * 1_000_000_000

router = APIRouter(prefix="/api/v1")


@router.get("/athletes/{athlete_id}/load-velocity/{exercise}", response_model=AthleteLoadVelocity,
            responses=ANALYSIS_ERRORS, tags=["analysis"])
async def get_load_velocity(
    _: ViewerDep, reg: RegistryDep, store: RepStoreDep, athlete_id: AthleteId, exercise: Exercise,
    weeks: Annotated[int | None, Query(ge=1, le=MAX_WEEKS, description="only the last N weeks (all when absent)")]
    = None,
    minimal_velocity_m_s: Annotated[float | None, Query(
        gt=0.0, le=2.0, description="MCV taken as the 1RM's, m/s (default: the exercise's published threshold)")]
    = None,
) -> AthleteLoadVelocity:
    """Per set the load and the fastest rep's mean concentric velocity, the least-squares line of the
    best MCV per load on the load (with R²), the minimal velocity threshold and the estimated 1RM,
    and the sessions the points come from. With fewer than two distinct loads (or no threshold for
    the exercise) the fit or the 1RM is null and ``reason`` says why."""
    since = time.time_ns() - weeks * WEEK_NS if weeks is not None else None
    name, reps = await athlete_reps(reg, store, athlete_id, since_ns=since)
    # Planned loads: the session plan's block load, per (session, block); sessions looked up once.
    plans: dict[str, object] = {}
    for session in {r.session for r in reps if r.session is not None and r.block_index is not None}:
        try:
            plans[session] = (await reg.get_session(int(session))).plan
        except (NotFound, ValueError):
            plans[session] = None

    def plan_load(session: str, block_index: int) -> float | None:
        plan = plans.get(session)
        blocks = getattr(plan, "blocks", ())
        if not 0 <= block_index < len(blocks):
            return None
        block = blocks[block_index]
        return block.load_kg if block.exercise == exercise.value else None

    return athlete_load_velocity(name, exercise.value, reps, plan_load=plan_load,
                                 minimal_velocity_m_s=minimal_velocity_m_s)
