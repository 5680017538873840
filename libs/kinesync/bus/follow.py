"""Follow a topic without a consumer group: every record decoded into its model and handed on.

The API's live state, its cue hub and every analyzer's session table read whole topics this way; a
record that does not decode is logged and skipped (it is the producer's dead letter, not ours).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import TypeVar

from pydantic import BaseModel

from kinesync.bus.base import Bus

log = logging.getLogger("kinesync.bus")
M = TypeVar("M", bound=BaseModel)


async def follow(bus: Bus, topic: str, model: type[M], handle: Callable[[M], object],
                 stop: asyncio.Event, *, poll_ms: int, from_beginning: bool = False,
                 fetch_wait_ms: int | None = None, caught_up: asyncio.Event | None = None) -> None:
    """Read ``topic`` until ``stop``; ``handle`` gets each record as ``model`` (awaited if it is a
    coroutine function; a plain function's return value is ignored). ``fetch_wait_ms``: the
    consumer's (``Bus.consumer``; None: the settings'). ``caught_up`` is set at the first poll that
    finds nothing new: every record the topic held until then has been handled."""
    consumer = bus.consumer([topic], None, from_beginning=from_beginning, fetch_wait_ms=fetch_wait_ms)
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=poll_ms)
            for msg in batch:
                try:
                    record = model.model_validate_json(msg.value)
                except ValueError as exc:
                    log.warning("ignoring a malformed %s record at offset %d: %s", topic, msg.offset, exc)
                    continue
                done = handle(record)
                if inspect.isawaitable(done):
                    await done
            if not batch and caught_up is not None:
                caught_up.set()
    finally:
        await consumer.stop()
