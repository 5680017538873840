"""kinesync.runtime.sqlite: migrations (new files, old shapes, failures, races), transactions, thread offload;
and the files the stores wrote before it kept user_version."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from kinesync.alerts.store import AlertStore
from kinesync.facility.models import AthletePatch, StationPatch
from kinesync.facility.personal import PersonalState, PersonalStore
from kinesync.facility.registry import Registry
from kinesync.facility.schema import MIGRATIONS as FACILITY_MIGRATIONS
from kinesync.runtime.sqlite import SqliteDb, add_columns, statements, user_version
from kinesync.storage import sqlite as metric_sqlite
from kinesync.storage.sqlite import SqliteStore

STEPS = (
    "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, a TEXT);",
    add_columns("t", (("b", "INTEGER NOT NULL DEFAULT 7"),)),
    ("CREATE TABLE IF NOT EXISTS log (step INTEGER)", "INSERT INTO log VALUES (3)"),
)


def columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# migrations


def test_a_new_file_runs_every_step_once(tmp_path: Path) -> None:
    db = SqliteDb(tmp_path / "sub" / "x.db", STEPS)
    assert db.version() == db.latest == 3
    db.close()
    db.call(lambda c: None)  # reopened: nothing runs again
    assert db.call(lambda c: c.execute("SELECT step FROM log").fetchall(), tx=False) == [(3,)]
    assert db.call(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0], tx=False) == "wal"
    assert db.call(lambda c: columns(c, "t"), tx=False) == ["id", "a", "b"]
    db.close()


def test_a_file_from_before_user_version_keeps_its_rows_and_gains_only_what_it_lacks(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with raw(path) as conn:  # version 0, but the table is there, one column short
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT)")
        conn.execute("INSERT INTO t VALUES (1, 'kept')")
    conn.close()
    db = SqliteDb(path, STEPS)
    assert db.version() == 3
    assert db.call(lambda c: c.execute("SELECT id, a, b FROM t").fetchall(), tx=False) == [(1, "kept", 7)]
    db.close()


def test_a_file_that_already_has_a_steps_columns_is_not_altered_twice(tmp_path: Path) -> None:
    # Releases before this module re-stamped newer files with their own lower version.
    path = tmp_path / "restamped.db"
    with raw(path) as conn:
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, a TEXT, b INTEGER NOT NULL DEFAULT 7)")
        conn.execute("PRAGMA user_version = 1")
    conn.close()
    db = SqliteDb(path, STEPS)
    assert db.version() == 3 and db.call(lambda c: columns(c, "t"), tx=False) == ["id", "a", "b"]
    db.close()


def test_a_failing_step_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    bad = (*STEPS, "INSERT INTO nowhere VALUES (1)")
    db = SqliteDb(path, bad)
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        db.version()
    with raw(path) as conn:
        assert user_version(conn) == 0
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []
    conn.close()
    fixed = SqliteDb(path, STEPS)  # the next release's fix opens the untouched file
    assert fixed.version() == 3
    fixed.close()


def test_a_newer_file_is_opened_without_lowering_its_version(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "x.db"
    newer = SqliteDb(path, (*STEPS, "CREATE TABLE later (x)"))
    assert newer.version() == 4
    newer.close()
    with caplog.at_level(logging.WARNING, logger="kinesync.runtime.sqlite"):
        older = SqliteDb(path, STEPS)
        assert older.version() == 4
    assert "newer" in caplog.text
    older.close()


def test_two_processes_opening_an_old_file_at_once_migrate_it_once(tmp_path: Path) -> None:
    # Many rounds: before the switch to WAL was retried, about one round in twenty failed an open with
    # "database is locked" (SQLite refuses the switch at once while another connection makes it).
    for round_ in range(60):
        path = tmp_path / f"x{round_}.db"
        dbs = [SqliteDb(path, STEPS) for _ in range(6)]
        start = threading.Barrier(len(dbs))
        failed: list[BaseException] = []

        def open_one(db: SqliteDb, start: threading.Barrier = start, failed: list[BaseException] = failed) -> None:
            start.wait()
            try:
                db.open()
            except BaseException as exc:
                failed.append(exc)

        threads = [threading.Thread(target=open_one, args=(db,)) for db in dbs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failed == [], f"round {round_}: {failed}"
        assert dbs[0].call(lambda c: c.execute("SELECT COUNT(*) FROM log").fetchone()[0], tx=False) == 1
        assert dbs[0].call(lambda c: c.execute("PRAGMA journal_mode").fetchone()[0], tx=False) == "wal"
        for db in dbs:
            db.close()


def test_statements_keep_semicolons_inside_strings_and_triggers() -> None:
    script = """
    CREATE TABLE a (x TEXT DEFAULT ';');
    CREATE TRIGGER t AFTER INSERT ON a BEGIN
      UPDATE a SET x = 'b;c';
    END;
    ;
    """
    assert [s.split()[1] for s in statements(script)] == ["TABLE", "TRIGGER"]


# transactions and threads


def test_an_error_rolls_the_transaction_back_and_the_connection_stays_usable(tmp_path: Path) -> None:
    db = SqliteDb(tmp_path / "x.db", STEPS)

    def half_then_fail(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t (a) VALUES ('lost')")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        db.call(half_then_fail)
    db.call(lambda c: c.execute("INSERT INTO t (a) VALUES ('kept')"))
    assert db.call(lambda c: c.execute("SELECT a FROM t").fetchall(), tx=False) == [("kept",)]
    db.close()


async def test_an_error_in_an_async_call_rolls_back_too(tmp_path: Path) -> None:
    db = SqliteDb(tmp_path / "x.db", STEPS)

    def fail(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO t (a) VALUES ('lost')")
        c.execute("INSERT INTO t (id, a) VALUES (1, 'x'), (1, 'duplicate')")

    with pytest.raises(sqlite3.IntegrityError):
        await db.run(fail)
    assert await db.run(lambda c: c.execute("SELECT COUNT(*) FROM t").fetchone()[0], tx=False) == 0
    await db.aclose()


async def test_concurrent_async_calls_are_serialised_and_do_not_block_the_loop(tmp_path: Path) -> None:
    db = SqliteDb(tmp_path / "x.db", STEPS)
    await db.run(lambda c: c.execute("INSERT INTO t (id, a) VALUES (1, '0')"))

    def increment(c: sqlite3.Connection) -> None:
        (n,) = c.execute("SELECT a FROM t WHERE id = 1").fetchone()
        time.sleep(0.002)  # a lost update shows if two calls overlap here
        c.execute("UPDATE t SET a = ? WHERE id = 1", [str(int(n) + 1)])

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.001)

    tick = asyncio.create_task(ticker())
    await asyncio.gather(*(db.run(increment) for _ in range(40)))
    tick.cancel()
    assert await db.run(lambda c: c.execute("SELECT a FROM t WHERE id = 1").fetchone()[0], tx=False) == "40"
    assert ticks > 10  # the loop kept running while the calls waited on the lock and the disk
    await db.aclose()


def test_memory_databases_work_without_wal(tmp_path: Path) -> None:
    db = SqliteDb(":memory:", STEPS)
    assert db.version() == 3
    db.close()


# the stores' files from before user_version (or before this module)

# The registry as the previous release wrote it: its DDL, then the columns its open added.
OLD_REGISTRY = """
CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE athletes (id INTEGER PRIMARY KEY, name TEXT NOT NULL, team_id INTEGER);
CREATE TABLE stations (id TEXT PRIMARY KEY, label TEXT);
CREATE TABLE targets (
  athlete_id INTEGER NOT NULL, exercise TEXT NOT NULL, low_ms REAL NOT NULL, high_ms REAL NOT NULL,
  PRIMARY KEY (athlete_id, exercise));
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY, station_id TEXT NOT NULL, athlete_id INTEGER NOT NULL, athlete_name TEXT NOT NULL,
  team_name TEXT, exercise TEXT NOT NULL, target_low_ms REAL NOT NULL, target_high_ms REAL NOT NULL,
  started_at_ns INTEGER NOT NULL, stopped_at_ns INTEGER);
