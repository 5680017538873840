"""The Kafka adapter on aiokafka: explicit topics, batching producer, co-partitioned consumer groups.

A station's EMG and force topics have the same partition count and the same key, so with the
range assignor one group member owns both of a station's partitions (see docs/architecture.md).
Nothing here is specific to the embedded broker: it runs unchanged against Apache Kafka.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from aiokafka.producer.message_accumulator import BatchBuilder
from aiokafka.structs import OffsetAndMetadata

from kinesync.bus.base import Delivery, DeliveryError, Message, RebalanceCallback, Record, call_rebalance
from kinesync.bus.base import TopicPartition as TP
from kinesync.bus.partitioning import partition_for
from kinesync.bus.security import connection_hint, kafka_security_kwargs
from kinesync.bus.topics import ALL_TOPICS, COMPACTED
from kinesync.runtime.retry import backoff_s
from kinesync.settings import Settings

log = logging.getLogger(__name__)
MAX_MESSAGE_BYTES = 8 * 1024 * 1024
_MAX_CACHED_KEYS = 65_536  # keys whose partition a producer remembers per topic (stations: a few hundred)


class KafkaBus:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def ensure_topics(self, topics: Sequence[str] = ALL_TOPICS, *, attempts: int = 30) -> None:
        """Create missing topics with the configured partition count (idempotent).

        Explicit creation matters: auto-created topics get the broker's default partition count,
        which breaks co-partitioning.
        """
        s = self.settings
        for attempt in range(attempts):
            admin = AIOKafkaAdminClient(
                bootstrap_servers=s.bootstrap_servers, client_id="kinesync-admin", **kafka_security_kwargs(s)
            )
            try:
                await admin.start()
                existing = set(await admin.list_topics())
                missing = [t for t in topics if t not in existing]
                if missing:
                    new = [
                        NewTopic(
                            t,
                            s.partitions,
                            s.replication_factor,
                            topic_configs={"cleanup.policy": "compact"} if t in COMPACTED else {},
                        )
                        for t in missing
                    ]
                    try:
                        await admin.create_topics(new)
                    except TopicAlreadyExistsError:
                        pass
                    log.info("created topics %s with %d partitions", ", ".join(missing), s.partitions)
                return
            except (KafkaConnectionError, OSError) as exc:
                if attempt == attempts - 1:
                    raise ConnectionError(
                        f"cannot reach Kafka at {s.bootstrap_servers} ({exc}); {connection_hint(s)}"
                    ) from exc
                await asyncio.sleep(backoff_s(attempt, 0.2, 2.0, fixed_share=1.0))
            finally:
                await admin.close()

    def producer(self, *, request_timeout_s: float | None = None) -> KafkaProducer:
        return KafkaProducer(self.settings, request_timeout_s=request_timeout_s)

    def consumer(
        self,
        topics: Sequence[str],
        group: str | None,
        *,
        from_beginning: bool = True,
        on_revoked: RebalanceCallback | None = None,
        on_assigned: RebalanceCallback | None = None,
        fetch_wait_ms: int | None = None,
    ) -> KafkaConsumer:
        return KafkaConsumer(self.settings, tuple(topics), group, from_beginning, on_revoked, on_assigned,
                             fetch_wait_ms)


class KafkaProducer:
    def __init__(self, settings: Settings, *, request_timeout_s: float | None = None) -> None:
        compression = None if settings.compression == "none" else settings.compression
        # aiokafka fails an unacknowledged send after its request timeout (default 40 s); a caller that
        # reconnects on failure (the gateway) wants to hear sooner.
        timeout = {} if request_timeout_s is None else {"request_timeout_ms": int(request_timeout_s * 1000)}
        self._producer = AIOKafkaProducer(
            bootstrap_servers=settings.bootstrap_servers,
            compression_type=compression,
            linger_ms=settings.linger_ms,
            max_batch_size=256 * 1024,
            max_request_size=MAX_MESSAGE_BYTES,
            acks="all",
            # Idempotence needs InitProducerId, which not every Kafka-compatible broker offers;
            # duplicates are harmless downstream because storage keys are deterministic.
            enable_idempotence=False,
            **timeout,
            **kafka_security_kwargs(settings),
        )

        # aiokafka reports a lost message only on its delivery future; flush() must say so, or a
        # caller would commit input offsets for outputs the broker never took (e.g. across a restart).
        self._in_flight: set[asyncio.Future[object]] = set()
        self._batch_sizes: dict[asyncio.Future[object], int] = {}  # records per batch future (send_many)
        self._partitions: dict[tuple[str, int], dict[bytes, int]] = {}  # (topic, partitions) → key → partition
        self._failed = 0
        self._error: BaseException | None = None

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    def _settled(self, fut: asyncio.Future[object]) -> None:
        self._in_flight.discard(fut)
        records = self._batch_sizes.pop(fut, 1)
        if fut.cancelled() or fut.exception() is not None:
            self._failed += records
            self._error = self._error or (fut.exception() if not fut.cancelled() else asyncio.CancelledError())

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> Delivery:
        fut = await self._producer.send(topic, value=value, key=key)
        self._in_flight.add(fut)
        fut.add_done_callback(self._settled)
        return fut

    async def send_many(self, records: Sequence[Record]) -> list[Delivery]:
        """``send`` for each record, in one record batch per partition (split where a batch is full).

        Through aiokafka's ``send`` a record cost 19 us of client CPU, through this 10 us (docs/performance.md):
        its partitioner is pure-Python murmur2, and each record gets a future and a batch lookup of its own;
        a gateway sends 40 frames per station-second.
        Batches built here go through the same accumulator, compression and retries, to the partition
        the default partitioner would pick, so a station's topics stay co-partitioned.
        """
        out: list[Delivery | None] = [None] * len(records)
        groups: dict[tuple[str, int], list[int]] = {}
        for i, (topic, key, _) in enumerate(records):
            if key is None:  # the default partitioner spreads keyless records at random: leave it that
                out[i] = await self.send(topic, records[i][2], None)
                continue
            groups.setdefault((topic, await self._partition(topic, key)), []).append(i)
        for (topic, partition), rows in groups.items():
            batch, members = self._producer.create_batch(), []
            for i in rows:
                _, key, value = records[i]
                if batch.append(key=key, value=value, timestamp=None) is None:
                    if members:  # full: send it, and start the next one with this record
                        await self._send_batch(batch, topic, partition, members, out)
                        batch, members = self._producer.create_batch(), []
                    if batch.append(key=key, value=value, timestamp=None) is None:
                        out[i] = await self.send(topic, value, key)  # larger than a batch: on its own
                        continue
                members.append(i)
            if members:
                await self._send_batch(batch, topic, partition, members, out)
        return out  # type: ignore[return-value]  # every slot is filled above

    async def _send_batch(
        self, batch: BatchBuilder, topic: str, partition: int, members: list[int], out: list[Delivery | None]
    ) -> None:
        # Closed, the batch leaves with the sender's next request instead of lingering ``linger_ms`` for
        # records that would join it: a send_many call hands over everything it has (a tick's frames, a
        # slice's records), so the wait would only add latency (5 ms a hop, docs/performance.md).
        batch.close()
        fut = await self._producer.send_batch(batch, topic, partition=partition)
        self._in_flight.add(fut)
        self._batch_sizes[fut] = len(members)
        fut.add_done_callback(self._settled)
        for i in members:
            out[i] = fut

    async def _partition(self, topic: str, key: bytes) -> int:
        """The partition aiokafka's default partitioner picks for ``key`` (murmur2 over the sorted
        partition ids), remembered per topic and partition count."""
        n = len(await self._producer.partitions_for(topic))
        cache = self._partitions.get((topic, n))
        if cache is None:
            if len(self._partitions) > 64:
                self._partitions.clear()
            cache = self._partitions[(topic, n)] = {}
        p = cache.get(key)
        if p is None:
            if len(cache) >= _MAX_CACHED_KEYS:
                cache.clear()
            p = cache[key] = partition_for(key, n)
        return p

    async def flush(self) -> None:
        """Return when everything sent so far is on the broker; DeliveryError if anything was not."""
        await self._producer.flush()
        if self._in_flight:
            await asyncio.wait(list(self._in_flight))
        failed, error = self._failed, self._error
        self._failed, self._error = 0, None
        if failed:
            raise DeliveryError(f"{failed} message(s) not acknowledged by the broker: {error!r}")


class _Listener(ConsumerRebalanceListener):
    def __init__(self, on_revoked: RebalanceCallback | None, on_assigned: RebalanceCallback | None) -> None:
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await call_rebalance(self._on_revoked, {(tp.topic, tp.partition) for tp in revoked})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await call_rebalance(self._on_assigned, {(tp.topic, tp.partition) for tp in assigned})


class KafkaConsumer:
    def __init__(
        self,
        settings: Settings,
        topics: tuple[str, ...],
        group: str | None,
        from_beginning: bool,
        on_revoked: RebalanceCallback | None,
        on_assigned: RebalanceCallback | None,
        fetch_wait_ms: int | None = None,
    ) -> None:
        self._topics = topics
        self.fetch_wait_ms = settings.fetch_max_wait_ms if fetch_wait_ms is None else fetch_wait_ms
        self._group = group
        self._from_beginning = from_beginning
        self._listener = _Listener(on_revoked, on_assigned)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.bootstrap_servers,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest" if from_beginning else "latest",
            partition_assignment_strategy=(RangePartitionAssignor,),
            # Small fetches keep a station's EMG and force partitions close in event time; a
            # message larger than this is still delivered whole (one batch per fetch at least).
            max_partition_fetch_bytes=256 * 1024,
            fetch_max_bytes=4 * 1024 * 1024,
            # aiokafka's default is 500 ms; on the embedded broker a produce → fetch hop then takes
            # ~140 ms (median), with 20 ms ~13 ms. A metric pays it twice (docs/performance.md).
            fetch_max_wait_ms=self.fetch_wait_ms,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
            # A subscribed topic that vanished (a broker that lost its data) and was created again is
            # picked up at the next metadata refresh; aiokafka's default waits 5 minutes for it.
            metadata_max_age_ms=5_000,
            **kafka_security_kwargs(settings),
        )

    async def start(self) -> None:
        await self._consumer.start()
        if self._group is None:
            parts = []
            for topic in self._topics:
                for p in self._consumer.partitions_for_topic(topic) or await self._partitions(topic):
                    parts.append(TopicPartition(topic, p))
            self._consumer.assign(parts)
            if self._from_beginning:
                await self._consumer.seek_to_beginning(*parts)
            else:
                await self._consumer.seek_to_end(*parts)
            await call_rebalance(self._listener._on_assigned, {(tp.topic, tp.partition) for tp in parts})
        else:
            self._consumer.subscribe(list(self._topics), listener=self._listener)

    async def _partitions(self, topic: str) -> set[int]:
        for _ in range(50):
            await self._consumer._client.force_metadata_update()
            parts = self._consumer.partitions_for_topic(topic)
            if parts:
                return parts
            await asyncio.sleep(0.1)
        raise ConnectionError(f"topic {topic!r} has no partitions; was it created (kinesync topics)?")

    async def stop(self) -> None:
        await self._consumer.stop()

    def assignment(self) -> set[TP]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    async def getmany(self, timeout_ms: int = 500, max_records: int | None = None) -> list[Message]:
        batches = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
        out: list[Message] = []
        for records in batches.values():
            out.extend(Message(r.topic, r.partition, r.offset, r.key, r.value, r.timestamp) for r in records)
        return out

    async def commit(self, offsets: Mapping[TP, int] | None = None) -> None:
        if self._group is None:
            return
        try:
            if offsets is None:
                await self._consumer.commit()
            elif offsets:
                await self._consumer.commit(
                    {TopicPartition(t, p): OffsetAndMetadata(o, "") for (t, p), o in offsets.items()}
                )
        except KafkaError as exc:
            # The group moved on (rebalance, or a restarted broker that forgot this member). Not
            # committing is always safe: the next owner re-reads from the last commit, and every
            # output is keyed, so the replay overwrites.
            log.warning("offsets not committed for group %s: %r", self._group, exc)

    async def rewind(self) -> None:
        """Go back to the group's committed offsets (the beginning where there are none), for a redo."""
        parts = self._consumer.assignment()
        if not parts or self._group is None:
            return
        committed = {tp: await self._consumer.committed(tp) for tp in parts}
        fresh = [tp for tp, o in committed.items() if o is None]
        for tp, o in committed.items():
            if o is not None:
                self._consumer.seek(tp, o)
        if fresh:
            await self._consumer.seek_to_beginning(*fresh)
