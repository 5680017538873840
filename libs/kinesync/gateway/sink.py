"""Where the publisher sends: a batch either reaches the broker (acknowledged) or raises.

The gateway must know which frames were acknowledged to count drops exactly, so it waits for the
delivery of each record it sends, on the bus's own producer. Topics are (re)created on every
connect: a restarted broker may have lost them, and auto-created topics would get the wrong
partition count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from kinesync.bus.base import Bus, Producer, Record, deliver


class Sink(Protocol):
    async def connect(self) -> None:
        """Create topics and start a producer; raises while the broker is unreachable."""

    async def send_batch(self, records: Sequence[Record]) -> None:
        """Return when the broker acknowledged every record; raise otherwise."""

    async def close(self) -> None: ...


class BusSink:
    def __init__(self, bus: Bus, *, request_timeout_s: float = 5.0) -> None:
        self._bus = bus
        self._request_timeout_s = request_timeout_s
        self._producer: Producer | None = None

    async def connect(self) -> None:
        # One attempt: the publisher owns the reconnect loop and buffers meanwhile.
        await self._bus.ensure_topics(attempts=1)
        producer = self._bus.producer(request_timeout_s=self._request_timeout_s)
        try:
            await producer.start()
        except BaseException:
            await _quiet_stop(producer)
            raise
        self._producer = producer

    async def send_batch(self, records: Sequence[Record]) -> None:
        if self._producer is None:
            raise ConnectionError("not connected")
        await deliver(self._producer, records)

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _quiet_stop(producer)


async def _quiet_stop(producer: Producer) -> None:
    # A producer whose broker is gone may wait for its request timeout; never let that block a reconnect.
    try:
        await asyncio.wait_for(producer.stop(), 2.0)
    except Exception:
        pass
