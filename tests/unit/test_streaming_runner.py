"""The analyzer loop on the in-process bus: every frame analysed in slices, sessions applied, offsets
committed no further than what was analysed."""

from __future__ import annotations

import asyncio

from kinesync.bus.memory import MemoryBus
from kinesync.bus.topics import INPUT_TOPICS, METRICS
from kinesync.gateway.runner import run_sim_gateway
from kinesync.models import WindowMetric
from kinesync.settings import Settings
from kinesync.streaming.runner import run_analyzer


async def test_simulated_frames_become_windows_of_the_assigned_athletes() -> None:
    settings = Settings(analyzer_group="analyzer-test", sim_stations=2, sim_realtime=False, sim_duration_s=6.0,
                        sim_bar=False)
    bus = MemoryBus()
    await bus.ensure_topics()
    sent = await run_sim_gateway(bus, settings, asyncio.Event())
    stop = asyncio.Event()
    analyzer = asyncio.create_task(run_analyzer(bus, settings, stop))
    try:
        async with asyncio.timeout(60):
            # The engine is returned at the end only: progress shows as windows on the topic.
            while len(bus.messages(METRICS)) < 2 * 10:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # the rest of what was fetched
    finally:
        stop.set()
        engine = await analyzer
    assert engine.counters.frames == sent
    windows = [WindowMetric.model_validate_json(m.value) for m in bus.messages(METRICS)]
    assert {w.athlete for w in windows} == {"Athlete 01", "Athlete 02"}  # from the sessions topic
    check = bus.consumer(list(INPUT_TOPICS), settings.analyzer_group)
    await check.start()
    left = await check.getmany(timeout_ms=0)
    await check.stop()
    # Committed, but not everything: the stations' buffers still need their last seconds.
    assert 0 < len(left) < sent
