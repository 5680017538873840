"""Health, the wall page (``/``), its data (``GET /api/stations``) and its push (``/ws/stations``)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import json
from importlib.resources import files

from fastapi import APIRouter, Request, Response, WebSocket
from fastapi.responses import HTMLResponse
from starlette.websockets import WebSocketDisconnect

from kinesync.api.deps import LiveDep, SupervisorDep, UptimeDep, ViewerDep, WsViewerDep
from kinesync.api.schemas.wall import StationStatus

PUSH_INTERVAL_S = 0.5

router = APIRouter()


@functools.cache
def wall_page(title: str) -> str:
    """Read once: the page is static; ``create_app`` reads it, so a missing file fails at start-up."""
    page = files("kinesync.api").joinpath("static/wall.html").read_text(encoding="utf-8")
    return page.replace("{{title}}", html.escape(title))


@router.get("/health")
async def health(live: LiveDep, supervisor: SupervisorDep, uptime_s: UptimeDep) -> dict[str, object]:
    body: dict[str, object] = {
        "status": "ok", "stations": len(live), "uptime_s": round(uptime_s, 3),
        "analysis_errors": live.analysis_errors(),
    }
    # Only `kinesync run` names a state file; under another process manager the field is left out.
    restarts = supervisor.restarts()
    if restarts:
        body["restarts"] = restarts
    return body


@router.get(
    "/api/stations", response_model=list[StationStatus],
    responses={401: {"description": "a viewer or admin token is configured and none valid was sent"}},
)
async def stations(response: Response, _: ViewerDep, live: LiveDep) -> list[StationStatus]:
    # Polled twice a second; an intermediate cache must never serve a frozen wall.
    response.headers["Cache-Control"] = "no-store"
    return live.snapshot()


@router.get("/", response_class=HTMLResponse)
async def wall(request: Request) -> HTMLResponse:
    return HTMLResponse(wall_page(request.app.title), headers={"Cache-Control": "no-cache"})


@router.websocket("/ws/stations")
async def ws_stations(ws: WebSocket, _: WsViewerDep, live: LiveDep) -> None:
    """The /api/stations list, pushed every 0.5 s (a snapshot each time, so a reconnect needs no replay)."""
    await ws.accept()

    async def drain() -> None:
        # Reading is how a closed socket is noticed; the wall sends nothing we need.
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await ws.receive_text()

    reader = asyncio.create_task(drain())
    try:
        while not reader.done():
            payload = json.dumps([s.model_dump(mode="json") for s in live.snapshot()])
            await ws.send_text(payload)
            await asyncio.wait({reader}, timeout=PUSH_INTERVAL_S)
    except (WebSocketDisconnect, RuntimeError):
        pass  # the client went away mid-send
    finally:
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
