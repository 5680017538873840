"""The Kafka producer's ``send_many`` on the embedded broker: one record batch per partition, and still
the partition the default partitioner picks (co-partitioning), the order within a partition, every
record acknowledged, batches split where they fill up."""

from __future__ import annotations

import asyncio

import pytest

from kinesync.bus.base import deliver
from kinesync.bus.kafka import KafkaBus
from kinesync.bus.partitioning import partition_for
from kinesync.bus.topics import EMG, FORCE

pytestmark = pytest.mark.integration


async def _read_all(bus: KafkaBus, topics: list[str], count: int):  # type: ignore[no-untyped-def]
    consumer = bus.consumer(topics, None)
    await consumer.start()
    got = []
    try:
        async with asyncio.timeout(20):
            while len(got) < count:
                got.extend(await consumer.getmany(timeout_ms=200))
    finally:
        await consumer.stop()
    return got


def test_records_land_where_plain_sends_do_in_order_and_acknowledged(kafka_bus: KafkaBus) -> None:
    async def go():  # type: ignore[no-untyped-def]
        producer = kafka_bus.producer()
        await producer.start()
        try:
            keys = [f"station-{i:02d}".encode() for i in range(1, 13)]
            # Every station's EMG and force frames interleaved, three rounds: one batch per partition.
            records = [(topic, key, f"{topic}|{key.decode()}|{r}".encode())
                       for r in range(3) for key in keys for topic in (EMG, FORCE)]
            deliveries = await producer.send_many(records)
            assert len(deliveries) == len(records)
            await asyncio.gather(*deliveries)
            # The same keys through aiokafka's own partitioner, one record each.
            plain = [await producer.send(EMG, b"plain", key) for key in keys]
            placed = await asyncio.gather(*plain)
            await producer.flush()
        finally:
            await producer.stop()
        return keys, records, placed

    keys, records, placed = asyncio.run(go())
    got = asyncio.run(_read_all(kafka_bus, [EMG, FORCE], len(records) + len(keys)))
    n = kafka_bus.settings.partitions
    default_partition = {key: meta.partition for key, meta in zip(keys, placed, strict=True)}
    for m in got:
        assert m.partition == default_partition[m.key] == partition_for(m.key, n)
    batched = [m for m in got if m.value != b"plain"]
    assert sorted(m.value for m in batched) == sorted(v for _, _, v in records)
    for topic in (EMG, FORCE):
        for key in keys:  # a station's records in the order they were given
            mine = [m for m in batched if m.topic == topic and m.key == key]
            assert [m.value.split(b"|")[2] for m in sorted(mine, key=lambda m: m.offset)] == [b"0", b"1", b"2"]
    assert len({m.partition for m in got}) > 1  # the keys did spread over the partitions


def test_a_batch_that_fills_up_is_split_and_keyless_records_still_go(kafka_bus: KafkaBus) -> None:
    payload = bytes(range(256)) * 12  # 3 KB: 300 of them are well over one 256 KB batch
    records = [(EMG, b"station-01", payload + i.to_bytes(4, "big")) for i in range(300)]
    records += [(FORCE, None, b"no key")] * 3

    async def go() -> None:
        producer = kafka_bus.producer()
        await producer.start()
        try:
            await deliver(producer, records)  # raises unless every record was acknowledged
        finally:
            await producer.stop()

    asyncio.run(go())
    got = asyncio.run(_read_all(kafka_bus, [EMG, FORCE], len(records)))
    emg = sorted((m for m in got if m.topic == EMG), key=lambda m: m.offset)
    assert [int.from_bytes(m.value[-4:], "big") for m in emg] == list(range(300))
    assert len({m.partition for m in emg}) == 1
    assert [m.value for m in got if m.topic == FORCE] == [b"no key"] * 3


def test_batches_leave_at_once_instead_of_lingering(kafka_bus: KafkaBus) -> None:
    """A send_many call hands over whole batches, so they do not wait ``linger_ms`` for more records;
    a plain send still does (the setting keeps its meaning for it)."""
    settings = kafka_bus.settings.model_copy(update={"linger_ms": 2000})
    lingering = KafkaBus(settings)

    async def go() -> tuple[float, float]:
        producer = lingering.producer()
        await producer.start()
        loop = asyncio.get_running_loop()
        try:
            t0 = loop.time()
            await asyncio.gather(*await producer.send_many([(EMG, b"station-01", b"batched")] * 3))
            batched_s = loop.time() - t0
            t0 = loop.time()
            await (await producer.send(EMG, b"plain", b"station-01"))
            plain_s = loop.time() - t0
        finally:
            await producer.stop()
        return batched_s, plain_s

    batched_s, plain_s = asyncio.run(go())
    assert batched_s < 1.0, f"send_many's batch waited {batched_s:.2f} s: it lingered"
    assert plain_s >= 1.5  # the linger is real: a lone record waits for company
