"""HTTP face of the live state: health, station status as JSON, and the wall page."""

from __future__ import annotations

import html
import os
import time
from importlib.resources import files

from fastapi import FastAPI, Response
from fastapi.responses import HTMLResponse

from kinesync.api.auth import ApiTokens, ViewerDep
from kinesync.api.limits import HttpLimits, LimitsMiddleware
from kinesync.api.state import LiveState, StationStatus
from kinesync.runtime.supervisor import STATE_ENV, SupervisorState


def wall_html() -> str:
    return files("kinesync.api").joinpath("static/wall.html").read_text(encoding="utf-8")


def create_app(
    state: LiveState, *, title: str = "KineSync", tokens: ApiTokens | None = None, limits: HttpLimits | None = None
) -> FastAPI:
    app = FastAPI(title=title)
    if limits is not None:  # size, rate and time limits (kinesync.api.limits); tests may leave them off
        app.add_middleware(LimitsMiddleware, limits=limits,
                           known_token=lambda _scope, token: app.state.tokens.role_of(token) is not None)
    app.state.live = state
    app.state.tokens = tokens or ApiTokens()
    started = time.monotonic()
    # Read once: the page is static, and a missing file should fail at start-up, not at first visit.
    page = wall_html().replace("{{title}}", html.escape(title))

    @app.get("/health")
    async def health() -> dict[str, object]:
        body: dict[str, object] = {
            "status": "ok", "stations": len(state), "uptime_s": round(time.monotonic() - started, 3),
            "analysis_errors": state.analysis_errors(),
        }
        # Only `kinesync run` names a state file; under another process manager the field is left out.
        supervisor = getattr(app.state, "supervisor", None)
        if supervisor is None:
            supervisor = app.state.supervisor = SupervisorState(os.environ.get(STATE_ENV))
        restarts = supervisor.restarts()
        if restarts:
            body["restarts"] = restarts
        return body

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
    # Plan templates, the live plan position, priming effect and trends (also /api/v1).
    from kinesync.api.plan_routes import router as plan_router

    app.include_router(plan_router)
    # Station view (/station/{id}), cue WebSockets and personal target windows; the hub is fed by
    # the API service's reps consumer.
    from kinesync.api.cue_hub import CueHub
    from kinesync.api.cue_routes import router as cue_router

    app.state.cues = CueHub(live=state)  # the hub's set lags reach the wall's tiles
    app.include_router(cue_router)
    # Alert subscriptions, rules and deliveries (/api/alerts); the store opens on first use.
    from kinesync.api.alerts_routes import router as alerts_router

    app.include_router(alerts_router)
    # Load–velocity profile and estimated 1RM per athlete and exercise (/api/v1).
    from kinesync.api.load_velocity_routes import router as load_velocity_router

    app.include_router(load_velocity_router)
    # The coach console (/console): server-rendered pages over the same registry, sink and tokens.
    from kinesync.api.console import router as console_router

    app.include_router(console_router)
    return app
