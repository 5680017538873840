"""An in-process bus with the Kafka adapter's interface, for unit tests and benchmarks.

Partitioning, consumer groups with range assignment, committed offsets and rebalance callbacks
behave like Kafka's, so code tested here runs unchanged on a real broker.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from kinesync.bus.base import Delivery, Message, RebalanceCallback, Record, TopicPartition, call_rebalance
from kinesync.bus.partitioning import partition_for
from kinesync.bus.topics import ALL_TOPICS


@dataclass
class _Group:
    members: list[MemoryConsumer] = field(default_factory=list)
    committed: dict[TopicPartition, int] = field(default_factory=dict)


class MemoryBus:
    def __init__(self, partitions: int = 4) -> None:
        self.partitions = partitions
        self.logs: dict[str, list[list[Message]]] = {}
        self._groups: dict[str, _Group] = {}
        self._changed = asyncio.Event()
        self._ids = itertools.count()

    async def ensure_topics(self, topics: Sequence[str] = ALL_TOPICS, *, attempts: int = 1) -> None:
        # Always reachable: ``attempts`` is for the interface.
        for topic in topics:
            self.logs.setdefault(topic, [[] for _ in range(self.partitions)])

    def append(self, topic: str, value: bytes, key: bytes | None, partition: int | None = None) -> Message:
        log = self.logs.get(topic)
        if log is None:
            raise KeyError(f"topic {topic!r} does not exist; create it with ensure_topics")
        if partition is None:
            partition = partition_for(key, len(log)) if key is not None else next(self._ids) % len(log)
        part = log[partition]
        msg = Message(topic, partition, len(part), key, value, int(time.time() * 1000))
        part.append(msg)
        self._changed.set()
        return msg

    def messages(self, topic: str) -> list[Message]:
        return [m for part in self.logs.get(topic, []) for m in part]

    def producer(self, *, request_timeout_s: float | None = None) -> MemoryProducer:
        # Every send is acknowledged at once: nothing to time out.
        return MemoryProducer(self)

    def consumer(
        self,
        topics: Sequence[str],
        group: str | None,
        *,
        from_beginning: bool = True,
        on_revoked: RebalanceCallback | None = None,
        on_assigned: RebalanceCallback | None = None,
        fetch_wait_ms: int | None = None,
    ) -> MemoryConsumer:
        # fetch_wait_ms has nothing to pace here: a memory consumer wakes on every publish.
        return MemoryConsumer(self, tuple(topics), group, from_beginning, on_revoked, on_assigned)

    async def _wait(self, timeout_s: float) -> None:
        try:
            await asyncio.wait_for(self._changed.wait(), timeout_s)
        except TimeoutError:
            pass

    async def _rebalance(self, group_id: str) -> None:
        group = self._groups[group_id]
        for member in group.members:
            if member._assigned:
                await call_rebalance(member._on_revoked, set(member._assigned))
        members = sorted(group.members, key=lambda m: m._member_id)
        new: dict[int, set[TopicPartition]] = {id(m): set() for m in members}
        topics = sorted({t for m in members for t in m.topics})
        for topic in topics:
            subscribers = [m for m in members if topic in m.topics]
            n_parts = len(self.logs[topic])
            per, extra = divmod(n_parts, len(subscribers))
            start = 0
            for i, member in enumerate(subscribers):
                count = per + (1 if i < extra else 0)
                new[id(member)].update((topic, p) for p in range(start, start + count))
                start += count
        for member in members:
            member._assigned = new[id(member)]
            member._positions = {
                tp: group.committed.get(tp, 0 if member._from_beginning else len(self.logs[tp[0]][tp[1]]))
                for tp in member._assigned
            }
            await call_rebalance(member._on_assigned, set(member._assigned))


class MemoryProducer:
    def __init__(self, bus: MemoryBus) -> None:
        self._bus = bus

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> Delivery:
        delivered: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        delivered.set_result(self._bus.append(topic, value, key))
        return delivered

    async def send_many(self, records: Sequence[Record]) -> list[Delivery]:
        return [await self.send(topic, value, key) for topic, key, value in records]

    async def flush(self) -> None:
        return None


class MemoryConsumer:
    def __init__(
        self,
        bus: MemoryBus,
        topics: tuple[str, ...],
        group: str | None,
        from_beginning: bool,
        on_revoked: RebalanceCallback | None,
        on_assigned: RebalanceCallback | None,
    ) -> None:
        self._bus = bus
        self.topics = topics
        self._group = group
        self._from_beginning = from_beginning
        self._on_revoked = on_revoked
        self._on_assigned = on_assigned
        self._member_id = next(bus._ids)
        self._assigned: set[TopicPartition] = set()
        self._positions: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        for topic in self.topics:
            if topic not in self._bus.logs:
                raise KeyError(f"topic {topic!r} does not exist")
        if self._group is None:
            self._assigned = {(t, p) for t in self.topics for p in range(len(self._bus.logs[t]))}
            self._positions = {
                tp: 0 if self._from_beginning else len(self._bus.logs[tp[0]][tp[1]]) for tp in self._assigned
            }
            await call_rebalance(self._on_assigned, set(self._assigned))
            return
        group = self._bus._groups.setdefault(self._group, _Group())
        group.members.append(self)
        await self._bus._rebalance(self._group)

    async def stop(self) -> None:
        if self._group is not None:
            group = self._bus._groups[self._group]
            if self in group.members:
                group.members.remove(self)
                await call_rebalance(self._on_revoked, set(self._assigned))
                self._assigned = set()
                if group.members:
                    await self._bus._rebalance(self._group)

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def _poll(self, max_records: int | None) -> list[Message]:
        out: list[Message] = []
        for tp in sorted(self._assigned):
            part = self._bus.logs[tp[0]][tp[1]]
            pos = self._positions[tp]
            room = None if max_records is None else max_records - len(out)
            if room is not None and room <= 0:
                break
            batch = part[pos:] if room is None else part[pos : pos + room]
            out.extend(batch)
            self._positions[tp] = pos + len(batch)
        return out

    async def getmany(self, timeout_ms: int = 500, max_records: int | None = None) -> list[Message]:
        # Clear before polling: an append after the poll then still wakes the wait below.
        self._bus._changed.clear()
        out = self._poll(max_records)
        if not out and timeout_ms > 0:
            await self._bus._wait(timeout_ms / 1000)
            out = self._poll(max_records)
        return out

    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        if self._group is None:
            return
        committed = self._bus._groups[self._group].committed
        committed.update(offsets if offsets is not None else self._positions)
