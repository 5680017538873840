"""C3D replay through the gateway and the real embedded broker: every mapped channel arrives float32-exact.

Recording: ../shared/data/gait_emg_forceplates_1000hz.c3d, from PhilD001/biomechZoo (Apache-2.0),
see shared/data/PROVENANCE.md.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import EMG, FORCE
from kinesync.codec.frame import decode
from kinesync.gateway.runner import run_gateway
from kinesync.settings import Settings
from kinesync.sources.c3d import C3DFile, auto_mapping
from kinesync.streaming.roles import emg_role_rows, force_rows

pytestmark = pytest.mark.integration


async def test_c3d_replay_reaches_the_analyzer_side_float32_exact(kafka_settings: Settings, shared_data: Path) -> None:
    path = shared_data / "gait_emg_forceplates_1000hz.c3d"
    settings = kafka_settings.model_copy(update={
        "gateway_source": "c3d", "gateway_file": str(path), "gateway_station": "gait-lab",
        "gateway_speed": 0.0, "gateway_port": 0,
    })
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    started_ns = time.time_ns()
    publisher = await run_gateway(bus, settings, asyncio.Event())
    stats = publisher.stats.snapshot()
    assert stats.frames_published == stats.frames_in == 80  # 1970 samples in 50 ms frames: 40 per device
    assert stats.frames_dropped == stats.frames_invalid == stats.sequence_gaps == 0

    # Read as the analyzer does: a consumer group over the input topics, frames decoded from the bytes.
    consumer = bus.consumer([EMG, FORCE], f"check-{settings.analyzer_group}")
    await consumer.start()
    frames = []
    deadline = time.monotonic() + 30
    try:
        while len(frames) < 80 and time.monotonic() < deadline:
            for msg in await consumer.getmany(timeout_ms=500):
                frame = decode(msg.value)
                assert msg.key == frame.station.encode()
                frames.append(frame)
    finally:
        await consumer.stop()
    assert len(frames) == 80

    rec = C3DFile.open(path)
    mapping = auto_mapping(rec, "gait-lab")
    by_device = {}
    for f in sorted(frames, key=lambda f: (f.device, f.seq)):
        by_device.setdefault(f.device, []).append(f)
    assert set(by_device) == {"gait-lab-emg", "gait-lab-force"}
    origin = {fs[0].t0_ns for fs in by_device.values()}
    assert len(origin) == 1, "EMG and plates share one analog clock, so one origin"
    origin_ns = origin.pop()
    assert started_ns <= origin_ns <= time.time_ns()
    checked = 0
    for dev in mapping.devices:
        got = by_device[dev.device]
        assert [f.seq for f in got] == list(range(len(got)))
        for f in got:  # consistent timestamps: sample i of the file is at origin + i / rate
            first_index = round((f.t0_ns - origin_ns) * rec.rate_hz / 1e9)
            assert f.t0_ns == origin_ns + round(first_index * 1e9 / rec.rate_hz)
            assert f.rate_hz == rec.rate_hz
        assert [f.t0_ns for f in got[1:]] == [f.end_ns for f in got[:-1]], "frames must be contiguous"
        samples = np.concatenate([f.samples for f in got], axis=1)
        assert samples.shape == (len(dev.channels), rec.n_samples)
        for row, ch in enumerate(dev.channels):
            expected = (rec.columns[ch.source] * ch.scale).astype(np.float32)
            np.testing.assert_array_equal(samples[row], expected, err_msg=f"{ch.source} → {ch.name}")
            assert got[0].channels[row] == ch.name
            checked += 1
    assert checked == 24
    # Roles the analyzer understands: rectus femoris → quad; vertical force up and positive.
    emg = by_device["gait-lab-emg"][0]
    assert emg_role_rows(emg.channels)["quad"] == [0, 1]
    force = by_device["gait-lab-force"]
    vertical, left, right = force_rows(force[0].channels)
    fz = np.concatenate([f.samples for f in force], axis=1)
    assert fz[left].max() == pytest.approx(501.4, abs=0.1) and fz[right].max() == pytest.approx(482.7, abs=0.1)
    assert fz[vertical].min() >= 0
