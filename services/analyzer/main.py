"""analyzer: a consumer-group member that turns a station's EMG and force frames into window metrics."""

from __future__ import annotations

import asyncio
import logging
import time

from kinesync.bus.base import Bus, TopicPartition
from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import DEADLETTER, INPUT_TOPICS, METRICS, REPS, SESSIONS
from kinesync.models import SessionAssignment
from kinesync.runtime.service import run_service
from kinesync.settings import Settings
from kinesync.streaming.commits import CommitTracker
from kinesync.streaming.engine import AnalyzerEngine
from kinesync.streaming.station import AnalysisConfig

log = logging.getLogger("kinesync.analyzer")


def analysis_config(settings: Settings) -> AnalysisConfig:
    return AnalysisConfig(
        window_s=settings.window_s, hop_s=settings.hop_s, max_wait_s=settings.max_wait_s,
        lateness_s=settings.lateness_s, alignment_reps=settings.alignment_reps,
        envelope_cutoff_hz=settings.envelope_cutoff_hz,
    )


async def follow_sessions(bus: Bus, engine: AnalyzerEngine, stop: asyncio.Event) -> None:
    """Every instance reads the whole compacted sessions topic: any station may move to it."""
    consumer = bus.consumer([SESSIONS], None, from_beginning=True)
    await consumer.start()
    try:
        while not stop.is_set():
            for msg in await consumer.getmany(timeout_ms=500):
                try:
                    engine.assign_session(SessionAssignment.model_validate_json(msg.value))
                except ValueError as exc:
                    log.warning("ignoring a malformed session record at offset %d: %s", msg.offset, exc)
    finally:
        await consumer.stop()


async def run_analyzer(
    bus: Bus, settings: Settings, stop: asyncio.Event, engine: AnalyzerEngine | None = None
) -> AnalyzerEngine:
    engine = engine or AnalyzerEngine(analysis_config(settings))
    commits = CommitTracker()
    consumer = None

    async def revoked(parts: set[TopicPartition]) -> None:
        # Commit only what the stations no longer need, before forgetting them: the next owner
        # replays the rest and rebuilds the same buffers.
        safe = {tp: o for tp, o in commits.safe_offsets(engine.needed_from).items() if tp in parts}
        if safe and consumer is not None:
            await producer.flush()
            await consumer.commit(safe)
        commits.forget(parts)
        gone = engine.drop_partitions(parts)
        if gone:
            log.info("handed over %d stations: %s", len(gone), ", ".join(sorted(gone)))

    consumer = bus.consumer(list(INPUT_TOPICS), settings.analyzer_group, on_revoked=revoked)
    producer = bus.producer()
    await producer.start()
    await consumer.start()
    sessions = asyncio.create_task(follow_sessions(bus, engine, stop))
    log.info("analyzer consuming %s in group %s", ", ".join(INPUT_TOPICS), settings.analyzer_group)
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=2000)
            now = time.time_ns()
            for msg in batch:
                out = engine.handle(msg, now)
                commits.record((msg.topic, msg.partition), msg.offset,
                               out.frame.station if out.frame is not None else None,
                               out.frame.end_ns if out.frame is not None else 0)
                for dl in out.dead_letters:
                    log.warning("dead letter from %s[%d]@%d: %s", dl.source_topic, dl.partition, dl.offset, dl.reason)
                    await producer.send(DEADLETTER, dl.model_dump_json().encode(), msg.key)
                for m in out.metrics:
                    await producer.send(METRICS, m.model_dump_json().encode(), m.key())
                for r in out.reps:
                    await producer.send(REPS, r.model_dump_json().encode(), r.key())
            for m in engine.tick(time.time_ns()):
                await producer.send(METRICS, m.model_dump_json().encode(), m.key())
            for r in engine.take_reps():
                await producer.send(REPS, r.model_dump_json().encode(), r.key())
            if batch:
                # Outputs first, then offsets: a crash in between re-emits, never loses.
                await producer.flush()
                await consumer.commit(commits.safe_offsets(engine.needed_from))
    finally:
        sessions.cancel()
        await asyncio.gather(sessions, return_exceptions=True)
        await consumer.stop()
        await producer.stop()
    return engine


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    engine = await run_analyzer(bus, settings, stop)
    c = engine.counters
    log.info("stopped: %d frames, %d windows, %d dead letters", c.frames, c.windows, c.dead_letters)


def run() -> None:
    run_service("analyzer", main)


if __name__ == "__main__":
    run()
