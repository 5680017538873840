"""Plan templates (``/api/v1/plans``) and the live plan position of a running session.

Templates live in the facility registry (``kinesync.facility.plans``); a session copies its plan at
the start, so editing or deleting a template leaves the sessions already started as they were.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from kinesync.api.deps import AdminDep, Limit, Offset, PlanId, RegistryDep, SessionId, SinkDep, ViewerDep
from kinesync.api.http_errors import publish_session, registry_errors
from kinesync.api.schemas.errors import READ_ERRORS, WRITE_ERRORS
from kinesync.facility.models import DEFAULT_LIMIT, Page, Session
from kinesync.facility.plans import PlanPositionIn, PlanTemplate, PlanTemplateIn, PlanTemplates

router = APIRouter(prefix="/api/v1")


@router.get("/plans", response_model=Page[PlanTemplate], responses=READ_ERRORS, tags=["plans"])
async def list_plans(_: ViewerDep, reg: RegistryDep, limit: Limit = DEFAULT_LIMIT,
                     offset: Offset = 0) -> Page[PlanTemplate]:
    return await PlanTemplates(reg).list(limit, offset)


@router.post("/plans", status_code=201, response_model=PlanTemplate, responses=WRITE_ERRORS, tags=["plans"])
async def create_plan(_: AdminDep, reg: RegistryDep, body: PlanTemplateIn) -> PlanTemplate:
    """A reusable plan: blocks (priming, working, control) of sets with target reps and rest."""
    with registry_errors():
        return await PlanTemplates(reg).create(body)


@router.get("/plans/{plan_id}", response_model=PlanTemplate, responses=READ_ERRORS, tags=["plans"])
async def get_plan(_: ViewerDep, reg: RegistryDep, plan_id: PlanId) -> PlanTemplate:
    with registry_errors():
        return await PlanTemplates(reg).get(plan_id)


@router.put("/plans/{plan_id}", response_model=PlanTemplate, responses=WRITE_ERRORS, tags=["plans"])
async def update_plan(_: AdminDep, reg: RegistryDep, plan_id: PlanId, body: PlanTemplateIn) -> PlanTemplate:
    """Replace the template's name and plan (the same body and checks as ``POST /plans``). Sessions already
    started from it keep the copy they started with; sessions started later follow the new plan."""
    with registry_errors():
        return await PlanTemplates(reg).update(plan_id, body)


@router.delete("/plans/{plan_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS,
               tags=["plans"])
async def delete_plan(_: AdminDep, reg: RegistryDep, plan_id: PlanId) -> Response:
    """Sessions started from the template keep their copy of the plan."""
    with registry_errors():
        await PlanTemplates(reg).delete(plan_id)
    return Response(status_code=204)


@router.put("/sessions/{session_id}/position", response_model=Session, responses=WRITE_ERRORS, tags=["sessions"])
async def set_position(_: AdminDep, reg: RegistryDep, sink: SinkDep, session_id: SessionId,
                       body: PlanPositionIn) -> Session:
    """Restart the live rep count at a block and set (the athlete skipped or repeated a set)."""
    with registry_errors():
        s = await reg.set_plan_position(session_id, body.block_index, body.set_index)
    await publish_session(sink, s)
    return s
