"""An athlete's priming effect and trends (``/api/v1``), computed on request from the stored reps.

Reps come from the rep store (a ``RepReader`` on the database the writer fills, SQLite or InfluxDB),
the athlete and the session from the registry. Read-only: the viewer (or admin) token.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from kinesync.api.deps import AthleteId, RegistryDep, RepStoreDep, ViewerDep
from kinesync.api.http_errors import registry_errors
from kinesync.api.schemas.errors import ANALYSIS_ERRORS
from kinesync.facility.models import MAX_ID
from kinesync.facility.registry import Registry
from kinesync.models import RepMetric
from kinesync.storage.base import StorageUnavailable
from kinesync.storage.readers import RepReader
from kinesync.training.priming import NoPrimingComparison, PrimingEffect, priming_effect
from kinesync.training.trends import Trends, trend_range_ns, trends

MAX_WEEKS = 104

router = APIRouter(prefix="/api/v1")


async def athlete_reps(reg: Registry, store: RepReader, athlete_id: int, since_ns: int | None = None,
                       until_ns: int | None = None) -> tuple[str, list[RepMetric]]:
    """The athlete's name and stored reps; 404 for an unknown athlete, 503 when the store is down."""
    with registry_errors():
        athlete = await reg.get_athlete(athlete_id)
    try:
        return athlete.name, await store.athlete_reps(athlete.name, since_ns=since_ns, until_ns=until_ns)
    except StorageUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"rep store unavailable: {exc}") from exc


@router.get("/athletes/{athlete_id}/priming", response_model=PrimingEffect, responses=ANALYSIS_ERRORS,
            tags=["analysis"])
async def get_priming(
    _: ViewerDep, reg: RegistryDep, store: RepStoreDep, athlete_id: AthleteId,
    session: Annotated[int, Query(ge=1, le=MAX_ID, description="the primed session's id")],
) -> PrimingEffect:
    """Working sets after the session's priming block against the athlete's unprimed baseline: per
    metric the difference, a 95 % Welch interval and Hedges' g (docs/metrics.md, "Priming effect")."""
    with registry_errors():
        s = await reg.get_session(session)
    if s.athlete_id != athlete_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"session {session} is not athlete {athlete_id}'s")
    _, reps = await athlete_reps(reg, store, athlete_id)
    try:
        return priming_effect(str(session), reps)
    except NoPrimingComparison as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc


@router.get("/athletes/{athlete_id}/trends", response_model=Trends, responses=ANALYSIS_ERRORS, tags=["analysis"])
async def get_trends(
    _: ViewerDep, reg: RegistryDep, store: RepStoreDep, athlete_id: AthleteId,
    weeks: Annotated[int, Query(ge=1, le=MAX_WEEKS, description="ISO weeks up to the current one")] = 8,
) -> Trends:
    """Weekly and per-session means of lag, timing error, alignment, RFD, transfer and bar velocity."""
    now_ns = time.time_ns()
    name, reps = await athlete_reps(reg, store, athlete_id, *trend_range_ns(weeks, now_ns))
    return trends(name, reps, weeks, now_ns)
