from __future__ import annotations

import asyncio

import pytest

from kinesync.bus.base import DeliveryError, deliver
from kinesync.bus.memory import MemoryBus
from kinesync.bus.partitioning import partition_for
from kinesync.bus.topics import EMG, FORCE


async def test_same_key_same_partition_number_in_every_topic_and_one_owner() -> None:
    bus = MemoryBus(partitions=4)
    await bus.ensure_topics([EMG, FORCE])
    p = bus.producer()
    stations = [f"station-{i:02d}".encode() for i in range(20)]
    for key in stations:
        await p.send(EMG, b"e", key)
        await p.send(FORCE, b"f", key)
    a = bus.consumer([EMG, FORCE], "g")
    b = bus.consumer([EMG, FORCE], "g")
    await a.start()
    await b.start()
    assert a.assignment().isdisjoint(b.assignment())
    owners: dict[bytes, set[int]] = {}
    for i, c in enumerate((a, b)):
        for msg in await c.getmany(timeout_ms=0):
            owners.setdefault(msg.key, set()).add(i)
    assert set(owners) == set(stations)
    assert all(len(v) == 1 for v in owners.values()), "a station's EMG and force went to different members"
    for key in stations:
        assert partition_for(key, 4) == partition_for(key, 4)


async def test_committed_offsets_survive_a_member_leaving() -> None:
    bus = MemoryBus(partitions=2)
    await bus.ensure_topics([EMG])
    p = bus.producer()
    for i in range(10):
        await p.send(EMG, str(i).encode(), b"k")
    revoked: list[set] = []
    a = bus.consumer([EMG], "g", on_revoked=revoked.append)
    await a.start()
    first = await a.getmany(timeout_ms=0, max_records=4)
    await a.commit({(m.topic, m.partition): m.offset + 1 for m in first})
    await a.stop()
    assert revoked and revoked[-1]
    b = bus.consumer([EMG], "g")
    await b.start()
    rest = await b.getmany(timeout_ms=0)
    assert [m.value for m in first + rest] == [str(i).encode() for i in range(10)]


async def test_a_send_returns_its_delivery_already_acknowledged() -> None:
    bus = MemoryBus(partitions=2)
    await bus.ensure_topics([EMG], attempts=1)
    producer = bus.producer(request_timeout_s=1.0)
    delivery = await producer.send(EMG, b"v", b"k")
    assert await delivery == bus.messages(EMG)[0]
    await deliver(producer, [(EMG, b"k", b"w"), (EMG, None, b"x")])
    assert sorted(m.value for m in bus.messages(EMG)) == [b"v", b"w", b"x"]


class LosingProducer:
    """Loses every second message, as a broker that went away mid-batch."""

    def __init__(self) -> None:
        self.sent = 0

    async def send(self, topic: str, value: bytes, key: bytes | None = None) -> asyncio.Future[object]:
        self.sent += 1
        fut: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.sent % 2:
            fut.set_result(None)
        else:
            fut.set_exception(ConnectionError("gone"))
        return fut

    async def send_many(self, records):  # type: ignore[no-untyped-def]
        return [await self.send(topic, value, key) for topic, key, value in records]


async def test_deliver_raises_when_any_record_was_not_acknowledged() -> None:
    with pytest.raises(DeliveryError, match="2 of 4 message"):
        await deliver(LosingProducer(), [(EMG, None, b"v")] * 4)  # type: ignore[arg-type]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_follow_hands_on_every_record_and_skips_what_does_not_decode(asynchronous: bool) -> None:
    from kinesync.bus.follow import follow
    from kinesync.bus.topics import SESSIONS
    from kinesync.models import SessionAssignment

    bus = MemoryBus(partitions=2)
    await bus.ensure_topics([SESSIONS])
    p = bus.producer()
    good = [SessionAssignment(station=f"station-{i:02d}", athlete=f"a{i}") for i in range(3)]
    await p.send(SESSIONS, good[0].model_dump_json().encode(), b"station-00")
    await p.send(SESSIONS, b"{not json", b"station-00")
    await p.send(SESSIONS, b'{"station": "station-09", "athelte": "typo"}', b"station-09")  # unknown field
    for s in good[1:]:
        await p.send(SESSIONS, s.model_dump_json().encode(), s.station.encode())
    seen: list[SessionAssignment] = []
    stop = asyncio.Event()

    def take(s: SessionAssignment) -> int:  # a return value is not awaited
        seen.append(s)
        if len(seen) == len(good):
            stop.set()
        return len(seen)

    async def take_async(s: SessionAssignment) -> None:
        take(s)

    await asyncio.wait_for(follow(bus, SESSIONS, SessionAssignment, take_async if asynchronous else take, stop,
                                  poll_ms=10, from_beginning=True), 5.0)
    assert sorted(s.station for s in seen) == [s.station for s in good]
