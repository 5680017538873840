"""Plan templates, the live plan position, and an athlete's priming effect and trends (``/api/v1``).

Same wiring as the facility routes (``app.state.registry`` and ``session_sink``), plus
``app.state.rep_store``: a ``RepReader`` (kinesync.storage.readers) on the database the writer fills,
SQLite or InfluxDB, from which the priming effect and the trends are computed on request.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status

from kinesync.api.auth import AdminDep, ViewerDep
from kinesync.api.facility_models import DEFAULT_LIMIT, MAX_ID, Page, Session
from kinesync.api.facility_routes import (
    READ_ERRORS,
    WRITE_ERRORS,
    AthleteId,
    Limit,
    Offset,
    RegistryDep,
    SessionId,
    SinkDep,
    _http_errors,
    _publish,
)
from kinesync.api.plan_registry import PlanPositionIn, PlanTemplate, PlanTemplateIn, PlanTemplates
from kinesync.models import RepMetric
from kinesync.storage.base import StorageUnavailable
from kinesync.storage.readers import RepReader
from kinesync.training.priming import NoPrimingComparison, PrimingEffect, priming_effect
from kinesync.training.trends import Trends, trend_range_ns, trends

MAX_WEEKS = 104
NO_REPS = "no rep store configured, or its database is unavailable"


def rep_store_of(request: Request) -> RepReader:
    store = getattr(request.app.state, "rep_store", None)
    if store is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail="no rep store to read (see the API log: the database the writer fills could "
                            "not be opened for reading)")
    return store


RepStoreDep = Annotated[RepReader, Depends(rep_store_of)]
PlanId = Annotated[int, Path(ge=1, le=MAX_ID)]

router = APIRouter(prefix="/api/v1")


def _err_503(detail: str) -> dict[int | str, dict[str, Any]]:
    return {503: {"description": detail}}


@router.get("/plans", response_model=Page[PlanTemplate], responses=READ_ERRORS, tags=["plans"])
async def list_plans(_: ViewerDep, reg: RegistryDep, limit: Limit = DEFAULT_LIMIT,
                     offset: Offset = 0) -> Page[PlanTemplate]:
    return await PlanTemplates(reg).list(limit, offset)


@router.post("/plans", status_code=201, response_model=PlanTemplate, responses=WRITE_ERRORS, tags=["plans"])
async def create_plan(_: AdminDep, reg: RegistryDep, body: PlanTemplateIn) -> PlanTemplate:
    """A reusable plan: blocks (priming, working, control) of sets with target reps and rest."""
    with _http_errors():
        return await PlanTemplates(reg).create(body)


@router.get("/plans/{plan_id}", response_model=PlanTemplate, responses=READ_ERRORS, tags=["plans"])
async def get_plan(_: ViewerDep, reg: RegistryDep, plan_id: PlanId) -> PlanTemplate:
    with _http_errors():
        return await PlanTemplates(reg).get(plan_id)


@router.delete("/plans/{plan_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS,
               tags=["plans"])
async def delete_plan(_: AdminDep, reg: RegistryDep, plan_id: PlanId) -> Response:
    """Sessions started from the template keep their copy of the plan."""
    with _http_errors():
        await PlanTemplates(reg).delete(plan_id)
    return Response(status_code=204)


@router.put("/sessions/{session_id}/position", response_model=Session, responses=WRITE_ERRORS, tags=["sessions"])
async def set_position(_: AdminDep, reg: RegistryDep, sink: SinkDep, session_id: SessionId,
                       body: PlanPositionIn) -> Session:
    """Restart the live rep count at a block and set (the athlete skipped or repeated a set)."""
    with _http_errors():
        s = await reg.set_plan_position(session_id, body.block_index, body.set_index)
    await _publish(sink, s)
    return s


async def _athlete_reps(reg: RegistryDep, store: RepReader, athlete_id: int, since_ns: int | None = None,
                        until_ns: int | None = None) -> tuple[str, list[RepMetric]]:
    with _http_errors():
        athlete = await reg.get_athlete(athlete_id)
    try:
        return athlete.name, await store.athlete_reps(athlete.name, since_ns=since_ns, until_ns=until_ns)
    except StorageUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail=f"rep store unavailable: {exc}") from exc


@router.get("/athletes/{athlete_id}/priming", response_model=PrimingEffect,
            responses={**READ_ERRORS, **_err_503(NO_REPS)}, tags=["analysis"])
async def get_priming(
    _: ViewerDep, reg: RegistryDep, store: RepStoreDep, athlete_id: AthleteId,
    session: Annotated[int, Query(ge=1, le=MAX_ID, description="the primed session's id")],
) -> PrimingEffect:
    """Working sets after the session's priming block against the athlete's unprimed baseline: per
    metric the difference, a 95 % Welch interval and Hedges' g (docs/metrics.md, "Priming effect")."""
    with _http_errors():
        s = await reg.get_session(session)
    if s.athlete_id != athlete_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"session {session} is not athlete {athlete_id}'s")
    _, reps = await _athlete_reps(reg, store, athlete_id)
    try:
        return priming_effect(str(session), reps)
    except NoPrimingComparison as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc


@router.get("/athletes/{athlete_id}/trends", response_model=Trends,
            responses={**READ_ERRORS, **_err_503(NO_REPS)}, tags=["analysis"])
async def get_trends(
    _: ViewerDep, reg: RegistryDep, store: RepStoreDep, athlete_id: AthleteId,
    weeks: Annotated[int, Query(ge=1, le=MAX_WEEKS, description="ISO weeks up to the current one")] = 8,
) -> Trends:
    """Weekly and per-session means of lag, timing error, alignment, RFD, transfer and bar velocity."""
    now_ns = time.time_ns()
    name, reps = await _athlete_reps(reg, store, athlete_id, *trend_range_ns(weeks, now_ns))
    return trends(name, reps, weeks, now_ns)
