"""The API app: its routers, its limits, and the lifespan that opens what the routes use.

``create_app`` puts the live state, the cue hub, the tokens and the settings on ``app.state``. Its
lifespan, given settings, opens every store not already there (``kinesync.api.resources``) and,
given a bus, runs the Kafka workers (``kinesync.api.workers``) until the server stops. A test may
set any store on ``app.state`` itself and skip the lifespan altogether.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager

from fastapi import APIRouter, FastAPI

from kinesync.alerts.rule_source import rules_in_force
from kinesync.api.auth import ApiTokens
from kinesync.api.console import router as console_router
from kinesync.api.cue_hub import CueHub
from kinesync.api.limits import HttpLimits, LimitsMiddleware
from kinesync.api.resources import open_resources
from kinesync.api.routes import alerts, analysis, cues, facility, load_velocity, personal_windows, plans, sessions, wall
from kinesync.api.state import LiveState
from kinesync.api.workers import running_workers, seed_from_store, seed_wall_alerts
from kinesync.bus.base import Bus
from kinesync.runtime.supervisor import STATE_ENV, SupervisorState
from kinesync.settings import Settings

# Mounted in this order, which is the order of the OpenAPI document.
ROUTERS: tuple[APIRouter, ...] = (
    wall.router, facility.router, sessions.router, plans.router, analysis.router, cues.router,
    personal_windows.router, alerts.router, load_velocity.router, console_router,
)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def lifespan_for(settings: Settings | None, bus: Bus | None) -> Lifespan:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            if settings is not None:
                await open_resources(app.state, settings, bus, stack)
                s = app.state
                await seed_from_store(s.live, s.cues, getattr(s, "rep_store", None))
                rules = await rules_in_force(settings, getattr(s, "alerts_store", None))
                seed_wall_alerts(s.live, rules[0])
                if bus is not None:
                    await stack.enter_async_context(running_workers(
                        bus, settings, live=s.live, hub=s.cues, registry=s.registry, sink=s.session_sink,
                        personal_store=s.personal_store, rules=rules))
            yield

    return lifespan


def create_app(
    state: LiveState, *, title: str = "KineSync", tokens: ApiTokens | None = None, limits: HttpLimits | None = None,
    settings: Settings | None = None, bus: Bus | None = None,
) -> FastAPI:
    """The API on ``state``. Without ``settings`` the lifespan opens nothing: every store the routes
    need is the caller's to put on ``app.state`` (a route without its store answers 503)."""
    app = FastAPI(title=title, lifespan=lifespan_for(settings, bus))
    if limits is not None:  # size, rate and time limits (kinesync.api.limits); tests may leave them off
        app.add_middleware(LimitsMiddleware, limits=limits,
                           known_token=lambda _scope, token: app.state.tokens.role_of(token) is not None)
    app.state.live = state
    app.state.tokens = tokens or ApiTokens()
    app.state.cues = CueHub(live=state)  # the hub's set lags reach the wall's tiles
    app.state.started_at = time.monotonic()
    # Only `kinesync run` names a state file; /health reads the restarts from it.
    app.state.supervisor = SupervisorState(os.environ.get(STATE_ENV))
    if settings is not None:
        app.state.settings = settings
    # Console sessions survive a restart of the API when KINESYNC_CONSOLE_SECRET is set; else one per process.
    secret = settings.console_secret if settings is not None else None
    app.state.console_secret = secret.get_secret_value().encode() if secret is not None else secrets.token_bytes(32)
    # The pages are static: read now, so a missing file fails at start-up, not at the first visit.
    wall.wall_page(title)
    cues.station_template()
    for router in ROUTERS:
        app.include_router(router)
    return app
