"""Wiring of the facility API inside the API service: registry, session publisher, republishing."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI

from kinesync.api.registry import Registry, assignment_of
from kinesync.api.sessions_out import ProducerSessionSink, PublishError
from kinesync.bus.base import Bus
from kinesync.settings import Settings
from kinesync.storage.readers import open_rep_reader

log = logging.getLogger("kinesync.api")

REPUBLISH_EVERY_S = 30.0


async def start_facility(app: FastAPI, bus: Bus, settings: Settings) -> tuple[Registry, ProducerSessionSink]:
    """Open the registry and a session producer and hang both on ``app.state`` for the routes."""
    registry = Registry(settings.registry_db, default_target_ms=(settings.target_low_ms, settings.target_high_ms))
    producer = bus.producer()
    await producer.start()
    sink = ProducerSessionSink(producer)
    # Every published assignment carries the personal-window mode, lock and last learned window.
    from kinesync.api.cue_routes import PersonalSessionSink
    from kinesync.api.personal_store import PersonalStore

    app.state.personal_store = PersonalStore(settings.registry_db)
    sink = PersonalSessionSink(sink, registry, app.state.personal_store)  # type: ignore[assignment]
    app.state.registry, app.state.session_sink = registry, sink
    # Priming effect and trends read the reps the writer stored, from the same database it writes.
    try:
        app.state.rep_store = open_rep_reader(settings)
    except ValueError as exc:  # e.g. InfluxDB 2/3 without a token: those two routes answer 503, the rest works
        log.warning("priming effect and trends unavailable: %s", exc)
        app.state.rep_store = None
    return registry, sink


async def publish_running(registry: Registry, sink: ProducerSessionSink) -> None:
    # A compacted topic makes this idempotent; it restores the analyzers' view after a broker that
    # lost its data (the embedded one keeps nothing across restarts) or a sim gateway that
    # announced its own athletes on a station a coach has since taken over.
    for s in await registry.active_sessions():
        with contextlib.suppress(PublishError):
            await sink.publish(assignment_of(s))


async def keep_sessions_published(
    registry: Registry, sink: ProducerSessionSink, stop: asyncio.Event, every_s: float = REPUBLISH_EVERY_S
) -> None:
    """Republish running sessions now and every ``every_s``; retry failed sends in between."""
    await publish_running(registry, sink)
    waited = 0.0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)
        waited += 2.0
        if sink.pending:
            await sink.retry_pending()
        if waited >= every_s:
            waited = 0.0
            await publish_running(registry, sink)


async def stop_facility(registry: Registry, sink: ProducerSessionSink) -> None:
    await sink.producer.stop()
    await registry.close()
