"""The message-bus interface shared by the Kafka adapter and the in-process bus, and its helpers."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

TopicPartition = tuple[str, int]
# Called with the partitions a consumer loses (before) or gains (after) in a rebalance.
RebalanceCallback = Callable[[set[TopicPartition]], Awaitable[None] | None]
# Resolves when the broker acknowledged one message; raises when it refused or lost it.
Delivery = Awaitable[object]
Record = tuple[str, bytes | None, bytes]  # topic, key, value


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int


class DeliveryError(ConnectionError):
    """Messages given to ``send`` were not acknowledged; whoever sent them must not commit their inputs."""


class Producer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> Delivery:
        """Queue a message; it is on the broker once the returned delivery resolves, or once ``flush`` returns."""

    async def send_many(self, records: Sequence[Record]) -> list[Delivery]:
        """Queue ``records`` as ``send`` would, one after the other, and return one delivery per record
        (records of one partition may share one); the order within a partition is kept."""

    async def flush(self) -> None:
        """Return when everything sent so far is on the broker; DeliveryError if anything was not."""


class Consumer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def getmany(self, timeout_ms: int = 500, max_records: int | None = None) -> list[Message]:
        """Messages in partition order; an empty list after ``timeout_ms`` without any."""

    async def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit ``offsets`` (the next offset to read per partition), or everything returned so far."""

    def assignment(self) -> set[TopicPartition]: ...


class Bus(Protocol):
    """A factory for producers and consumers on one cluster."""

    async def ensure_topics(self, topics: Sequence[str] = ..., *, attempts: int = ...) -> None:
        """Create missing topics; ConnectionError when the cluster was unreachable ``attempts`` times."""

    def producer(self, *, request_timeout_s: float | None = None) -> Producer:
        """A producer; ``request_timeout_s`` bounds how long an unacknowledged send may wait (None: the default)."""

    def consumer(
        self,
        topics: Sequence[str],
        group: str | None,
        *,
        from_beginning: bool = True,
        on_revoked: RebalanceCallback | None = None,
        on_assigned: RebalanceCallback | None = None,
        fetch_wait_ms: int | None = None,
    ) -> Consumer:
        """A consumer in ``group`` (None: no group, reads every partition from the beginning).

        ``fetch_wait_ms``: longest a fetch waits at the broker for new data (None: the settings'
        ``fetch_max_wait_ms``); a consumer that needs its data less fresh asks the broker less often.
        """


async def call_rebalance(callback: RebalanceCallback | None, parts: set[TopicPartition]) -> None:
    """Run a rebalance callback, plain or async."""
    if callback is None:
        return
    result = callback(parts)
    if inspect.isawaitable(result):
        await result


async def deliver(producer: Producer, records: Iterable[Record]) -> None:
    """Send ``records`` and return once the broker acknowledged each of them; DeliveryError otherwise.

    Waits for these records only, not for whatever else the producer has in flight.
    """
    deliveries = await producer.send_many(list(records))
    outcomes = await asyncio.gather(*deliveries, return_exceptions=True)
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    if failed:
        raise DeliveryError(f"{len(failed)} of {len(outcomes)} message(s) not acknowledged by the broker: "
                            f"{failed[0]!r}")
