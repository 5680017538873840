"""Where the publisher sends: a batch either reaches the broker (acknowledged) or raises.

The bus's own producer queues and forgets; the gateway must know which frames were acknowledged
to count drops exactly, so for Kafka it keeps aiokafka's delivery futures. Topics are (re)created
on every connect: a restarted broker may have lost them, and auto-created topics would get the
wrong partition count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from kinesync.bus.base import Bus
from kinesync.bus.kafka import MAX_MESSAGE_BYTES, KafkaBus
from kinesync.bus.security import kafka_security_kwargs

Record = tuple[str, bytes, bytes]  # topic, key, value


class Sink(Protocol):
    async def connect(self) -> None:
        """Create topics and start a producer; raises while the broker is unreachable."""

    async def send_batch(self, records: Sequence[Record]) -> None:
        """Return when the broker acknowledged every record; raise otherwise."""

    async def close(self) -> None: ...


class KafkaSink:
    def __init__(self, bus: KafkaBus, *, request_timeout_s: float = 5.0) -> None:
        self._bus = bus
        self._timeout_ms = int(request_timeout_s * 1000)
        self._producer = None

    async def connect(self) -> None:
        from aiokafka import AIOKafkaProducer

        await self._bus.ensure_topics(attempts=1)
        s = self._bus.settings
        producer = AIOKafkaProducer(
            bootstrap_servers=s.bootstrap_servers,
            compression_type=None if s.compression == "none" else s.compression,
            linger_ms=s.linger_ms,
            max_batch_size=256 * 1024,
            max_request_size=MAX_MESSAGE_BYTES,
            acks="all",
            enable_idempotence=False,  # see kinesync.bus.kafka: not every broker offers InitProducerId
            request_timeout_ms=self._timeout_ms,
            **kafka_security_kwargs(s),
        )
        try:
            await producer.start()
        except BaseException:
            await _quiet_stop(producer)
            raise
        self._producer = producer

    async def send_batch(self, records: Sequence[Record]) -> None:
        if self._producer is None:
            raise ConnectionError("not connected")
        futures = [await self._producer.send(t, value=v, key=k) for t, k, v in records]
        await asyncio.gather(*futures)

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await _quiet_stop(producer)


async def _quiet_stop(producer: object) -> None:
    # A producer whose broker is gone may wait for its request timeout; never let that block a reconnect.
    try:
        await asyncio.wait_for(producer.stop(), 2.0)  # type: ignore[attr-defined]
    except Exception:
        pass


class BusSink:
    """Any other Bus (the in-memory one in tests): a flush means delivered."""

    def __init__(self, bus: Bus) -> None:
        self._bus = bus
        self._producer = None

    async def connect(self) -> None:
        await self._bus.ensure_topics()
        self._producer = self._bus.producer()
        await self._producer.start()

    async def send_batch(self, records: Sequence[Record]) -> None:
        if self._producer is None:
            raise ConnectionError("not connected")
        for t, k, v in records:
            await self._producer.send(t, v, k)
        await self._producer.flush()

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()


def sink_for(bus: Bus, *, request_timeout_s: float = 5.0) -> Sink:
    if isinstance(bus, KafkaBus):
        return KafkaSink(bus, request_timeout_s=request_timeout_s)
    return BusSink(bus)
