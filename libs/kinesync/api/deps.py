"""FastAPI dependencies of the API, each defined once: tokens, settings, the live state and cue hub, the
stores, and the path and query parameters more than one route takes.

Everything a dependency hands out hangs on ``app.state``: ``create_app`` puts the live state, cue hub,
tokens and settings there, the lifespan opens the stores it was not given (``kinesync.api.resources``),
and a test may set any of them itself. A store that is missing answers 503 saying which.
"""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import Depends, HTTPException, Path, Query, Request, WebSocket, WebSocketException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from kinesync.alerts.store import AlertStore
from kinesync.api.auth import ApiTokens
from kinesync.api.cue_hub import CueHub
from kinesync.api.sessions_out import SessionSink
from kinesync.api.state import LiveState
from kinesync.facility.models import MAX_ID, MAX_LIMIT, MAX_OFFSET, STATION_ID_PATTERN
from kinesync.facility.personal import PersonalStore
from kinesync.facility.registry import Registry
from kinesync.runtime.supervisor import SupervisorState
from kinesync.settings import Settings
from kinesync.storage.readers import RepReader

# tokens

_bearer = HTTPBearer(auto_error=False, description="Bearer token: admin for writes, viewer or admin for reads")


def get_tokens(conn: HTTPConnection) -> ApiTokens:
    tokens = getattr(conn.app.state, "tokens", None)
    return tokens if isinstance(tokens, ApiTokens) else ApiTokens()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def require_admin(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    """For every write endpoint."""
    tokens = get_tokens(request)
    if tokens.admin_sha256 is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail="writes are disabled: set KINESYNC_API_ADMIN_TOKEN on the API service")
    if creds is None:
        raise _unauthorized("missing bearer token (Authorization: Bearer <admin token>)")
    role = tokens.role_of(creds.credentials)
    if role is None:
        raise _unauthorized("invalid token")
    if role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this token may read but not write")
    return role


async def require_viewer(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str | None:
    """For read endpoints: open when no token is configured at all (or reads are open by setting)."""
    tokens = get_tokens(request)
    if tokens.reads_open:
        return None
    if creds is None:
        raise _unauthorized("missing bearer token (Authorization: Bearer <viewer or admin token>)")
    role = tokens.role_of(creds.credentials)
    if role is None:
        raise _unauthorized("invalid token")
    return role


async def require_ws_viewer(websocket: WebSocket) -> None:
    """For every WebSocket: browsers cannot set headers on one, so the viewer (or admin) token comes
    as ``?token=``. Refused before the handshake completes, with close code 1008."""
    tokens = get_tokens(websocket)
    if tokens.reads_open:
        return
    if tokens.role_of(websocket.query_params.get("token")) is None:
        raise WebSocketException(status.WS_1008_POLICY_VIOLATION, reason="viewer token required (?token=)")


AdminDep = Annotated[str, Depends(require_admin)]
ViewerDep = Annotated[str | None, Depends(require_viewer)]
WsViewerDep = Annotated[None, Depends(require_ws_viewer)]

# what create_app puts on the app


def get_settings(conn: HTTPConnection) -> Settings:
    settings = getattr(conn.app.state, "settings", None)
    if not isinstance(settings, Settings):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="the API was started without settings")
    return settings


def get_live(conn: HTTPConnection) -> LiveState:
    return conn.app.state.live


def get_cue_hub(conn: HTTPConnection) -> CueHub:
    return conn.app.state.cues


def get_supervisor(conn: HTTPConnection) -> SupervisorState:
    return conn.app.state.supervisor


def get_uptime_s(conn: HTTPConnection) -> float:
    return time.monotonic() - conn.app.state.started_at


SettingsDep = Annotated[Settings, Depends(get_settings)]
LiveDep = Annotated[LiveState, Depends(get_live)]
CueHubDep = Annotated[CueHub, Depends(get_cue_hub)]
SupervisorDep = Annotated[SupervisorState, Depends(get_supervisor)]
UptimeDep = Annotated[float, Depends(get_uptime_s)]

# what the lifespan opens (or a test sets)


def get_registry(conn: HTTPConnection) -> Registry:
    reg = getattr(conn.app.state, "registry", None)
    if not isinstance(reg, Registry):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="facility registry not configured")
    return reg


def get_session_sink(conn: HTTPConnection) -> SessionSink:
    sink = getattr(conn.app.state, "session_sink", None)
    if sink is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no session publisher (Kafka) configured")
    return sink


def get_personal_store(conn: HTTPConnection) -> PersonalStore:
    store = getattr(conn.app.state, "personal_store", None)
    if not isinstance(store, PersonalStore):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="personal windows not configured")
    return store


def get_rep_store(conn: HTTPConnection) -> RepReader:
    store = getattr(conn.app.state, "rep_store", None)
    if store is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail="no rep store to read (see the API log: the database the writer fills could "
                            "not be opened for reading)")
    return store


def get_alert_store(conn: HTTPConnection) -> AlertStore:
    store = getattr(conn.app.state, "alerts_store", None)
    if not isinstance(store, AlertStore):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail="alerts database not open (the API opens KINESYNC_ALERTS_DB at start-up)")
    return store


RegistryDep = Annotated[Registry, Depends(get_registry)]
SinkDep = Annotated[SessionSink, Depends(get_session_sink)]
PersonalStoreDep = Annotated[PersonalStore, Depends(get_personal_store)]
RepStoreDep = Annotated[RepReader, Depends(get_rep_store)]
AlertStoreDep = Annotated[AlertStore, Depends(get_alert_store)]

# parameters

StationPath = Annotated[str, Path(pattern=STATION_ID_PATTERN, description="station id, e.g. station-01")]
TeamId = Annotated[int, Path(ge=1, le=MAX_ID)]
AthleteId = Annotated[int, Path(ge=1, le=MAX_ID)]
SessionId = Annotated[int, Path(ge=1, le=MAX_ID)]
PlanId = Annotated[int, Path(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")]
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET, description="items to skip")]
