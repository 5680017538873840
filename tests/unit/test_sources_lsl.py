"""A real pylsl outlet in this process → LslSource: order, station, values, corrected timestamps, loss."""

from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np
import pytest

pylsl = pytest.importorskip("pylsl")

from kinesync.clock.lsl import LslClockMap  # noqa: E402
from kinesync.codec.frame import Frame, SensorKind  # noqa: E402
from kinesync.sources.lsl import LslMapping, LslSource  # noqa: E402

RATE = 1000.0
CHUNK = 50


def make_outlet(name: str) -> object:
    info = pylsl.StreamInfo(name, "EMG", 3, RATE, pylsl.cf_float32, f"{name}-{uuid.uuid4().hex[:6]}")
    chans = info.desc().append_child("channels")
    for label in ("R VL", "R GMax", "R Pec"):
        chans.append_child("channel").append_child_value("label", label)
    return pylsl.StreamOutlet(info, chunk_size=CHUNK)


async def push(outlet: object, start: int, n_chunks: int, stamps: dict[int, float]) -> None:
    """Chunks of 50 samples every 50 ms; sample k carries k in channel 0 and the outlet's stamp."""
    for c in range(n_chunks):
        ks = np.arange(start + c * CHUNK, start + (c + 1) * CHUNK)
        t_last = pylsl.local_clock()
        ts = t_last - (CHUNK - 1 - np.arange(CHUNK)) / RATE
        data = np.column_stack([ks, -ks, ks * 0.5]).astype(np.float32)
        outlet.push_chunk(data.tolist(), ts.tolist())
        stamps.update(zip(ks.tolist(), ts.tolist(), strict=True))
        await asyncio.sleep(CHUNK / RATE)


async def collect(it, out: list[Frame], until, timeout_s: float) -> None:
    async def run() -> None:
        async for f in it:
            out.append(f)
            if until():
                return

    await asyncio.wait_for(run(), timeout_s)


@pytest.mark.timeout(60)
async def test_lsl_samples_arrive_in_order_on_the_station_within_1ms_and_survive_a_lost_outlet() -> None:
    name = f"kinesync-test-{uuid.uuid4().hex[:8]}"
    mapping = LslMapping.model_validate({"streams": [{
        "name": name, "station": "rack-7", "device": "trigno-7", "kind": "emg",
        "channels": [{"source": "R VL", "name": "quad_right", "unit": "V"},
                     {"source": "R Pec", "name": "pec_right", "unit": "V"}],
    }]})
    source = LslSource(mapping, resolve_timeout_s=0.5)
    outlet = make_outlet(name)
    stop = asyncio.Event()
    frames: list[Frame] = []
    stamps: dict[int, float] = {}
    it = source.frames(stop)

    def samples_seen() -> int:
        return sum(f.n_samples for f in frames)

    pusher = asyncio.create_task(push(outlet, 0, 30, stamps))  # 1.5 s
    # Samples pushed before the inlet connected are not replayed by LSL; count from the first received.
    await collect(it, frames, lambda: samples_seen() >= 1000, 15.0)
    await pusher

    assert all(f.station == "rack-7" and f.device == "trigno-7" and f.kind is SensorKind.EMG for f in frames)
    assert frames[0].channels == ("quad_right", "pec_right") and frames[0].units == ("V", "V")
    assert [f.seq for f in frames] == list(range(len(frames)))
    ks = np.concatenate([f.samples[0] for f in frames]).astype(int)
    assert np.all(np.diff(ks) == 1), "samples in order, none missing"
    np.testing.assert_array_equal(np.concatenate([f.samples[1] for f in frames]), ks * 0.5)
    # The outlet's clock seen from facility time, measured here independently of the source:
    # the error then includes LSL's time correction and both local-clock → epoch mappings.
    ours = LslClockMap.measure(pylsl.local_clock, time.time_ns)
    errors = []
    for f in frames:
        for i, k in enumerate(f.samples[0].astype(int)):
            t_ns = f.t0_ns + round(i * 1e9 / f.rate_hz)
            errors.append((t_ns - ours.local_to_epoch_ns) / 1e9 - stamps[int(k)])
    worst_ms = float(np.max(np.abs(errors))) * 1e3
    print(f"\nLSL: {len(errors)} samples, worst timestamp error {worst_ms:.4f} ms, "
          f"correction {source.states[f'name={name}'].correction_ms:.4f} ms")
    assert worst_ms < 1.0

    # Stream loss: the outlet goes away and a new one (new source id) appears under the same name.
    del outlet
    await asyncio.sleep(1.0)
    state = source.states[f"name={name}"]
    outlet2 = make_outlet(name)
    before = len(frames)
    pusher = asyncio.create_task(push(outlet2, 100_000, 400, stamps))  # until cancelled
    try:
        await collect(it, frames, lambda: any(f.samples[0, 0] >= 100_000 for f in frames[before:]), 20.0)
    finally:
        pusher.cancel()
        stop.set()
        await it.aclose()
    assert state.losses >= 1 and state.reconnects >= 1 and state.state == "streaming"
    new = [f for f in frames[before:] if f.samples[0, 0] >= 100_000]
    assert new and new[0].seq > frames[before - 1].seq, "sequence numbers continue across a reconnect"
