"""Bar velocity end to end through the embedded broker: sim gateway (with its LPT) → kinesync.velocity
→ analyzer → writer → SQLite, each rep's mean concentric velocity against the simulator's truth."""

from __future__ import annotations

import asyncio
import time

import pytest

from kinesync.bus.kafka import KafkaBus
from kinesync.gateway.runner import run_sim_gateway
from kinesync.settings import Settings
from kinesync.sim.athlete import SimAthlete
from kinesync.sources.sim import sim_stations
from kinesync.storage.runner import run_writer
from kinesync.storage.sqlite import SqliteStore
from kinesync.streaming.runner import run_analyzer

pytestmark = pytest.mark.integration


async def test_bar_velocity_reaches_storage_within_2_percent_of_truth(kafka_settings: Settings) -> None:
    settings = kafka_settings.model_copy(update={
        "sim_stations": 1, "sim_lags_ms": [100.0], "sim_realtime": False, "sim_duration_s": 16.0,
        "sim_bar": True, "batch_interval_s": 0.2, "max_wait_s": 15.0,
    })
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    store = SqliteStore(settings.sqlite_path)
    await store.start()
    stop = asyncio.Event()
    analyzer = asyncio.create_task(run_analyzer(bus, settings, stop))
    writer = asyncio.create_task(run_writer(bus, store, settings, stop))
    assert await run_sim_gateway(bus, settings, stop) > 0
    # Every rep of the session has the same truth: one spec, no lag–outcome coupling.
    spec = sim_stations(1, [100.0], settings.sim_seed)[0].spec
    truth = SimAthlete(spec).rep(1)
    try:
        deadline = time.monotonic() + 30.0
        all_reps, reps = [], []
        while time.monotonic() < deadline:
            all_reps = await store.query_reps()
            reps = [r for r in all_reps if r.mean_concentric_velocity_m_s is not None]
            if len(reps) >= 5:
                break
            await asyncio.sleep(0.25)
    finally:
        stop.set()
        await asyncio.gather(analyzer, writer)
    windows = [w for w in await store.query() if w.mean_concentric_velocity_m_s is not None]
    await store.close()
    assert len(reps) >= 4, f"bar velocity did not reach storage: {[r.flags for r in all_reps]}"
    # The gateway publishes the whole session at once, so the analyzer may read EMG and force frames
    # well before the first bar frame; the session declares the bar sensor, so no window closes
    # without it and every rep carries its velocity.
    assert len(reps) == len(all_reps), [(r.flags, r.mean_concentric_velocity_m_s) for r in all_reps]
    for rep in reps:
        assert rep.mean_concentric_velocity_m_s == pytest.approx(truth.mean_concentric_velocity_m_s, rel=0.02)
        assert rep.peak_concentric_velocity_m_s == pytest.approx(truth.peak_concentric_velocity_m_s, rel=0.03)
    assert windows, "the window records carry the MCV for the wall"
