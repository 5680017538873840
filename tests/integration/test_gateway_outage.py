"""Broker killed and restarted mid-stream: the gateway reconnects by itself and counts drops exactly.

The embedded broker (Tansu, memory storage) loses everything on restart, so the gateway must also
re-create the topics. Replays ../shared/data/gait_emg_forceplates_1000hz.c3d (biomechZoo,
Apache-2.0; shared/data/PROVENANCE.md) at real time, looping.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import EMG, FORCE
from kinesync.codec.frame import decode
from kinesync.gateway.publisher import BufferLimits, Publisher
from kinesync.runtime.broker import EmbeddedBroker
from kinesync.settings import Settings
from kinesync.sources.c3d import read_c3d
from kinesync.sources.replay import ReplaySource

pytestmark = pytest.mark.integration


async def _outage_run(broker: EmbeddedBroker, settings: Settings, path: Path, limits: BufferLimits, tmp: Path):
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    delivered: list[tuple[str, str, int]] = []
    dropped: list[tuple[str, str, int]] = []
    submitted: list[tuple[str, str, int]] = []
    publisher = Publisher(bus, limits=limits, send_timeout_s=1.0,
                          on_delivered=delivered.append, on_dropped=dropped.append)
    stop = asyncio.Event()
    sender = asyncio.create_task(publisher.run(stop))
    source = ReplaySource([read_c3d(path, station="gait-lab")], speed=1.0, loop=True)
    restarted: list[EmbeddedBroker] = []
    delivered_before_restart = 0

    async def outage() -> None:
        nonlocal delivered_before_restart
        await asyncio.sleep(1.5)
        broker.kill()
        await asyncio.sleep(2.5)
        delivered_before_restart = len(delivered)
        restarted.append(EmbeddedBroker(port=broker.port, log_path=tmp / "broker2.log").start())

    chaos = asyncio.create_task(outage())
    t_end = time.monotonic() + 7.0
    async for frames in source.ticks():
        for f in frames:
            assert publisher.submit(f) is None
            submitted.append((f.station, f.device, f.seq))
        if time.monotonic() >= t_end:
            break
    await chaos
    assert await publisher.wait_idle(20.0), "the gateway did not catch up after the restart"
    health = publisher.stats.snapshot()
    stop.set()
    await sender
    # What the restarted broker holds: every frame acknowledged after the restart must be there.
    consumer = bus.consumer([EMG, FORCE], None)
    await consumer.start()
    on_new_broker: set[tuple[str, str, int]] = set()
    try:
        for _ in range(20):
            batch = await consumer.getmany(timeout_ms=300)
            on_new_broker.update((f.station, f.device, f.seq) for f in map(decode, (m.value for m in batch)))
            if not batch and on_new_broker:
                break
    finally:
        await consumer.stop()
        for b in restarted:
            b.stop()
    return health, submitted, delivered, dropped, on_new_broker, delivered[delivered_before_restart:]


async def test_outage_within_the_buffer_drops_nothing(broker, kafka_settings, shared_data, tmp_path) -> None:
    health, submitted, delivered, dropped, on_new, after = await _outage_run(
        broker, kafka_settings, shared_data / "gait_emg_forceplates_1000hz.c3d", BufferLimits(), tmp_path
    )
    print(f"\noutage within buffer: {health.outages} outage(s), {health.reconnects} reconnect(s), "
          f"{len(submitted)} frames, {health.frames_dropped} dropped")
    assert health.outages >= 1 and health.reconnects >= 1 and health.connected
    assert health.frames_dropped == 0 and not dropped
    assert set(delivered) == set(submitted), "every frame was acknowledged by one of the two brokers"
    assert health.frames_published >= len(submitted)
    assert set(after) <= on_new
    # Nothing lost across the outage: the restarted broker has one unbroken run per device up to the end.
    for device in ("gait-lab-emg", "gait-lab-force"):
        seqs = sorted(s for _, d, s in on_new if d == device)
        assert seqs == list(range(seqs[0], seqs[-1] + 1)) and seqs[-1] == max(s for _, d, s in submitted if d == device)


async def test_outage_beyond_the_buffer_counts_every_dropped_frame(
    broker, kafka_settings, shared_data, tmp_path
) -> None:
    limits = BufferLimits(max_frames=30)  # 0.75 s of this replay (40 frames/s): the 2.5 s outage overflows
    health, submitted, delivered, dropped, on_new, after = await _outage_run(
        broker, kafka_settings, shared_data / "gait_emg_forceplates_1000hz.c3d", limits, tmp_path
    )
    missing = set(submitted) - set(delivered)
    print(f"\noutage beyond buffer: {len(submitted)} frames, {health.frames_dropped} dropped, "
          f"{len(missing)} never acknowledged")
    assert health.reconnects >= 1 and health.connected
    assert health.frames_dropped == len(dropped) == len(missing) > 0
    assert set(dropped) == missing
    assert health.dropped_overflow == health.frames_dropped
    assert set(after) <= on_new
    # Oldest first: every dropped frame of a device precedes every frame delivered after the restart.
    for device in ("gait-lab-emg", "gait-lab-force"):
        last_dropped = max(s for _, d, s in dropped if d == device)
        assert all(s > last_dropped for _, d, s in after if d == device)
