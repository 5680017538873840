"""Facility API routes (``/api/v1``) and the wall's WebSocket push (``/ws/stations``).

Wiring lives on ``app.state`` so the router stays a plain module-level object that ``create_app``
mounts once: ``registry`` (Registry) and ``session_sink`` (SessionSink), set by the API service
(or a test). Writes need the admin token, reads the viewer (or admin) token; see ``auth.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, WebSocket, status
from pydantic import BaseModel
from starlette.websockets import WebSocketDisconnect

from kinesync.api.auth import AdminDep, ApiTokens, ViewerDep
from kinesync.api.facility_models import (
    DEFAULT_LIMIT,
    MAX_ID,
    MAX_LIMIT,
    MAX_OFFSET,
    STATION_ID_PATTERN,
    Athlete,
    AthleteIn,
    AthletePatch,
    Exercise,
    Page,
    Session,
    SessionIn,
    Station,
    StationIn,
    StationPatch,
    Target,
    TargetIn,
    Team,
    TeamIn,
    TeamPatch,
)
from kinesync.api.registry import Conflict, NotFound, Registry, assignment_of
from kinesync.api.sessions_out import PublishError, SessionSink
from kinesync.api.state import LiveState

PUSH_INTERVAL_S = 0.5


class ErrorOut(BaseModel):
    detail: str


def _err(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {400: "the body is not valid JSON", 401: "missing or invalid token", 403: "token may read but not write",
            404: "not found", 409: "conflicts with the current state",
            503: "writes disabled (no admin token) or Kafka unreachable"}
    return {c: {"model": ErrorOut, "description": text[c]} for c in codes}


READ_ERRORS = _err(401, 404)
WRITE_ERRORS = _err(400, 401, 403, 404, 409, 503)

api = APIRouter(prefix="/api/v1")


def registry_of(request: Request) -> Registry:
    reg = getattr(request.app.state, "registry", None)
    if not isinstance(reg, Registry):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="facility registry not configured")
    return reg


def sink_of(request: Request) -> SessionSink:
    sink = getattr(request.app.state, "session_sink", None)
    if sink is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no session publisher (Kafka) configured")
    return sink


RegistryDep = Annotated[Registry, Depends(registry_of)]
SinkDep = Annotated[SessionSink, Depends(sink_of)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip")]
TeamId = Annotated[int, Path(ge=1, le=MAX_ID)]
AthleteId = Annotated[int, Path(ge=1, le=MAX_ID)]
SessionId = Annotated[int, Path(ge=1, le=MAX_ID)]
StationPath = Annotated[str, Path(pattern=STATION_ID_PATTERN, description="station id, e.g. station-01")]


@contextlib.contextmanager
def _http_errors():
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc


async def _publish(sink: SessionSink, s: Session) -> None:
    try:
        await sink.publish(assignment_of(s))
    except PublishError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"session {s.id} saved but not yet published to kinesync.sessions ({exc}); retried automatically",
        ) from exc


# teams


@api.get("/teams", response_model=Page[Team], responses=READ_ERRORS, tags=["teams"])
async def list_teams(_: ViewerDep, reg: RegistryDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0) -> Page[Team]:
    return await reg.list_teams(limit, offset)


@api.post("/teams", status_code=201, response_model=Team, responses=WRITE_ERRORS, tags=["teams"])
async def create_team(_: AdminDep, reg: RegistryDep, body: TeamIn) -> Team:
    with _http_errors():
        return await reg.create_team(body)


@api.get("/teams/{team_id}", response_model=Team, responses=READ_ERRORS, tags=["teams"])
async def get_team(_: ViewerDep, reg: RegistryDep, team_id: TeamId) -> Team:
    with _http_errors():
        return await reg.get_team(team_id)


@api.patch("/teams/{team_id}", response_model=Team, responses=WRITE_ERRORS, tags=["teams"])
async def update_team(_: AdminDep, reg: RegistryDep, team_id: TeamId, body: TeamPatch) -> Team:
    with _http_errors():
        return await reg.update_team(team_id, body)


@api.delete("/teams/{team_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS, tags=["teams"])
async def delete_team(_: AdminDep, reg: RegistryDep, team_id: TeamId) -> Response:
    with _http_errors():
        await reg.delete_team(team_id)
    return Response(status_code=204)


# athletes


@api.get("/athletes", response_model=Page[Athlete], responses=READ_ERRORS, tags=["athletes"])
async def list_athletes(
    _: ViewerDep, reg: RegistryDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0,
    team_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this team")] = None,
) -> Page[Athlete]:
    return await reg.list_athletes(limit, offset, team_id)


@api.post("/athletes", status_code=201, response_model=Athlete, responses=WRITE_ERRORS, tags=["athletes"])
async def create_athlete(_: AdminDep, reg: RegistryDep, body: AthleteIn) -> Athlete:
    with _http_errors():
        return await reg.create_athlete(body)


@api.get("/athletes/{athlete_id}", response_model=Athlete, responses=READ_ERRORS, tags=["athletes"])
async def get_athlete(_: ViewerDep, reg: RegistryDep, athlete_id: AthleteId) -> Athlete:
    with _http_errors():
        return await reg.get_athlete(athlete_id)


@api.patch("/athletes/{athlete_id}", response_model=Athlete, responses=WRITE_ERRORS, tags=["athletes"])
async def update_athlete(_: AdminDep, reg: RegistryDep, athlete_id: AthleteId, body: AthletePatch) -> Athlete:
    with _http_errors():
        return await reg.update_athlete(athlete_id, body)


@api.delete("/athletes/{athlete_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS,
            tags=["athletes"])
async def delete_athlete(_: AdminDep, reg: RegistryDep, athlete_id: AthleteId) -> Response:
    with _http_errors():
        await reg.delete_athlete(athlete_id)
    return Response(status_code=204)


# target windows


@api.get("/athletes/{athlete_id}/targets", response_model=list[Target], responses=READ_ERRORS, tags=["targets"])
async def list_targets(_: ViewerDep, reg: RegistryDep, athlete_id: AthleteId) -> list[Target]:
    """The effective target window for every exercise (the facility default where none is set)."""
    with _http_errors():
        return await reg.list_targets(athlete_id)


@api.get("/athletes/{athlete_id}/targets/{exercise}", response_model=Target, responses=READ_ERRORS,
         tags=["targets"])
async def get_target(_: ViewerDep, reg: RegistryDep, athlete_id: AthleteId, exercise: Exercise) -> Target:
    with _http_errors():
        return await reg.get_target(athlete_id, exercise)


@api.put("/athletes/{athlete_id}/targets/{exercise}", response_model=Target, responses=WRITE_ERRORS,
         tags=["targets"])
async def set_target(
    _: AdminDep, reg: RegistryDep, sink: SinkDep, athlete_id: AthleteId, exercise: Exercise, body: TargetIn
) -> Target:
    """Set the athlete's target lag window for an exercise; a running session picks it up at once."""
    with _http_errors():
        target, running = await reg.set_target(athlete_id, exercise, body)
    if running is not None:
        await _publish(sink, running)
    return target


