"""Sessions: an athlete on a station for an exercise (``/api/v1/sessions``), published to ``kinesync.sessions``.

The plan position of a running session is set through ``kinesync.api.routes.plans``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kinesync.api.deps import AdminDep, Limit, Offset, RegistryDep, SessionId, SinkDep, ViewerDep
from kinesync.api.http_errors import publish_session, registry_errors
from kinesync.api.schemas.errors import READ_ERRORS, WRITE_ERRORS
from kinesync.facility.models import DEFAULT_LIMIT, MAX_ID, STATION_ID_PATTERN, Page, Session, SessionIn

router = APIRouter(prefix="/api/v1")


@router.get("/sessions", response_model=Page[Session], responses=READ_ERRORS, tags=["sessions"])
async def list_sessions(
    _: ViewerDep, reg: RegistryDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0,
    station_id: Annotated[str | None, Query(pattern=STATION_ID_PATTERN)] = None,
    athlete_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    active: Annotated[bool | None, Query(description="true: running only; false: stopped only")] = None,
) -> Page[Session]:
    return await reg.list_sessions(limit, offset, station_id=station_id, athlete_id=athlete_id, active=active)


@router.post("/sessions", status_code=201, response_model=Session, responses=WRITE_ERRORS, tags=["sessions"])
async def start_session(_: AdminDep, reg: RegistryDep, sink: SinkDep, body: SessionIn) -> Session:
    """Put an athlete on a station for an exercise. Published to ``kinesync.sessions``: from then on
    the analyzer tags the station's metrics with this athlete, team, exercise and session id."""
    with registry_errors():
        s = await reg.start_session(body)
    await publish_session(sink, s)
    return s


@router.get("/sessions/{session_id}", response_model=Session, responses=READ_ERRORS, tags=["sessions"])
async def get_session(_: ViewerDep, reg: RegistryDep, session_id: SessionId) -> Session:
    with registry_errors():
        return await reg.get_session(session_id)


@router.post("/sessions/{session_id}/stop", response_model=Session, responses=WRITE_ERRORS, tags=["sessions"])
async def stop_session(_: AdminDep, reg: RegistryDep, sink: SinkDep, session_id: SessionId) -> Session:
    """End a session; the station's metrics carry no athlete until the next one starts."""
    with registry_errors():
        s = await reg.stop_session(session_id)
    await publish_session(sink, s)
    return s
