"""HTTP face of the live state: health, station status as JSON, and the wall page."""

from __future__ import annotations

import html
import time
from importlib.resources import files

from fastapi import FastAPI, Response
from fastapi.responses import HTMLResponse

from kinesync.api.auth import ApiTokens, ViewerDep
from kinesync.api.state import LiveState, StationStatus


def wall_html() -> str:
    return files("kinesync.api").joinpath("static/wall.html").read_text(encoding="utf-8")


def create_app(state: LiveState, *, title: str = "KineSync", tokens: ApiTokens | None = None) -> FastAPI:
    app = FastAPI(title=title)
    app.state.live = state
    app.state.tokens = tokens or ApiTokens()
    started = time.monotonic()
    # Read once: the page is static, and a missing file should fail at start-up, not at first visit.
    page = wall_html().replace("{{title}}", html.escape(title))

    @app.get("/health")
    async def health() -> dict[str, object]:
        return {"status": "ok", "stations": len(state), "uptime_s": round(time.monotonic() - started, 3)}

    @app.get(
        "/api/stations", response_model=list[StationStatus],
        responses={401: {"description": "a viewer or admin token is configured and none valid was sent"}},
    )
    async def stations(response: Response, _: ViewerDep) -> list[StationStatus]:
        # Polled twice a second; an intermediate cache must never serve a frozen wall.
        response.headers["Cache-Control"] = "no-store"
        return state.snapshot()

    @app.get("/", response_class=HTMLResponse)
    async def wall() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache"})

    # Facility API (/api/v1) and the wall's push (/ws/stations); their wiring lives on app.state.
    from kinesync.api.facility_routes import router as facility_router

    app.include_router(facility_router)
    # Alert subscriptions, rules and deliveries (/api/alerts); the store opens on first use.
    from kinesync.api.alerts_routes import router as alerts_router

    app.include_router(alerts_router)
    return app
