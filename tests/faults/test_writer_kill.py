"""kill -9 of the writer mid-stream, then a restart: every window and rep stored once, none missing.

Two writers run side by side on the same live pipeline, each in its own consumer group: one into
SQLite, one into InfluxDB 1.x. Both are killed while metrics keep flowing and started again; each
store must then hold exactly the windows and reps the analysis produces for the simulated floor
(computed offline from the same frames), with the same numbers.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from kinesync.bus.kafka import KafkaBus
from kinesync.settings import Settings
from kinesync.storage.influx_v1 import InfluxV1Store
from tests.faults.pipeline_procs import (
    Service,
    SimFloor,
    compare,
    ground_truth_async,
    influx_stored,
    service_env,
    sqlite_key_violations,
    sqlite_stored,
    start_publisher,
    stored_window_keys,
    wait_until,
)
from tests.fixtures.influx import InfluxServer

pytestmark = pytest.mark.integration

STATIONS = 3
SESSION_S = 40.0
SPEED = 2.0  # event time runs twice as fast as the wall clock: 20 s of wall time


async def test_kill_9_writer_then_restart_stores_every_window_once(
    kafka_settings: Settings, influxdb: InfluxServer, tmp_path: Path
) -> None:
    settings = kafka_settings.model_copy(update={"batch_interval_s": 0.2, "max_wait_s": 30.0})
    database = influxdb.new_database("writer_kill")
    floor = SimFloor.of(settings, STATIONS, SESSION_S, SPEED)
    truth = await ground_truth_async(settings, floor)
    assert len(truth.windows) > STATIONS * 100 and len(truth.reps) > STATIONS * 5

    bus = KafkaBus(settings)
    await bus.ensure_topics()
    analyzer = Service("analyzer", service_env(settings), tmp_path / "analyzer.log").start()
    sqlite_writer = Service("writer", service_env(settings), tmp_path / "writer-sqlite.log").start()
    influx_writer = Service("writer", service_env(settings, {
        "KINESYNC_WRITER_GROUP": f"writer-influx-{uuid.uuid4().hex[:8]}",
        "KINESYNC_INFLUX_URL": influxdb.url, "KINESYNC_INFLUX_DATABASE": database,
    }), tmp_path / "writer-influx.log").start()
    services = (analyzer, sqlite_writer, influx_writer)
    store = InfluxV1Store(influxdb.url, database)
    stop = asyncio.Event()
    publisher, sender = start_publisher(bus, stop)
    feed = asyncio.create_task(floor.run(publisher, stop))
    third = len(truth.windows) // 3

    async def sqlite_count() -> int:
        return len(stored_window_keys(sqlite_stored(settings.sqlite_path)))

    async def influx_count() -> int:
        try:
            return len(stored_window_keys(await influx_stored(store)))
        except Exception:
            return 0  # database not created yet

    try:
        await wait_until(lambda: _at_least(sqlite_count, third), 90, "a third of the windows in SQLite")
        await wait_until(lambda: _at_least(influx_count, third), 30, "a third of the windows in InfluxDB")
        at_kill = (await sqlite_count(), await influx_count())
        sqlite_writer.kill9()
        influx_writer.kill9()
        # Metrics keep arriving in Kafka while no writer runs: a few seconds of the floor.
        mark = floor.submitted
        await wait_until(lambda: floor.submitted >= mark + STATIONS * 2 * 40 or floor.done.is_set(), 30,
                         "the floor to go on while the writers are dead")
        sqlite_writer.start()
        influx_writer.start()
        await asyncio.wait_for(feed, SESSION_S / SPEED + 60)
        expected = set(truth.windows)

        async def all_stored() -> bool:
            return expected <= stored_window_keys(sqlite_stored(settings.sqlite_path)) and expected <= (
                stored_window_keys(await influx_stored(store)))

        await wait_until(all_stored, 90, "every expected window in both stores", poll_s=0.5)
        # The writers commit after each acknowledged batch; give the reps of the last batch the same chance.
        await wait_until(lambda: _reps_done(truth, settings, store), 30, "every expected rep in both stores")
    finally:
        stop.set()
        await asyncio.gather(feed, sender, return_exceptions=True)
        codes = {s.log.name: s.stop() for s in services}
    sqlite_reports = compare(truth, sqlite_stored(settings.sqlite_path))
    influx_reports = compare(truth, await influx_stored(store))
    await store.close()
    violations = sqlite_key_violations(settings.sqlite_path)

    print(f"\nkill -9 of both writers at {at_kill[0]} (SQLite) and {at_kill[1]} (InfluxDB) windows stored; "
          f"{len(truth.windows)} windows and {len(truth.reps)} reps expected in each store")
    for name, reports in (("SQLite", sqlite_reports), ("InfluxDB", influx_reports)):
        for r in reports:
            print(f"  {name} {r.line()}")
    print(f"  SQLite rows sharing a primary key: {violations}")
    assert codes == {"analyzer.log": 0, "writer-sqlite.log": 0, "writer-influx.log": 0}, codes
    assert sqlite_writer.starts == influx_writer.starts == 2
    assert "stopped after writing" in sqlite_writer.log_text(), sqlite_writer.log_tail()
    assert violations == 0
    for r in [*sqlite_reports, *influx_reports]:
        assert r.missing == 0 and r.duplicates == 0 and r.unexpected == 0, r.line() + f" {r.missing_keys[:5]}"
        assert r.mismatched == 0, r.line() + "\n" + "\n".join(r.mismatches)
        assert r.reps_missing == 0 and r.reps_duplicates == 0, r.line()


async def _at_least(count, n: int) -> bool:
    return await count() >= n


async def _reps_done(truth, settings: Settings, store: InfluxV1Store) -> bool:
    want = set(truth.reps)
    return want <= {k for k, _ in sqlite_stored(settings.sqlite_path).reps} and want <= {
        k for k, _ in (await influx_stored(store)).reps}
