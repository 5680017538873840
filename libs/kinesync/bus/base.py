"""The message-bus interface shared by the Kafka adapter and the in-process bus."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

TopicPartition = tuple[str, int]
# Called with the partitions a consumer loses (before) or gains (after) in a rebalance.
RebalanceCallback = Callable[[set[TopicPartition]], Awaitable[None] | None]


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    timestamp_ms: int


class Producer(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        """Queue a message; it is on the broker after ``flush`` returns."""

    async def flush(self) -> None: ...


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

    async def ensure_topics(self, topics: Sequence[str] = ...) -> None: ...

    def producer(self) -> Producer: ...

    def consumer(
        self,
        topics: Sequence[str],
        group: str | None,
        *,
        from_beginning: bool = True,
        on_revoked: RebalanceCallback | None = None,
        on_assigned: RebalanceCallback | None = None,
    ) -> Consumer:
        """A consumer in ``group`` (None: no group, reads every partition from the beginning)."""