CREATE INDEX sessions_active ON sessions (station_id) WHERE stopped_at_ns IS NULL;
CREATE TABLE plans (
  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, plan TEXT NOT NULL, created_at_ns INTEGER NOT NULL);
ALTER TABLE sessions ADD COLUMN plan_id INTEGER;
ALTER TABLE sessions ADD COLUMN plan TEXT;
ALTER TABLE sessions ADD COLUMN plan_block_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN plan_set_index INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN plan_position_ns INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN bar_sensor INTEGER NOT NULL DEFAULT 0;
ALTER TABLE stations ADD COLUMN bar_sensor INTEGER NOT NULL DEFAULT 0;
CREATE TABLE personal_windows (
  athlete_id INTEGER NOT NULL, exercise TEXT NOT NULL, mode TEXT NOT NULL, locked INTEGER NOT NULL,
  low_ms REAL, high_ms REAL, updated_at_ns INTEGER NOT NULL, PRIMARY KEY (athlete_id, exercise));
INSERT INTO stations VALUES ('rack-1', 'Rack 1', 1);
INSERT INTO athletes VALUES (1, 'Ada', NULL);
INSERT INTO sessions (id, station_id, athlete_id, athlete_name, exercise, target_low_ms, target_high_ms,
  started_at_ns, bar_sensor) VALUES (1, 'rack-1', 1, 'Ada', 'back_squat', 80, 120, 5, 1);
