"""A consumer's fetch wait: the settings' by default, a follower's own where it needs its data less fresh."""

from __future__ import annotations

import asyncio

from kinesync.bus.kafka import KafkaBus
from kinesync.bus.memory import MemoryBus
from kinesync.bus.topics import SESSIONS
from kinesync.models import SessionAssignment
from kinesync.settings import Settings
from kinesync.streaming.engine import AnalyzerEngine
from kinesync.streaming.runner import SESSIONS_FETCH_WAIT_MS, EngineGate, follow_sessions


async def test_kafka_consumer_waits_the_settings_unless_told_otherwise() -> None:
    bus = KafkaBus(Settings(fetch_max_wait_ms=20))
    plain = bus.consumer([SESSIONS], None)
    slow = bus.consumer([SESSIONS], None, fetch_wait_ms=200)
    # What the Kafka client will send in its fetch requests (aiokafka keeps it as given).
    assert (plain.fetch_wait_ms, plain._consumer._fetch_max_wait_ms) == (20, 20)
    assert (slow.fetch_wait_ms, slow._consumer._fetch_max_wait_ms) == (200, 200)


class _RecordingBus(MemoryBus):
    def __init__(self) -> None:
        super().__init__(partitions=2)
        self.asked: list[tuple[tuple[str, ...], int | None]] = []

    def consumer(self, topics, group, **kwargs):  # type: ignore[no-untyped-def]
        self.asked.append((tuple(topics), kwargs.get("fetch_wait_ms")))
        return super().consumer(topics, group, **kwargs)


async def test_the_analyzers_sessions_follower_asks_for_its_own_wait_and_still_gets_every_session() -> None:
    bus = _RecordingBus()
    await bus.ensure_topics([SESSIONS])
    a = SessionAssignment(station="station-01", athlete="Athlete 01", session="s1", updated_at_ns=1)
    await bus.producer().send(SESSIONS, a.model_dump_json().encode(), a.key())
    engine, stop = AnalyzerEngine(), asyncio.Event()
    task = asyncio.create_task(follow_sessions(bus, engine, stop, EngineGate()))
    for _ in range(100):
        if "station-01" in engine.assignments:
            break
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert bus.asked == [((SESSIONS,), SESSIONS_FETCH_WAIT_MS)]
    assert engine.assignments["station-01"].athlete == "Athlete 01"
    assert 20 < SESSIONS_FETCH_WAIT_MS <= 500  # above the latency-bound default, well under a human's pace


async def test_the_sessions_follower_says_when_it_has_applied_what_the_topic_held() -> None:
    """The analyzer waits for this before its first batch: a replayed backlog then meets its athletes."""
    bus = MemoryBus(partitions=2)
    await bus.ensure_topics([SESSIONS])
    producer = bus.producer()
    for k in range(1, 7):
        a = SessionAssignment(station=f"station-{k:02d}", athlete=f"Athlete {k:02d}", session="s1", updated_at_ns=k)
        await producer.send(SESSIONS, a.model_dump_json().encode(), a.key())
    engine, stop, caught_up = AnalyzerEngine(), asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(follow_sessions(bus, engine, stop, EngineGate(), caught_up))
    await asyncio.wait_for(caught_up.wait(), 5)
    assert sorted(engine.assignments) == [f"station-{k:02d}" for k in range(1, 7)]
    stop.set()
    await asyncio.wait_for(task, 5)
