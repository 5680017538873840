"""Publishing session changes to the compacted ``kinesync.sessions`` topic (key = station).

The registry is the source of truth; the topic is how analyzers learn it. A send that fails is
kept per station (only the newest state matters on a compacted topic) and retried by
``retry_pending``, which the API service calls periodically, so a broker hiccup delays tagging but
never leaves a station tagged with the wrong athlete for good.
"""

from __future__ import annotations

import logging
from typing import Protocol

from kinesync.bus.base import Producer
from kinesync.bus.topics import SESSIONS
from kinesync.models import SessionAssignment

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    pass


class SessionSink(Protocol):
    async def publish(self, assignment: SessionAssignment) -> None:
        """On the topic when this returns; PublishError otherwise (then it is retried later)."""


class ProducerSessionSink:
    """SessionSink on a started bus producer (Kafka in production, MemoryBus in tests)."""

    def __init__(self, producer: Producer) -> None:
        self.producer = producer
        self.pending: dict[str, SessionAssignment] = {}

    async def _send(self, a: SessionAssignment) -> None:
        await self.producer.send(SESSIONS, a.model_dump_json().encode(), a.key())
        await self.producer.flush()

    async def publish(self, assignment: SessionAssignment) -> None:
        self.pending[assignment.station] = assignment
        try:
            await self._send(assignment)
        except Exception as exc:  # any client error: the registry has it, the retry loop will send it
            log.warning("session for %s not published yet: %s", assignment.station, exc)
            raise PublishError(str(exc) or type(exc).__name__) from exc
        if self.pending.get(assignment.station) is assignment:
            del self.pending[assignment.station]

    async def retry_pending(self) -> int:
        """Send what failed before; returns how many are still pending."""
        for station, a in list(self.pending.items()):
            try:
                await self._send(a)
            except Exception as exc:
                log.warning("session for %s still not published: %s", station, exc)
                continue
            if self.pending.get(station) is a:
                del self.pending[station]
        return len(self.pending)


class ListSessionSink:
    """Keeps what was published: for tests and for an API run without a broker."""

    def __init__(self) -> None:
        self.published: list[SessionAssignment] = []

    async def publish(self, assignment: SessionAssignment) -> None:
        self.published.append(assignment)
