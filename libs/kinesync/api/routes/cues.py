"""Station view (``/station/{id}``), the cue WebSockets, and the cues and their latency over HTTP.

Cues come from the cue hub, which the API's reps follower feeds (``kinesync.api.workers``). Reads need
the viewer (or admin) token; browsers pass it as ``?token=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import json
import time
from importlib.resources import files

from fastapi import APIRouter, Request, WebSocket
from fastapi.responses import HTMLResponse
from starlette.websockets import WebSocketDisconnect

from kinesync.analysis.cues import Cue
from kinesync.api.cue_hub import CueHub, cue_message
from kinesync.api.deps import CueHubDep, LiveDep, StationPath, ViewerDep, WsViewerDep
from kinesync.api.schemas.cues import CueLatencyOut, LatencyOut
from kinesync.api.schemas.errors import READ_ERRORS
from kinesync.api.state import LiveState

STATUS_EVERY_S = 1.0

router = APIRouter()


@functools.cache
def station_template() -> str:
    """Read once; ``create_app`` reads it, so a missing file fails at start-up, not at the first visit."""
    return files("kinesync.api").joinpath("static/station.html").read_text(encoding="utf-8")


# the station view


@router.get("/station/{station_id}", response_class=HTMLResponse, include_in_schema=False)
async def station_page(request: Request, station_id: StationPath) -> HTMLResponse:
    title = html.escape(request.app.title)
    # The id matches STATION_ID_PATTERN (letters, digits, " ._-"), so as JSON it is a safe script literal.
    body = (station_template().replace("{{title}}", title).replace("{{station_json}}", json.dumps(station_id))
            .replace("{{station}}", html.escape(station_id)))
    return HTMLResponse(body, headers={"Cache-Control": "no-cache"})


def status_message(live: LiveState, station: str) -> dict[str, object]:
    """What a station view shows beside the cues: the athlete and the window judging now."""
    out: dict[str, object] = {"type": "status", "station": station, "known": False}
    s = live.status(station)
    if s is not None:
        out.update(known=True, athlete=s.athlete, exercise=s.exercise, target_low_ms=s.target_low_ms,
                   target_high_ms=s.target_high_ms, target_source=s.target_source, stale=s.stale, age_s=s.age_s)
    return out


async def _serve_cues(ws: WebSocket, hub: CueHub, live: LiveState, station: str | None) -> None:
    await ws.accept()
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
            hello["status"] = status_message(live, station)
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
                payload = status_message(live, station) if station else {"type": "status"}
                await ws.send_text(json.dumps(payload))
                next_status = time.monotonic() + STATUS_EVERY_S
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        hub.unlisten(station, queue)
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)


@router.websocket("/ws/stations/{station_id}/cues")
async def ws_station_cues(ws: WebSocket, station_id: str, _: WsViewerDep, hub: CueHubDep, live: LiveDep) -> None:
    """Cues of one station as they happen, a status (athlete, target window) every second."""
    await _serve_cues(ws, hub, live, station_id)


@router.websocket("/ws/cues")
async def ws_all_cues(ws: WebSocket, _: WsViewerDep, hub: CueHubDep, live: LiveDep) -> None:
    """Every station's cues as they happen."""
    await _serve_cues(ws, hub, live, None)


# cues and their latency over HTTP


@router.get("/api/v1/stations/{station_id}/cues", response_model=list[Cue], tags=["cues"], responses=READ_ERRORS)
async def recent_cues(_: ViewerDep, hub: CueHubDep, station_id: StationPath) -> list[Cue]:
    """The station's last cues, oldest first (kept in memory by this API instance; at its start, those of the
    stored reps of the last minutes)."""
    return list(hub.recent.get(station_id, ()))


@router.get("/api/v1/cues/latency", response_model=CueLatencyOut, tags=["cues"], responses=READ_ERRORS)
async def cue_latency(_: ViewerDep, hub: CueHubDep) -> CueLatencyOut:
    """Cue latency over the last cues this API instance pushed (up to 4096)."""
    stats = hub.stats()
    return CueLatencyOut(shown=LatencyOut.of(stats["shown"]), pushed=LatencyOut.of(stats["pushed"]))
