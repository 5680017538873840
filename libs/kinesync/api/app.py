"""HTTP face of the live state: health, station status as JSON, and the wall page."""

from __future__ import annotations

import html
import time
from importlib.resources import files

from fastapi import FastAPI, Response
from fastapi.responses import HTMLResponse

from kinesync.api.state import LiveState, StationStatus


def wall_html() -> str:
    return files("kinesync.api").joinpath("static/wall.html").read_text(encoding="utf-8")


def create_app(state: LiveState, *, title: str = "KineSync") -> FastAPI:
    app = FastAPI(title=title)
    app.state.live = state
    started = time.monotonic()
    # Read once: the page is static, and a missing file should fail at start-up, not at first visit.
    page = wall_html().replace("{{title}}", html.escape(title))

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "stations": len(state), "uptime_s": round(time.monotonic() - started, 3)}

    @app.get("/api/stations", response_model=list[StationStatus])
    async def stations(response: Response) -> list[StationStatus]:
        # Polled twice a second; an intermediate cache must never serve a frozen wall.
        response.headers["Cache-Control"] = "no-store"
        return state.snapshot()

    @app.get("/", response_class=HTMLResponse)
    async def wall() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    return app
