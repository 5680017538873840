"""Station view (``/station/{id}``), cue WebSockets, cue latency, and the personal target window API.

Wiring on ``app.state``: ``cues`` (CueHub, created by ``create_app``), ``personal_store``
(PersonalStore) with the registry and session sink of the facility API. Reads need the viewer (or
admin) token, writes the admin token; browsers pass the viewer token as ``?token=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import time
from importlib.resources import files
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Request, WebSocket, status
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.websockets import WebSocketDisconnect

from kinesync.analysis.cues import Cue
from kinesync.api.auth import AdminDep, ApiTokens, ViewerDep
from kinesync.api.cue_hub import CueHub, LatencyStats, cue_message
from kinesync.api.facility_models import STATION_ID_PATTERN
from kinesync.api.facility_routes import READ_ERRORS, WRITE_ERRORS, _err
from kinesync.api.personal_store import PersonalState, PersonalStore
from kinesync.api.registry import NotFound, Registry, assignment_of
from kinesync.api.sessions_out import PublishError
from kinesync.api.state import LiveState
from kinesync.models import SessionAssignment

STATUS_EVERY_S = 1.0
StationPath = Annotated[str, Path(pattern=STATION_ID_PATTERN, description="station id, e.g. station-01")]

router = APIRouter()
# 409: no running session on the station; 503: registry or personal-window store not configured
PERSONAL_READ_ERRORS = _err(401, 404, 409, 503)


def station_html() -> str:
    return files("kinesync.api").joinpath("static/station.html").read_text(encoding="utf-8")


def hub_of(app: Any) -> CueHub:
    hub = getattr(app.state, "cues", None)
    if not isinstance(hub, CueHub):
        hub = app.state.cues = CueHub()
    return hub


def _ws_allowed(ws: WebSocket) -> bool:
    tokens = getattr(ws.app.state, "tokens", None)
    if not isinstance(tokens, ApiTokens) or (tokens.admin_sha256 is None and tokens.viewer_sha256 is None):
        return True
    return tokens.role_of(ws.query_params.get("token")) is not None


# the station view


@router.get("/station/{station_id}", response_class=HTMLResponse, include_in_schema=False)
async def station_page(request: Request, station_id: StationPath) -> HTMLResponse:
    page = getattr(request.app.state, "station_page", None)
    if page is None:  # read once per app; a missing file fails the first visit loudly
        page = request.app.state.station_page = station_html()
    title = html.escape(request.app.title)
    # The id matches STATION_ID_PATTERN (letters, digits, " ._-"), so as JSON it is a safe script literal.
    body = (page.replace("{{title}}", title).replace("{{station_json}}", json.dumps(station_id))
            .replace("{{station}}", html.escape(station_id)))
    return HTMLResponse(body, headers={"Cache-Control": "no-cache"})


def _station_status(app: Any, station: str) -> dict[str, object]:
    state = getattr(app.state, "live", None)
    out: dict[str, object] = {"type": "status", "station": station, "known": False}
    if isinstance(state, LiveState):
        for s in state.snapshot():
            if s.station == station:
                out.update(known=True, athlete=s.athlete, exercise=s.exercise, target_low_ms=s.target_low_ms,
                           target_high_ms=s.target_high_ms, target_source=s.target_source, stale=s.stale,
                           age_s=s.age_s)
                break
    return out


async def _serve_cues(ws: WebSocket, station: str | None) -> None:
    if not _ws_allowed(ws):
        await ws.close(code=1008, reason="viewer token required (?token=)")
        return
    await ws.accept()
    hub = hub_of(ws.app)
    queue = hub.listen(station)
    sent_at: dict[str, int] = {}

    async def read() -> None:
        # Station views acknowledge painted cues: {"type": "shown", "id": ..., "processing_ms": ...}
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                try:
                    msg = json.loads(await ws.receive_text())
                    key = str(msg["id"])
                    if msg.get("type") == "shown" and key in sent_at:
                        hub.shown(key, sent_at.pop(key), float(msg.get("processing_ms") or 0.0))
                except (ValueError, KeyError, TypeError):
                    continue  # a confused client is ignored, not disconnected

    reader = asyncio.create_task(read())
    try:
        hello: dict[str, object] = {"type": "hello", "station": station,
                                    "recent": [cue_message(c) for c in hub.recent.get(station, ())] if station else []}
        if station:
            hello["status"] = _station_status(ws.app, station)
        await ws.send_text(json.dumps(hello))
        next_status = time.monotonic() + STATUS_EVERY_S
        while not reader.done():
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, timeout=max(0.0, next_status - time.monotonic()),
                                         return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                cue: Cue = getter.result()
                msg = cue_message(cue)
                sent_at[str(msg["id"])] = time.time_ns()
                while len(sent_at) > 256:
                    sent_at.pop(next(iter(sent_at)))
                await ws.send_text(json.dumps(msg))
            else:
                getter.cancel()
            if time.monotonic() >= next_status:
                # Also the heartbeat: a view that hears nothing for a few seconds reconnects.
                payload = _station_status(ws.app, station) if station else {"type": "status"}
                await ws.send_text(json.dumps(payload))
                next_status = time.monotonic() + STATUS_EVERY_S
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.unlisten(station, queue)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


@router.websocket("/ws/stations/{station_id}/cues")
async def ws_station_cues(ws: WebSocket, station_id: str) -> None:
    """Cues of one station as they happen, a status (athlete, target window) every second."""
    await _serve_cues(ws, station_id)


@router.websocket("/ws/cues")
async def ws_all_cues(ws: WebSocket) -> None:
    """Every station's cues as they happen."""
    await _serve_cues(ws, None)


