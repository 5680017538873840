"""The gateway as a real HTTP server on the broker: bad input is refused clearly and never stops it."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path

import httpx
import numpy as np
import pytest

from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import FORCE
from kinesync.codec.frame import Frame, SensorKind, decode, encode
from kinesync.gateway.runner import run_gateway
from kinesync.ingest.tokens import TokenStore
from kinesync.runtime.ports import free_port, wait_port
from kinesync.settings import Settings

pytestmark = pytest.mark.integration


async def test_http_gateway_survives_bad_input_and_publishes_good_frames(kafka_settings: Settings, tmp_path: Path):
    store = TokenStore()
    token = store.add("plate-1", ["rack-1"])
    store.save(tmp_path / "tokens.json")
    port = free_port()
    settings = kafka_settings.model_copy(update={
        "gateway_source": "http", "gateway_port": port, "gateway_tokens_file": str(tmp_path / "tokens.json"),
        "gateway_max_body_kb": 64,
    })
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    stop = asyncio.Event()
    gateway = asyncio.create_task(run_gateway(bus, settings, stop))
    assert await asyncio.to_thread(wait_port, "127.0.0.1", port, 10.0)
    good = Frame("rack-1", "plate-1", SensorKind.FORCE, ("fz",), ("N",), 1000.0, 1_800_000_000_000_000_000, 0,
                 np.full((1, 50), 700.0, dtype=np.float32))
    hdr = {"Authorization": f"Bearer {token}", "content-type": "application/octet-stream"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        bad = [
            await client.post("/v1/frames", content=encode(good), headers={**hdr, "Authorization": "Bearer x"}),
            await client.post("/v1/frames", content=b"KS\x01\x02broken", headers=hdr),
            await client.post("/v1/frames", content=b"\x00" * 70_000, headers=hdr),
            await client.post("/v1/frames", content=encode(dataclasses.replace(good, station="rack-9")), headers=hdr),
        ]
        assert [r.status_code for r in bad] == [401, 422, 413, 403]
        ok = await client.post("/v1/frames", content=encode(good), headers=hdr)
        assert ok.status_code == 202, ok.text
        for _ in range(50):
            health = (await client.get("/health")).json()
            if health["frames_published"] == 1:
                break
            await asyncio.sleep(0.1)
    assert health["frames_published"] == 1 and health["connected"]
    assert health["rejected"] == {"unauthorized": 1, "malformed": 1, "too_large": 1, "unknown_station": 1}
    assert not gateway.done()
    stop.set()
    await gateway
    consumer = bus.consumer([FORCE], None)
    await consumer.start()
    try:
        msgs = await consumer.getmany(timeout_ms=2000)
    finally:
        await consumer.stop()
    (frame,) = [decode(m.value) for m in msgs]
    assert frame.station == "rack-1" and float(frame.samples[0, 0]) == 700.0