INSERT INTO personal_windows VALUES (1, 'back_squat', 'personal', 1, 90, 110, 5);
"""


def schema_of(path: Path) -> dict[str, list[str]]:
    with raw(path) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        out = {t: columns(conn, t) for t in tables}
    conn.close()
    return out


async def test_a_registry_file_of_the_previous_release_upgrades_to_the_shape_of_a_new_one(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with raw(old) as conn:
        conn.executescript(OLD_REGISTRY)
    conn.close()
    reg, store = Registry(old), PersonalStore(old)  # both open it, as the API does
    try:
        station, (session,) = await reg.get_station("rack-1"), await reg.active_sessions()
        assert station.bar_sensor and station.active_session_id == 1 and session.bar_sensor
        assert await store.get(1, "back_squat") == PersonalState(mode="personal", locked=True, low_ms=90, high_ms=110)
    finally:
        await reg.close()
        await store.close()
    fresh = tmp_path / "new.db"
    await Registry(fresh).close()
    new = Registry(fresh)
    await new.list_teams(1, 0)
    await new.close()
    assert schema_of(old) == schema_of(fresh)
    for path in (old, fresh):
        with raw(path) as conn:
            assert user_version(conn) == len(FACILITY_MIGRATIONS) == 4
        conn.close()


async def test_a_version_3_registry_file_migrates_to_4_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    v3 = SqliteDb(path, FACILITY_MIGRATIONS[:3])  # exactly what the release before body mass and devices wrote

    def fill(c: sqlite3.Connection) -> None:
        c.execute("INSERT INTO teams VALUES (1, 'Firsts')")
        c.execute("INSERT INTO athletes VALUES (1, 'Ada', 1)")
        c.execute("INSERT INTO stations VALUES ('rack-1', 'Rack 1', 1)")
        c.execute("INSERT INTO plans VALUES (1, 'Prime', ?, 5)", [
            '{"blocks": [{"kind": "working", "exercise": "back_squat", "sets": 1, "reps_per_set": 3}]}'])
        c.execute("INSERT INTO sessions (id, station_id, athlete_id, athlete_name, team_name, exercise, target_low_ms, "
                  "target_high_ms, started_at_ns, plan_id, bar_sensor) VALUES (1, 'rack-1', 1, 'Ada', 'Firsts', "
                  "'back_squat', 80, 120, 5, 1, 1)")

    v3.call(fill)
    assert v3.version() == 3
    v3.close()
    reg = Registry(path)
    try:
        ada, station = await reg.get_athlete(1), await reg.get_station("rack-1")
        assert (ada.name, ada.team_id, ada.body_mass_kg, ada.dominant_side) == ("Ada", 1, None, None)
        assert (station.label, station.bar_sensor, station.active_session_id, station.device_ids) == (
            "Rack 1", True, 1, [])
        session = await reg.get_session(1)
        assert (session.team_name, session.plan_id, session.bar_sensor) == ("Firsts", 1, True)
        # the new columns and table take writes
        assert (await reg.update_athlete(1, AthletePatch(body_mass_kg=70.5, dominant_side="left"))).body_mass_kg == 70.5
        station, _ = await reg.update_station("rack-1", StationPatch(device_ids=["emg-01"]))
        assert station.device_ids == ["emg-01"]
    finally:
        await reg.close()
    with raw(path) as conn:
        assert user_version(conn) == 4
        assert conn.execute("SELECT name FROM plans").fetchall() == [("Prime",)]
    conn.close()


async def test_a_personal_windows_file_alone_gains_the_registry_tables(tmp_path: Path) -> None:
    path = tmp_path / "personal.db"
    with raw(path) as conn:  # the personal store used to create only its own table
        conn.execute("CREATE TABLE personal_windows (athlete_id INTEGER NOT NULL, exercise TEXT NOT NULL, "
                     "mode TEXT NOT NULL, locked INTEGER NOT NULL, low_ms REAL, high_ms REAL, "
                     "updated_at_ns INTEGER NOT NULL, PRIMARY KEY (athlete_id, exercise))")
        conn.execute("INSERT INTO personal_windows VALUES (1, 'back_squat', 'personal', 0, 90, 110, 5)")
    conn.close()
    store = PersonalStore(path)
    try:
        assert (await store.get(1, "back_squat")).mode == "personal"
    finally:
        await store.close()
    assert {"sessions", "stations", "plans", "personal_windows"} <= set(schema_of(path))


async def test_a_new_metric_file_has_exactly_the_current_columns(tmp_path: Path) -> None:
    assert len(metric_sqlite.MIGRATIONS) == metric_sqlite.SCHEMA_VERSION
    path = tmp_path / "m.db"
    async with SqliteStore(path):
        pass
    shape = schema_of(path)
    assert shape[metric_sqlite.TABLE] == list(metric_sqlite.COLUMN_NAMES)
    assert shape[metric_sqlite.REPS_TABLE] == list(metric_sqlite.REP_COLUMN_NAMES)


async def test_a_metric_file_restamped_by_an_older_release_opens(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    async with SqliteStore(path):
        pass
    with raw(path) as conn:
        # what a schema-5 release did to a schema-7 file: add its own columns, write its own number
        conn.execute(f"ALTER TABLE {metric_sqlite.TABLE} ADD COLUMN mean_velocity_m_s REAL")
        conn.execute("PRAGMA user_version = 5")
    conn.close()
    async with SqliteStore(path) as store:
        assert await store.count() == 0
    with raw(path) as conn:
        assert user_version(conn) == metric_sqlite.SCHEMA_VERSION
    conn.close()


def test_an_alerts_file_from_before_user_version_keeps_its_outbox(tmp_path: Path) -> None:
    path = tmp_path / "alerts.db"
    with raw(path) as conn:
        conn.executescript(old_alert_schema())
        conn.execute("INSERT INTO kv VALUES ('positions', '{\"p\": 3}')")
    conn.close()
    store = AlertStore(path)
    try:
        assert store.load_state() == ({}, {"p": 3})
    finally:
        store.close()
    with raw(path) as conn:
        assert user_version(conn) == 1
    conn.close()


def old_alert_schema() -> str:
    from kinesync.alerts.store import MIGRATIONS

    (script,) = MIGRATIONS  # the previous release ran this same script on every open
    assert isinstance(script, str)
    return script.replace("IF NOT EXISTS ", "")


def test_a_connection_without_migrations_leaves_the_version_alone(tmp_path: Path,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "x.db"
    owner = SqliteDb(path, STEPS)
    owner.open()
    with caplog.at_level(logging.WARNING, logger="kinesync.runtime.sqlite"):
        reader = SqliteDb(path)
        assert reader.version() == 3
    assert caplog.text == ""
    owner.close()
    reader.close()
