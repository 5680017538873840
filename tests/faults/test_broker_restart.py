"""The broker stopped and started again on the same port while gateway, analyzer and writer run.

Every service recovers by itself: the gateway buffers and recreates the topics, consumers rejoin
their groups, the analyzer replays what the broker did not acknowledge. The embedded broker keeps
everything in memory, so what it held when it stopped (frames not yet analysed, metrics not yet
written) is gone: the test bounds that loss to the windows around the outage and counts it. Every
window outside that span is stored exactly once.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import pytest

from kinesync.bus.kafka import KafkaBus
from kinesync.runtime.broker import EmbeddedBroker
from kinesync.settings import Settings
from tests.faults.pipeline_procs import (
    NS,
    Service,
    SimFloor,
    compare,
    ground_truth_async,
    service_env,
    sqlite_key_violations,
    sqlite_stored,
    start_publisher,
    stored_window_keys,
    wait_until,
)

pytestmark = [pytest.mark.integration]

STATIONS = 3
SESSION_S = 35.0
DOWN_S = 3.0


async def test_broker_restart_services_recover_and_the_loss_is_bounded(
    broker: EmbeddedBroker, kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = kafka_settings.model_copy(update={"batch_interval_s": 0.2, "max_wait_s": 30.0})
    floor = SimFloor.of(settings, STATIONS, SESSION_S)
    truth = await ground_truth_async(settings, floor)

    bus = KafkaBus(settings)
    await bus.ensure_topics()
    analyzer = Service("analyzer", service_env(settings), tmp_path / "analyzer.log").start()
    writer = Service("writer", service_env(settings), tmp_path / "writer.log").start()
    stop = asyncio.Event()
    publisher, sender = start_publisher(bus, stop)
    t0 = time.monotonic()
    feed = asyncio.create_task(floor.run(publisher, stop))
    restarted: list[EmbeddedBroker] = []

    async def stored_count() -> int:
        return len(stored_window_keys(sqlite_stored(settings.sqlite_path)))

    try:
        await wait_until(lambda: _at_least(stored_count, STATIONS * 24), 60, "windows stored before the restart")
        before = await stored_count()
        stopped_at = floor.event_time_ns(time.monotonic(), t0)
        broker.stop()
        await asyncio.sleep(DOWN_S)
        restarted.append(EmbeddedBroker(port=broker.port, log_path=tmp_path / "broker2.log").start())
        back_at = floor.event_time_ns(time.monotonic(), t0)
        await asyncio.wait_for(feed, SESSION_S + 30)
        c = settings
        span = (stopped_at - round((c.window_s + c.lateness_s + 1.0) * NS), back_at + round((c.window_s + 1.0) * NS))
        outside = {k for k in truth.windows if not span[0] <= k[1] < span[1]}

        async def recovered() -> bool:
            return outside <= stored_window_keys(sqlite_stored(settings.sqlite_path))

        await wait_until(recovered, 120, "every window outside the outage in storage", poll_s=0.5)
        health = publisher.stats.snapshot()
        alive = analyzer.alive and writer.alive
    finally:
        stop.set()
        await asyncio.gather(feed, sender, return_exceptions=True)
        codes = (analyzer.stop(), writer.stop())
        for b in restarted:
            b.stop()
    stored = sqlite_stored(settings.sqlite_path)
    kept = compare(truth, stored, fields=(), exclude=dict.fromkeys(truth.stations(), span))
    lost_keys = {k for k in truth.windows if span[0] <= k[1] < span[1]} - stored_window_keys(stored)
    violations = sqlite_key_violations(settings.sqlite_path)
    peaks = sorted((k for k, _ in stored.reps), key=lambda k: (k[0], k[1]))
    near_duplicate_reps = sum(1 for a, b in itertools.pairwise(peaks) if a[0] == b[0] and b[1] - a[1] < NS // 2)

    print(f"\nbroker stopped after {before} windows were stored, down {DOWN_S:.0f} s; gateway: "
          f"{health.outages} outage(s), {health.reconnects} reconnect(s), {health.frames_dropped} frames dropped")
    print(f"  span that may be lost: {(span[1] - span[0]) / NS:.2f} s around the outage "
          f"({len(truth.windows) - len(outside)} windows); lost: {len(lost_keys)} windows "
          f"({', '.join(f'{s} {sum(1 for k in lost_keys if k[0] == s)}' for s in truth.stations())})")
    for r in kept:
        print(f"  outside the span: {r.line()}")
    print(f"  reps closer than 0.5 s on one station: {near_duplicate_reps}; SQLite rows sharing a key: {violations}")
    assert alive, f"a service died:\n{analyzer.log_tail()}\n{writer.log_tail()}"
    assert codes == (0, 0), codes
    # The gateway may ride out a short outage inside one send (the producer's own retries), so it need
    # not have seen one; every outage it did see must have ended in a reconnect, with nothing dropped.
    assert health.connected and health.reconnects == health.outages and health.frames_dropped == 0, health
    assert violations == 0 and near_duplicate_reps == 0
    for r in kept:
        assert r.missing == 0 and r.duplicates == 0 and r.unexpected == 0, r.line() + f" {r.missing_keys[:5]}"
        assert r.reps_missing == 0 and r.reps_duplicates == 0, r.line()


async def _at_least(count, n: int) -> bool:
    return await count() >= n