@api.delete("/athletes/{athlete_id}/targets/{exercise}", response_model=Target, responses=WRITE_ERRORS,
            tags=["targets"])
async def reset_target(
    _: AdminDep, reg: RegistryDep, sink: SinkDep, athlete_id: AthleteId, exercise: Exercise
) -> Target:
    """Back to the facility default; returns the target now in force."""
    with _http_errors():
        target, running = await reg.set_target(athlete_id, exercise, None)
    if running is not None:
        await _publish(sink, running)
    return target


# stations


@api.get("/stations", response_model=Page[Station], responses=READ_ERRORS, tags=["stations"])
async def list_stations(
    _: ViewerDep, reg: RegistryDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> Page[Station]:
    return await reg.list_stations(limit, offset)


@api.post("/stations", status_code=201, response_model=Station, responses=WRITE_ERRORS, tags=["stations"])
async def create_station(_: AdminDep, reg: RegistryDep, body: StationIn) -> Station:
    with _http_errors():
        return await reg.create_station(body)


@api.get("/stations/{station_id}", response_model=Station, responses=READ_ERRORS, tags=["stations"])
async def get_station(_: ViewerDep, reg: RegistryDep, station_id: StationPath) -> Station:
    with _http_errors():
        return await reg.get_station(station_id)


@api.patch("/stations/{station_id}", response_model=Station, responses=WRITE_ERRORS, tags=["stations"])
async def update_station(_: AdminDep, reg: RegistryDep, sink: SinkDep, station_id: StationPath,
                         body: StationPatch) -> Station:
    """A change of ``bar_sensor`` is published with the station's running session, if any."""
    with _http_errors():
        station, running = await reg.update_station(station_id, body)
    if running is not None:
        await _publish(sink, running)
    return station


@api.delete("/stations/{station_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS,
            tags=["stations"])
async def delete_station(_: AdminDep, reg: RegistryDep, station_id: StationPath) -> Response:
    with _http_errors():
        await reg.delete_station(station_id)
    return Response(status_code=204)


# sessions


@api.get("/sessions", response_model=Page[Session], responses=READ_ERRORS, tags=["sessions"])
async def list_sessions(
    _: ViewerDep, reg: RegistryDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0,
    station_id: Annotated[str | None, Query(pattern=STATION_ID_PATTERN)] = None,
    athlete_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    active: Annotated[bool | None, Query(description="true: running only; false: stopped only")] = None,
) -> Page[Session]:
    return await reg.list_sessions(limit, offset, station_id=station_id, athlete_id=athlete_id, active=active)


@api.post("/sessions", status_code=201, response_model=Session, responses=WRITE_ERRORS, tags=["sessions"])
async def start_session(_: AdminDep, reg: RegistryDep, sink: SinkDep, body: SessionIn) -> Session:
    """Put an athlete on a station for an exercise. Published to ``kinesync.sessions``: from then on
    the analyzer tags the station's metrics with this athlete, team, exercise and session id."""
    with _http_errors():
        s = await reg.start_session(body)
    await _publish(sink, s)
    return s


@api.get("/sessions/{session_id}", response_model=Session, responses=READ_ERRORS, tags=["sessions"])
async def get_session(_: ViewerDep, reg: RegistryDep, session_id: SessionId) -> Session:
    with _http_errors():
        return await reg.get_session(session_id)


@api.post("/sessions/{session_id}/stop", response_model=Session, responses=WRITE_ERRORS, tags=["sessions"])
async def stop_session(_: AdminDep, reg: RegistryDep, sink: SinkDep, session_id: SessionId) -> Session:
    """End a session; the station's metrics carry no athlete until the next one starts."""
    with _http_errors():
        s = await reg.stop_session(session_id)
    await _publish(sink, s)
    return s


# the wall's push channel

live = APIRouter()


def _ws_allowed(ws: WebSocket) -> bool:
    # Browsers cannot set headers on a WebSocket, so the viewer token comes as ?token=.
    tokens = getattr(ws.app.state, "tokens", None)
    if not isinstance(tokens, ApiTokens) or (tokens.admin_sha256 is None and tokens.viewer_sha256 is None):
        return True
    return tokens.role_of(ws.query_params.get("token")) is not None


@live.websocket("/ws/stations")
async def ws_stations(ws: WebSocket) -> None:
    """The /api/stations list, pushed every 0.5 s (a snapshot each time, so a reconnect needs no replay)."""
    if not _ws_allowed(ws):
        await ws.close(code=1008, reason="viewer token required (?token=)")
        return
    await ws.accept()
    state: LiveState = ws.app.state.live
    interval = float(getattr(ws.app.state, "push_interval_s", PUSH_INTERVAL_S))

    async def drain() -> None:
        # Reading is how a closed socket is noticed; the wall sends nothing we need.
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await ws.receive_text()

    reader = asyncio.create_task(drain())
    try:
        while not reader.done():
            payload = json.dumps([s.model_dump(mode="json") for s in state.snapshot()])
            await ws.send_text(payload)
            await asyncio.wait({reader}, timeout=interval)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away mid-send
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


router = APIRouter()
router.include_router(api)
router.include_router(live)