# cues and their latency over HTTP


class LatencyOut(BaseModel):
    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


class CueLatencyOut(BaseModel):
    shown: LatencyOut = Field(description="rep end → painted in a station view (views acknowledge each cue)")
    pushed: LatencyOut = Field(description="rep end → sent by the API")


def _lat(s: LatencyStats) -> LatencyOut:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v, 1)

    return LatencyOut(count=s.count, p50_ms=r(s.p50_ms), p99_ms=r(s.p99_ms), max_ms=r(s.max_ms))


@router.get("/api/v1/stations/{station_id}/cues", response_model=list[Cue], tags=["cues"], responses=READ_ERRORS)
async def recent_cues(request: Request, _: ViewerDep, station_id: StationPath) -> list[Cue]:
    """The station's last cues, oldest first (kept in memory by this API instance)."""
    return list(hub_of(request.app).recent.get(station_id, ()))


@router.get("/api/v1/cues/latency", response_model=CueLatencyOut, tags=["cues"], responses=READ_ERRORS)
async def cue_latency(request: Request, _: ViewerDep) -> CueLatencyOut:
    """Cue latency over the last cues this API instance pushed (up to 4096)."""
    stats = hub_of(request.app).stats()
    return CueLatencyOut(shown=_lat(stats["shown"]), pushed=_lat(stats["pushed"]))


# personal target windows


class PersonalWindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["fixed", "personal"] | None = Field(None, description="which window judges; omitted: unchanged")
    locked: bool | None = Field(None, description="true freezes the current window, false resumes learning")


class PersonalWindowOut(BaseModel):
    station: str
    session_id: int
    athlete_id: int
    exercise: str
    mode: Literal["fixed", "personal"]
    locked: bool
    low_ms: float | None = Field(None, description="the window judging now (the last one the analyzer used), ms")
    high_ms: float | None = None
    source: Literal["fixed", "personal", "locked"] | None = Field(None, description="which window that is")
    stored_low_ms: float | None = Field(None, description="last learned or locked window kept for restarts, ms")
    stored_high_ms: float | None = None


def _store(request: Request) -> PersonalStore:
    store = getattr(request.app.state, "personal_store", None)
    if not isinstance(store, PersonalStore):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="personal windows not configured")
    return store


def _registry(request: Request) -> Registry:
    reg = getattr(request.app.state, "registry", None)
    if not isinstance(reg, Registry):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="facility registry not configured")
    return reg


async def _running(reg: Registry, station_id: str):
    try:
        st = await reg.get_station(station_id)
        if st.active_session_id is None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"no running session on station {station_id!r}")
        return await reg.get_session(st.active_session_id)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc


def _live_window(app: Any, station: str) -> tuple[float | None, float | None, str | None]:
    s = _station_status(app, station)
    if not s.get("known"):
        return None, None, None
    return s["target_low_ms"], s["target_high_ms"], s["target_source"]  # type: ignore[return-value]


async def _out(request: Request, station_id: str, s, state: PersonalState) -> PersonalWindowOut:
    low, high, source = _live_window(request.app, station_id)
    return PersonalWindowOut(station=station_id, session_id=s.id, athlete_id=s.athlete_id, exercise=s.exercise.value,
                             mode=state.mode, locked=state.locked, low_ms=low, high_ms=high, source=source,
                             stored_low_ms=state.low_ms, stored_high_ms=state.high_ms)


@router.get("/api/v1/stations/{station_id}/personal-window", response_model=PersonalWindowOut,
            tags=["targets"], responses=PERSONAL_READ_ERRORS)
async def get_personal_window(request: Request, _: ViewerDep, station_id: StationPath) -> PersonalWindowOut:
    """Mode, lock and current window of the athlete on this station (for this exercise)."""
    s = await _running(_registry(request), station_id)
    state = await _store(request).get(s.athlete_id, s.exercise.value)
    return await _out(request, station_id, s, state)


