"""api: health, live station status and the wall page, fed by the metrics topic."""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from kinesync.alerts.rules import LagDriftRule
from kinesync.api.app import create_app
from kinesync.api.auth import ApiTokens
from kinesync.api.cue_routes import run_cues
from kinesync.api.facility_service import keep_sessions_published, start_facility, stop_facility
from kinesync.api.limits import HttpLimits, uvicorn_options
from kinesync.api.state import LiveState
from kinesync.bus.base import Bus
from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import METRICS
from kinesync.models import WindowMetric
from kinesync.runtime.service import run_service
from kinesync.settings import Settings

log = logging.getLogger("kinesync.api")


async def follow_metrics(bus: Bus, state: LiveState, stop: asyncio.Event, rule: LagDriftRule | None = None) -> None:
    # No consumer group: every API instance sees every station. Starting at the end is enough
    # because a station's status is its newest window.
    consumer = bus.consumer([METRICS], None, from_beginning=False)
    await consumer.start()
    try:
        while not stop.is_set():
            for msg in await consumer.getmany(timeout_ms=200):
                try:
                    metric = WindowMetric.model_validate_json(msg.value)
                except ValueError as exc:
                    log.warning("ignoring a malformed metric at offset %d: %s", msg.offset, exc)
                    continue
                state.update(metric)
                # The wall's "last alert": the same pure rule the alerts service runs, evaluated here
                # so the tile needs no extra topic.
                event = rule.observe(metric) if rule is not None else None
                if event is not None:
                    state.note_alert(event.station, event.message, event.state)
    finally:
        await consumer.stop()


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    state = LiveState()
    limits = HttpLimits.for_api(settings)
    app = create_app(state, tokens=ApiTokens.from_settings(settings), limits=limits)
    if settings.console_secret is not None:  # console sessions survive a restart of the API
        app.state.console_secret = settings.console_secret.get_secret_value().encode()
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="warning", lifespan="off",
                       **uvicorn_options(settings, limits.ws_max_message_bytes or 0))
    )
    server.install_signal_handlers = lambda: None  # the service runner owns SIGINT/SIGTERM
    registry, sink = await start_facility(app, bus, settings)
    feed = asyncio.create_task(follow_metrics(bus, state, stop, LagDriftRule()))
    sessions = asyncio.create_task(keep_sessions_published(registry, sink, stop))
    cues = asyncio.create_task(run_cues(app, bus, settings, stop))  # station views and cue WebSockets
    serve = asyncio.create_task(server.serve())
    log.info("wall page on http://%s:%d/", settings.api_host, settings.api_port)
    await stop.wait()
    server.should_exit = True
    await asyncio.gather(serve, return_exceptions=True)
    feed.cancel()
    sessions.cancel()
    cues.cancel()
    await asyncio.gather(feed, sessions, cues, return_exceptions=True)
    await stop_facility(registry, sink)


def run() -> None:
    run_service("api", main)


if __name__ == "__main__":
    run()
