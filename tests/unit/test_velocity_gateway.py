"""Bar sensors through the gateways: HTTP ingest and the sim source publish on kinesync.velocity,
and the analyzer reads that topic."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from kinesync.bus.memory import MemoryBus
from kinesync.bus.topics import INPUT_TOPICS, VELOCITY
from kinesync.codec.frame import SensorKind, decode
from kinesync.gateway.publisher import Publisher
from kinesync.ingest import TokenStore, create_gateway_app
from kinesync.sim.athlete import AthleteSpec, SimAthlete
from kinesync.sources.sim import SimSource, SimStation, sim_stations
from kinesync.streaming.engine import AnalyzerEngine
from kinesync.streaming.station import AnalysisConfig


def test_http_ingest_publishes_an_lpt_frame_on_the_velocity_topic(tmp_path: Path) -> None:
    store = TokenStore()
    token = store.add("lpt-1", ["rack-1"])
    store.save(tmp_path / "tokens.json")
    bus = MemoryBus()
    publisher = Publisher(bus)
    app = create_gateway_app(publisher, TokenStore.load(tmp_path / "tokens.json"), max_body_bytes=65536)
    client = TestClient(app)
    body = {"station": "rack-1", "device": "lpt-1", "kind": "velocity", "channels": ["bar_z"], "units": ["mm"],
            "rate_hz": 1000, "t0_ns": 1_800_000_000_000_000_000, "seq": 0, "samples": [[1400.0, 1400.2, 1400.1]]}
    r = client.post("/v1/frames", json=body, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 202, r.text

    async def deliver() -> None:
        await bus.ensure_topics()
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop))
        assert await publisher.wait_idle(5.0)
        stop.set()
        await task

    asyncio.run(deliver())
    [msg] = bus.messages(VELOCITY)
    frame = decode(msg.value)
    assert msg.key == b"rack-1" and frame.kind is SensorKind.VELOCITY and frame.channels == ("bar_z",)
    assert frame.units == ("mm",)
    np.testing.assert_allclose(frame.samples[0], [1400.0, 1400.2, 1400.1], rtol=1e-6)


def test_sim_source_publishes_the_bar_only_when_asked() -> None:
    stations = sim_stations(2, [100.0])
    without = SimSource(stations, realtime=False, origin_ns=0)
    assert {d.kind for d in without.devices} == {SensorKind.EMG, SensorKind.FORCE}
    with_bar = SimSource(stations, realtime=False, origin_ns=0, bar=True)
    bars = [d for d in with_bar.devices if d.kind is SensorKind.VELOCITY]
    assert [d.station for d in bars] == ["station-01", "station-02"]
    [frame] = bars[0].frames_until(0.05)
    spec = stations[0].spec
    assert frame.channels == SimAthlete.BAR_CHANNELS and frame.units == ("m",)
    assert frame.rate_hz == spec.bar_rate_hz and frame.n_samples == 50
    np.testing.assert_array_equal(frame.samples, SimAthlete(spec).bar(0, 50).astype(np.float32))


def test_the_analyzer_reads_the_velocity_topic() -> None:
    assert VELOCITY in INPUT_TOPICS
    station = SimStation("rack-3", "A", AthleteSpec(seed=3))
    source = SimSource([station], realtime=False, origin_ns=1_800_000_000_000_000_000, bar=True)
    engine = AnalyzerEngine(AnalysisConfig())

    async def run() -> list:
        out = []
        async for frames in source.ticks(10.0):
            for f in frames:
                out.extend(engine.add_frame(f, 0))
        return out

    windows = asyncio.run(run())
    reps = engine.take_reps()
    assert windows and not any(w.partial for w in windows)
    assert len(reps) >= 2 and all(r.mean_concentric_velocity_m_s is not None for r in reps)


@pytest.mark.timeout(30)
async def test_lsl_lpt_stream_becomes_velocity_frames() -> None:
    pylsl = pytest.importorskip("pylsl")
    from kinesync.sources.lsl import LslMapping, LslSource

    name = f"kinesync-lpt-{uuid.uuid4().hex[:8]}"
    info = pylsl.StreamInfo(name, "Position", 1, 1000.0, pylsl.cf_float32, f"{name}-src")
    info.desc().append_child("channels").append_child("channel").append_child_value("label", "LPT")
    outlet = pylsl.StreamOutlet(info, chunk_size=50)
    mapping = LslMapping.model_validate({"streams": [{
        "name": name, "station": "rack-5", "device": "lpt-5", "kind": "velocity",
        "channels": [{"source": "LPT", "name": "bar_z", "unit": "m"}],
    }]})
    source = LslSource(mapping, resolve_timeout_s=0.5)
    stop = asyncio.Event()
    frames = []

    async def push() -> None:
        for c in range(40):
            outlet.push_chunk([[1.4 + 0.001 * (c * 50 + i)] for i in range(50)])
            await asyncio.sleep(0.05)

    async def collect() -> None:
        async for f in source.frames(stop):
            frames.append(f)
            if sum(x.n_samples for x in frames) >= 300:
                return

    pusher = asyncio.create_task(push())
    await asyncio.wait_for(collect(), 20.0)
    stop.set()
    pusher.cancel()
    await asyncio.gather(pusher, return_exceptions=True)
    assert all(f.kind is SensorKind.VELOCITY and f.station == "rack-5" for f in frames)
    assert frames[0].channels == ("bar_z",) and frames[0].units == ("m",)
    values = np.concatenate([f.samples[0] for f in frames])
    np.testing.assert_allclose(np.diff(values), 0.001, atol=1e-5)