@router.put("/api/v1/stations/{station_id}/personal-window", response_model=PersonalWindowOut,
            tags=["targets"], responses=WRITE_ERRORS)
async def set_personal_window(
    request: Request, _: AdminDep, station_id: StationPath, body: PersonalWindowIn
) -> PersonalWindowOut:
    """Switch between the fixed and the personal window, lock or unlock; the analyzer follows at once.

    Locking freezes the window the analyzer judges with now (as ``GET`` shows it); unlocking resumes
    learning from there."""
    s = await _running(_registry(request), station_id)
    store = _store(request)
    state = await store.get(s.athlete_id, s.exercise.value)
    update: dict[str, object] = {}
    if body.mode is not None:
        update["mode"] = body.mode
    if body.locked is not None:
        update["locked"] = body.locked
        low, high, source = _live_window(request.app, station_id)
        if body.locked and source in ("personal", "locked") and low is not None and high is not None:
            update.update(low_ms=low, high_ms=high)
    state = state.model_copy(update=update)
    await store.put(s.athlete_id, s.exercise.value, state)
    sink = getattr(request.app.state, "session_sink", None)
    if sink is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail="no session publisher (Kafka) configured")
    try:
        await sink.publish(assignment_of(s))
    except PublishError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail=f"saved but not yet published ({exc}); retried automatically") from exc
    return await _out(request, station_id, s, state)


def with_personal(a: SessionAssignment, state: PersonalState) -> SessionAssignment:
    return a.model_copy(update={"target_mode": state.mode, "personal_locked": state.locked,
                                "personal_low_ms": state.low_ms, "personal_high_ms": state.high_ms})


class PersonalSessionSink:
    """A session sink that adds the personal-window fields to every assignment it publishes, so the
    periodic republish and a new session carry the coach's mode, lock and the last learned window."""

    def __init__(self, inner: Any, registry: Registry, store: PersonalStore) -> None:
        self.inner, self.registry, self.store = inner, registry, store

    def __getattr__(self, name: str) -> Any:  # pending, retry_pending, producer: the inner sink's
        return getattr(self.inner, name)

    async def enrich(self, a: SessionAssignment) -> SessionAssignment:
        if a.athlete is None or a.session is None or not a.session.isdigit():
            return a
        try:
            s = await self.registry.get_session(int(a.session))
        except NotFound:
            return a
        return with_personal(a, await self.store.get(s.athlete_id, s.exercise.value))

    async def publish(self, assignment: SessionAssignment) -> None:
        await self.inner.publish(await self.enrich(assignment))


async def remember_learned(hub: CueHub, registry: Registry, store: PersonalStore) -> int:
    """Keep each running session's last learned window, so a restarted analyzer starts from it."""
    saved = 0
    for cues in hub.recent.values():
        last = cues[-1] if cues else None
        if last is None or last.target_source != "personal" or not (last.session or "").isdigit():
            continue
        try:
            s = await registry.get_session(int(last.session or 0))
        except NotFound:
            continue
        state = await store.get(s.athlete_id, s.exercise.value)
        if state.mode == "personal" and not state.locked and (state.low_ms, state.high_ms) != (
                last.target_low_ms, last.target_high_ms):
            await store.put(s.athlete_id, s.exercise.value,
                            state.model_copy(update={"low_ms": last.target_low_ms, "high_ms": last.target_high_ms}))
            saved += 1
    return saved


async def run_cues(app: Any, bus: Any, settings: Any, stop: asyncio.Event, *, every_s: float = 10.0) -> None:
    """The API service's cue side: cue every rep, keep learned windows, report cue latency.

    Cue latency goes into the ``pipeline`` measurement (service=api) when the store takes line
    protocol (InfluxDB); the embedded SQLite store has no ``pipeline`` measurement, so there the
    figures are only at ``/api/v1/cues/latency``.
    """
    import socket

    from kinesync.api.cue_hub import follow_reps, report_cue_latency
    from kinesync.storage.base import LineStore, open_store

    hub = hub_of(app)
    hub.window_s = settings.window_s
    tasks = [asyncio.create_task(follow_reps(bus, hub, stop))]
    store = open_store(settings) if settings.influx_url else None
    if store is not None and isinstance(store, LineStore):
        await store.start()
        tasks.append(asyncio.create_task(report_cue_latency(hub, store, stop, instance=socket.gethostname())))

    async def learned() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
            reg, pstore = getattr(app.state, "registry", None), getattr(app.state, "personal_store", None)
            if isinstance(reg, Registry) and isinstance(pstore, PersonalStore):
                await remember_learned(hub, reg, pstore)

    tasks.append(asyncio.create_task(learned()))
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if store is not None:
            await store.close()
