"""The publisher: validation, sequence gaps, latency offsets, drop-oldest buffer, reconnect."""

from __future__ import annotations

import asyncio

import numpy as np

from kinesync.bus.memory import MemoryBus
from kinesync.bus.topics import EMG, FORCE
from kinesync.codec.frame import Frame, SensorKind, decode
from kinesync.gateway.publisher import BufferLimits, Publisher


def frame(seq: int, device: str = "d", t0: int = 10**18, kind: SensorKind = SensorKind.FORCE, **kw) -> Frame:
    samples = kw.pop("samples", np.ones((1, 5), dtype=np.float32))
    return Frame("s", device, kind, ("fz",), ("N",), 1000.0, t0 + seq, seq, samples, **kw)


class FlakySink:
    """Fails while ``down`` is set, like a broker that went away."""

    def __init__(self) -> None:
        self.down = False
        self.sent: list[bytes] = []
        self.connects = 0

    async def connect(self) -> None:
        if self.down:
            raise ConnectionError("broker down")
        self.connects += 1

    async def send_batch(self, records) -> None:
        if self.down:
            raise ConnectionError("broker down")
        self.sent.extend(v for _, _, v in records)

    async def close(self) -> None:
        return None


async def test_invalid_frames_are_counted_not_published_and_gaps_are_reported() -> None:
    bus = MemoryBus()
    p = Publisher(bus, latency_ms={"emg-1": 17.0})
    stop = asyncio.Event()
    task = asyncio.create_task(p.run(stop))
    assert p.submit(frame(0)) is None
    assert "NaN" in p.submit(frame(1, samples=np.array([[np.nan]], dtype=np.float32)))
    assert p.submit(frame(3)) is None
    assert p.submit(frame(0, device="emg-1", kind=SensorKind.EMG)) is None
    assert await p.wait_idle(2.0)
    stop.set()
    await task
    h = p.stats.snapshot()
    # seq 1 was rejected and seq 2 never came: both are missing downstream
    assert (h.frames_in, h.frames_invalid, h.frames_published, h.sequence_gaps) == (4, 1, 3, 2)
    assert "NaN" in h.last_error
    assert [decode(m.value).seq for m in bus.messages(FORCE)] == [0, 3]
    (emg,) = [decode(m.value) for m in bus.messages(EMG)]
    assert emg.t0_ns == 10**18 - 17_000_000  # the calibrated latency is taken off the device's stamps


async def test_outage_buffers_then_drops_oldest_and_reconnects() -> None:
    sink = FlakySink()
    dropped: list = []
    p = Publisher(MemoryBus(), limits=BufferLimits(max_frames=5), sink=sink, on_dropped=dropped.append)
    stop = asyncio.Event()
    task = asyncio.create_task(p.run(stop))
    p.submit(frame(0))
    assert await p.wait_idle(1.0)
    sink.down = True
    for seq in range(1, 9):
        p.submit(frame(seq))
    await asyncio.sleep(0.3)
    h = p.stats.snapshot()
    assert not h.connected and h.status == "degraded" and h.outages == 1
    assert h.frames_dropped == 3 and [fid[2] for fid in dropped] == [1, 2, 3]
    sink.down = False
    assert await p.wait_idle(5.0)
    stop.set()
    await task
    h = p.stats.snapshot()
    assert h.reconnects == 1 and h.frames_published == 6
    assert [decode(v).seq for v in sink.sent] == [0, 4, 5, 6, 7, 8]


async def test_age_limit_drops_frames_older_than_the_bound() -> None:
    sink = FlakySink()
    sink.down = True
    p = Publisher(MemoryBus(), limits=BufferLimits(max_age_s=0.2), sink=sink)
    stop = asyncio.Event()
    task = asyncio.create_task(p.run(stop))
    p.submit(frame(0))
    p.submit(frame(1))
    await asyncio.sleep(0.8)
    assert p.stats.dropped_age == 2 and p.stats.buffered_frames == 0
    stop.set()
    await task
