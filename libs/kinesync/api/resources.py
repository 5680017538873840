"""What the API's lifespan opens on ``app.state`` from the settings: registry, personal-window store,
session publisher, rep store and alerts database.

Whatever is already there was put there by the caller (a test, an embedding) and is left alone:
neither replaced nor closed. What is opened here is closed, and taken off ``app.state`` again, by
the exit stack it is registered with.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from starlette.datastructures import State

from kinesync.alerts.store import AlertStore
from kinesync.api.sessions_out import PersonalSessionSink, ProducerSessionSink
from kinesync.bus.base import Bus
from kinesync.facility.personal import PersonalStore
from kinesync.facility.registry import Registry
from kinesync.settings import Settings
from kinesync.storage.readers import open_rep_reader

log = logging.getLogger("kinesync.api")


def _given(state: State, name: str) -> bool:
    return getattr(state, name, None) is not None


Closer = Callable[[], Awaitable[None] | None]


def _own(state: State, stack: AsyncExitStack, name: str, value: Any, close: Closer) -> None:
    setattr(state, name, value)
    stack.callback(delattr, state, name)  # unwound last: closed first, then forgotten

    async def closing() -> None:
        result = close()
        if result is not None:
            await result

    stack.push_async_callback(closing)


async def open_resources(state: State, settings: Settings, bus: Bus | None, stack: AsyncExitStack) -> None:
    if not _given(state, "registry"):
        registry = Registry(settings.registry_db, default_target_ms=(settings.target_low_ms, settings.target_high_ms))
        _own(state, stack, "registry", registry, registry.close)
    if not _given(state, "personal_store"):
        personal = PersonalStore(settings.registry_db)
        _own(state, stack, "personal_store", personal, personal.close)
    if not _given(state, "session_sink") and bus is not None:
        producer = bus.producer()
        await producer.start()
        # Every published assignment carries the personal-window mode, lock and last learned window.
        sink = PersonalSessionSink(ProducerSessionSink(producer), state.registry, state.personal_store)
        _own(state, stack, "session_sink", sink, producer.stop)
    if not _given(state, "rep_store"):
        # Priming effect, trends and load–velocity read the reps the writer stored, from its database.
        try:
            reps = open_rep_reader(settings)
        except ValueError as exc:  # e.g. InfluxDB 2/3 without a token: those routes answer 503, the rest works
            log.warning("priming effect and trends unavailable: %s", exc)
        else:
            _own(state, stack, "rep_store", reps, reps.close)
    if not _given(state, "alerts_store"):
        alerts = AlertStore(settings.alerts_db)
        _own(state, stack, "alerts_store", alerts, alerts.close)
