"""The writer service loop: window and rep metrics from Kafka into storage, in batches.

Offsets are committed only after the database acknowledged the batch and the broker acknowledged its
dead letters; while either is down the loop retries and drops nothing. Every point is keyed by station
and window (or rep), so what a restart writes again overwrites instead of duplicating.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from kinesync.alerts.config import DEFAULT_RULES
from kinesync.alerts.engine import RuleEngine
from kinesync.bus.base import Bus, DeliveryError, Message, Producer, TopicPartition
from kinesync.bus.dead_letters import dead_letter_record
from kinesync.bus.topics import DEADLETTER, METRICS, REPS
from kinesync.models import DeadLetter, RepMetric, WindowMetric
from kinesync.runtime.retry import backoff_s
from kinesync.runtime.service import sleep_or_stop
from kinesync.settings import Settings
from kinesync.storage.base import LineStore, MetricStore, StorageRejected, StorageUnavailable
from kinesync.storage.pipeline import batch_lines
from kinesync.streaming.engine import dead_letter

log = logging.getLogger("kinesync.writer")


async def write_with_retry(
    store: MetricStore, metrics: list[WindowMetric | RepMetric], stop: asyncio.Event
) -> bool:
    """Write until the database acknowledges; False only when stopped first (nothing is dropped)."""
    attempt = 0
    while True:
        try:
            await store.write(metrics)
            if attempt:
                log.info("storage is back; wrote %d points after %d retries", len(metrics), attempt)
            return True
        except StorageUnavailable as exc:
            delay = backoff_s(attempt)
            if attempt % 10 == 0:
                log.warning("storage unavailable (%s); retrying, %d points waiting", exc, len(metrics))
            attempt += 1
            if await sleep_or_stop(stop, delay):
                return False


async def send_dead_letters(producer: Producer, letters: list[DeadLetter], stop: asyncio.Event) -> bool:
    """Until the broker acknowledged every dead letter; False only when stopped first."""
    attempt = 0
    while True:
        await producer.send_many([dead_letter_record(dl) for dl in letters])
        try:
            await producer.flush()
            return True
        except DeliveryError as exc:
            log.warning("dead letters not acknowledged (%s); sending them again", exc)
            attempt += 1
            if await sleep_or_stop(stop, backoff_s(attempt)):
                return False


async def write_side_points(
    store: MetricStore, rules: RuleEngine, metrics: list[WindowMetric], messages: int, dead: int
) -> None:
    """After a batch was acknowledged: its ``pipeline`` point and the alert events it triggers.

    Best effort (one try): these feed dashboards, and must never hold back the metrics' offsets.
    Stores without line protocol (SQLite) skip them.
    """
    if not isinstance(store, LineStore):
        return
    # The host name is the container name under Docker: one series per writer instance.
    lines = batch_lines(rules, metrics, service="writer", instance=socket.gethostname(), acked_at_ns=time.time_ns(),
                        batch_messages=messages, dead_letters=dead)
    try:
        await store.write_lines(lines)
    except (StorageUnavailable, StorageRejected, ValueError) as exc:
        log.warning("pipeline statistics and %d alert points not written: %s", len(lines) - 1, exc)


@dataclass(slots=True)
class DecodedBatch:
    metrics: list[WindowMetric] = field(default_factory=list)
    reps: list[RepMetric] = field(default_factory=list)
    bad: list[DeadLetter] = field(default_factory=list)  # undecodable records, for the dead-letter topic
    dead_seen: int = 0  # dead letters read, only to be counted for the pipeline-health dashboard


def decode_batch(messages: Sequence[Message]) -> DecodedBatch:
    out = DecodedBatch()
    for msg in messages:
        if msg.topic == DEADLETTER:
            out.dead_seen += 1
            continue
        model = RepMetric if msg.topic == REPS else WindowMetric
        try:
            (out.reps if msg.topic == REPS else out.metrics).append(model.model_validate_json(msg.value))
        except ValueError as exc:
            out.bad.append(dead_letter(msg, f"not a {model.__name__}: {exc}", time.time_ns()))
    return out


def next_offsets(messages: Sequence[Message]) -> dict[TopicPartition, int]:
    """Per partition, the offset after the last of ``messages``: what a commit of all of them says."""
    offsets: dict[TopicPartition, int] = {}
    for msg in messages:
        offsets[(msg.topic, msg.partition)] = max(offsets.get((msg.topic, msg.partition), 0), msg.offset + 1)
    return offsets


async def run_writer(
    bus: Bus, store: MetricStore, settings: Settings, stop: asyncio.Event, rules: RuleEngine | None = None
) -> None:
    """Write until ``stop``; a batch not yet acknowledged when it is set stays uncommitted. ``rules``: the
    alert rules whose events go beside the windows (``kinesync.alerts.rule_source.rules_in_force``);
    the default rules without."""
    # Dead letters are read only to be counted for the pipeline-health dashboard.
    consumer = bus.consumer([METRICS, REPS, DEADLETTER], settings.writer_group)
    producer = bus.producer()
    await producer.start()
    await consumer.start()
    pending: list[Message] = []
    rules = rules or RuleEngine(DEFAULT_RULES)
    first_at = 0.0
    written = 0
    try:
        while not stop.is_set():
            room = settings.batch_size - len(pending)
            # Wait no longer than the pending batch may: it is written on time, not on the next fetch.
            left_s = settings.batch_interval_s - (time.monotonic() - first_at) if pending else 0.1
            batch = await consumer.getmany(timeout_ms=max(1, min(100, round(left_s * 1000))), max_records=room)
            if batch and not pending:
                first_at = time.monotonic()
            pending.extend(batch)
            full = len(pending) >= settings.batch_size
            due = pending and time.monotonic() - first_at >= settings.batch_interval_s
            if not (full or due):
                continue
            decoded = decode_batch(pending)
            metrics, reps, bad = decoded.metrics, decoded.reps, decoded.bad
            try:
                if not await write_with_retry(store, [*metrics, *reps], stop):
                    break  # stopping: offsets stay uncommitted, so the next start writes them again
            except StorageRejected as exc:
                log.error("storage rejected a batch of %d points: %s", len(metrics), exc)
                bad.extend(
                    dead_letter(m, f"storage rejected: {exc}", time.time_ns())
                    for m in pending if m.topic in (METRICS, REPS)
                )
                metrics, reps = [], []
            else:
                await write_side_points(store, rules, metrics, len(pending), decoded.dead_seen)
            if not await send_dead_letters(producer, bad, stop):
                break  # stopping before the broker took them: offsets stay uncommitted
            await consumer.commit(next_offsets(pending))
            written += len(metrics) + len(reps)
            pending = []
    finally:
        await consumer.stop()
        await producer.stop()
        log.info("stopped after writing %d points", written)
