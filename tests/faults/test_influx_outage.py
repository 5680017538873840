"""InfluxDB stopped for 60 s while the pipeline runs: the writer waits, commits nothing, loses nothing.

Gateway, analyzer and writer keep running through the outage; metrics pile up in Kafka. The writer
must neither crash nor commit offsets for data the database never acknowledged; when InfluxDB comes
back the backlog drains and the store holds exactly the windows and reps of the simulated floor.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import METRICS, REPS
from kinesync.settings import Settings
from kinesync.storage.influx_v1 import InfluxV1Store
from tests.faults.pipeline_procs import (
    Service,
    SimFloor,
    committed_offsets,
    compare,
    ground_truth_async,
    influx_stored,
    service_env,
    start_publisher,
    stored_window_keys,
    wait_until,
)
from tests.fixtures.influx import InfluxServer

pytestmark = pytest.mark.integration

STATIONS = 2
OUTAGE_S = 60.0
SESSION_S = 45.0  # the floor stops sending during the outage; the backlog is what it sent meanwhile


async def test_influx_down_60_s_writer_waits_and_drains(
    kafka_settings: Settings, influxdb: InfluxServer, tmp_path: Path
) -> None:
    settings = kafka_settings.model_copy(update={"batch_interval_s": 0.2, "max_wait_s": 30.0})
    database = influxdb.new_database("outage")
    floor = SimFloor.of(settings, STATIONS, SESSION_S)
    truth = await ground_truth_async(settings, floor)
    expected = set(truth.windows)

    bus = KafkaBus(settings)
    await bus.ensure_topics()
    env = {"KINESYNC_INFLUX_URL": influxdb.url, "KINESYNC_INFLUX_DATABASE": database}
    analyzer = Service("analyzer", service_env(settings), tmp_path / "analyzer.log").start()
    writer = Service("writer", service_env(settings, env), tmp_path / "writer.log").start()
    store = InfluxV1Store(influxdb.url, database)
    # A plain reader of the metrics topics: how much the writer has not yet committed.
    tap = bus.consumer([METRICS, REPS], None)
    await tap.start()
    log_end: dict[tuple[str, int], int] = {}

    async def read_tap() -> None:
        for m in await tap.getmany(timeout_ms=200):
            log_end[(m.topic, m.partition)] = max(log_end.get((m.topic, m.partition), 0), m.offset + 1)

    async def backlog() -> int:
        await read_tap()
        done = await committed_offsets(settings, settings.writer_group, (METRICS, REPS))
        return sum(end - done.get(tp, 0) for tp, end in log_end.items())

    async def stored_count() -> int:
        try:
            return len(stored_window_keys(await influx_stored(store)))
        except Exception:
            return 0

    stop = asyncio.Event()
    publisher, sender = start_publisher(bus, stop)
    feed = asyncio.create_task(floor.run(publisher, stop))
    try:
        await wait_until(lambda: _at_least(stored_count, 8 * STATIONS), 60, "the first windows in InfluxDB")
        before = await stored_count()
        with influxdb.down():
            t_down = time.monotonic()
            # The batch in flight at the stop may still be acknowledged; after that, nothing is committed.
            await asyncio.sleep(3.0)
            committed_early = await committed_offsets(settings, settings.writer_group, (METRICS, REPS))
            while time.monotonic() - t_down < OUTAGE_S:
                assert writer.alive, f"the writer died during the outage:\n{writer.log_tail()}"
                await read_tap()
                await asyncio.sleep(1.0)
            committed_late = await committed_offsets(settings, settings.writer_group, (METRICS, REPS))
            waiting = await backlog()
            t_restart = time.monotonic()
        restart_s = time.monotonic() - t_restart
        drain_s = await wait_until(lambda: _has(store, expected), 120, "the backlog to drain", poll_s=0.2)
        await wait_until(lambda: _has_reps(store, set(truth.reps)), 30, "every rep in InfluxDB")
        await wait_until(lambda: _is_zero(backlog), 30, "the writer to commit the drained backlog")
        left = await backlog()
    finally:
        stop.set()
        await asyncio.gather(feed, sender, return_exceptions=True)
        await tap.stop()
        codes = (analyzer.stop(), writer.stop())
    reports = compare(truth, await influx_stored(store))
    await store.close()
    retries = writer.log_text().count("storage unavailable")

    print(f"\nInfluxDB down {OUTAGE_S:.0f} s after {before} windows were stored; backlog when it came back: "
          f"{waiting} records (windows and reps) in Kafka; restart took {restart_s:.1f} s, drained "
          f"{drain_s:.1f} s after it; {retries} retry warning(s) logged; uncommitted at the end: {left}")
    for r in reports:
        print(f"  {r.line()}")
    assert codes == (0, 0), codes
    assert retries >= 1, writer.log_tail()
    assert waiting > 0, "nothing piled up during the outage: the test did not test anything"
    # No offset moved while the database could not acknowledge anything.
    metric_offsets = [tp for tp in committed_late if tp[0] in (METRICS, REPS)]
    assert {tp: committed_late[tp] for tp in metric_offsets} == {
        tp: committed_early.get(tp) for tp in metric_offsets}, (committed_early, committed_late)
    assert left == 0
    for r in reports:
        assert r.missing == 0 and r.duplicates == 0 and r.unexpected == 0, r.line() + f" {r.missing_keys[:5]}"
        assert r.mismatched == 0, r.line() + "\n" + "\n".join(r.mismatches)
        assert r.reps_missing == 0 and r.reps_duplicates == 0, r.line()


async def _at_least(count, n: int) -> bool:
    return await count() >= n


async def _is_zero(count) -> bool:
    return await count() == 0


async def _has(store: InfluxV1Store, keys: set) -> bool:
    return keys <= stored_window_keys(await influx_stored(store))


async def _has_reps(store: InfluxV1Store, keys: set) -> bool:
    return keys <= {k for k, _ in (await influx_stored(store)).reps}
