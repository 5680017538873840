"""Publishing session changes to the compacted ``kinesync.sessions`` topic (key = station).

The registry is the source of truth; the topic is how analyzers learn it. A send that fails is
kept per station (only the newest state matters on a compacted topic) and retried by
``retry_pending``, which the API service calls periodically, so a broker hiccup delays tagging but
never leaves a station tagged with the wrong athlete for good. ``PersonalSessionSink`` wraps a sink so
every assignment carries the athlete's personal-window choices.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from kinesync.bus.base import Producer
from kinesync.bus.topics import SESSIONS
from kinesync.facility.personal import PersonalState, PersonalStore
from kinesync.facility.registry import NotFound, Registry
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


def with_personal(a: SessionAssignment, state: PersonalState) -> SessionAssignment:
    return a.model_copy(update={"target_mode": state.mode, "personal_locked": state.locked,
                                "personal_low_ms": state.low_ms, "personal_high_ms": state.high_ms})


class PersonalSessionSink:
    """A session sink that adds the personal-window fields to every assignment it publishes, so the
    periodic republish and a new session carry the coach's mode, lock and the last learned window."""

    def __init__(self, inner: Any, registry: Registry, store: PersonalStore) -> None:
        self.inner, self.registry, self.store = inner, registry, store

    def __getattr__(self, name: str) -> Any:  # pending, retry_pending, producer: the inner sink's
        return getattr(self.inner, name)

    async def enrich(self, a: SessionAssignment) -> SessionAssignment:
        if a.athlete is None or a.session is None or not a.session.isdigit():
            return a
        try:
            s = await self.registry.get_session(int(a.session))
        except NotFound:
            return a
        return with_personal(a, await self.store.get(s.athlete_id, s.exercise.value))

    async def publish(self, assignment: SessionAssignment) -> None:
        await self.inner.publish(await self.enrich(assignment))
