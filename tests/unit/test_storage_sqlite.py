from __future__ import annotations

import asyncio
import sqlite3
import sys
import textwrap
from pathlib import Path

import pytest

from kinesync.models import RepMetric, WindowMetric
from kinesync.settings import Settings
from kinesync.storage import StorageUnavailable, open_store
from kinesync.storage.influx_v1 import InfluxV1Store
from kinesync.storage.sqlite import (
    COLUMN_NAMES,
    COLUMNS,
    REP_COLUMN_NAMES,
    REPS_TABLE,
    SCHEMA_VERSION,
    TABLE,
    SqliteStore,
)

ROOT = Path(__file__).resolve().parents[2]
HOP_NS = 250_000_000
T0 = 1_700_000_000_000_000_000


def make_metrics(stations: int, windows: int, *, t0: int = T0, lag: float = 95.0) -> list[WindowMetric]:
    out = []
    for s in range(stations):
        for w in range(windows):
            start = t0 + w * HOP_NS
            has_rep = w % 3 == 0
            out.append(
                WindowMetric(
                    station=f"s{s:02d}",
                    athlete=f"ath{s}",
                    team="blue" if s % 2 else None,
                    exercise="jump",
                    session="sess1",
                    window_start_ns=start,
                    window_end_ns=start + 2_000_000_000,
                    partial=w % 7 == 0,
                    rep_peak_ns=start + 1_000_000_000 if has_rep else None,
                    lag_ms=lag + w * 0.5 + s if has_rep else None,
                    coupling=0.8 if has_rep else None,
                    in_window=(80 <= lag + w * 0.5 + s <= 120) if has_rep else None,
                    alignment=w / (windows + 1),
                    body_weight_n=700.0 + s,
                    force_onset_ns=start + 900_000_000 if has_rep else None,
                    rfd_0_100_n_per_s=5000.0 + w if has_rep else None,
                    peak_propulsive_force_n=1800.0 + w,
                    emitted_at_ns=start + 2_100_000_000,
                )
            )
    return out


@pytest.fixture
async def store(tmp_path: Path):
    s = SqliteStore(tmp_path / "m.db")
    await s.start()
    yield s
    await s.close()


def test_every_model_field_has_a_column() -> None:
    assert set(COLUMN_NAMES) == set(WindowMetric.model_fields)


async def test_round_trip(store: SqliteStore) -> None:
    metrics = make_metrics(3, 20)
    await store.write(metrics)
    got = await store.query()
    assert got == sorted(metrics, key=lambda m: (m.station, m.window_start_ns))
    # types survive, not just values: bools come back as bools, not 0/1
    assert any(m.in_window is True for m in got) and all(type(m.partial) is bool for m in got)
    assert await store.count() == 60


async def test_wal_mode(store: SqliteStore) -> None:
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_replay_overwrites(store: SqliteStore) -> None:
    metrics = make_metrics(2, 30)
    await store.write(metrics)
    await store.write(metrics)
    await store.write(metrics[:10])
    assert await store.count() == 60
    # a replay with different values (say a fixed analyzer) replaces rows, still no duplicates
    replay = [m.model_copy(update={"lag_ms": 101.0, "emitted_at_ns": 1}) for m in metrics]
    await store.write(replay)
    assert await store.count() == 60
    assert all(m.lag_ms == 101.0 for m in await store.query())


async def test_filters_and_latest(store: SqliteStore) -> None:
    metrics = make_metrics(3, 10)
    await store.write(metrics)
    s1 = await store.query(station="s01")
    assert [m.window_start_ns for m in s1] == [T0 + w * HOP_NS for w in range(10)]
    since = await store.query(station="s02", since_ns=T0 + 7 * HOP_NS)
    assert [m.window_start_ns for m in since] == [T0 + w * HOP_NS for w in (7, 8, 9)]
    assert len(await store.query(since_ns=T0 + 9 * HOP_NS)) == 3
    assert await store.query(station="nope") == []
    assert len(await store.query(limit=4)) == 4

    latest = await store.latest_per_station()
    assert [(m.station, m.window_start_ns) for m in latest] == [(f"s{s:02d}", T0 + 9 * HOP_NS) for s in range(3)]


async def test_empty_store_reads(tmp_path: Path) -> None:
    async with SqliteStore(tmp_path / "sub" / "empty.db") as s:
        await s.write([])
        assert await s.count() == 0
        assert await s.latest_per_station() == []


async def test_locked_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    async with SqliteStore(path, busy_timeout_s=0.1) as s:
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN EXCLUSIVE")
        try:
            with pytest.raises(StorageUnavailable):
                await s.write(make_metrics(1, 1))
        finally:
            other.execute("ROLLBACK")
            other.close()
        await s.write(make_metrics(1, 1))  # usable again once the lock is gone
        assert await s.count() == 1


WRITER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from tests.unit.test_storage_sqlite import make_metrics
    from kinesync.storage.sqlite import SqliteStore

    async def main(path, batches, per_batch):
        async with SqliteStore(path) as store:
            for b in range(batches):
                await store.write(make_metrics(1, per_batch, t0=1_000 + b * per_batch * 250_000_000))

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
    """
)


async def test_concurrent_read_while_another_process_writes(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    batches, per_batch = 60, 200
    reader = SqliteStore(path)
    await reader.start()  # the API may open the file before the writer ever ran
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", WRITER_SCRIPT, str(path), str(batches), str(per_batch), cwd=ROOT
    )
    seen: list[int] = []
    try:
        while proc.returncode is None:
            n = await reader.count()
            latest = await reader.latest_per_station()
            # each batch is one transaction: a reader sees whole batches only, never a torn one
            assert n % per_batch == 0
            # two separate reads: a batch may commit between them, but never disappear
            assert len(latest) == 1 if n else len(latest) <= 1
            seen.append(n)
            try:
                await asyncio.wait_for(proc.wait(), 0.005)
            except TimeoutError:
                pass
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        await reader.close()
    assert proc.returncode == 0
    assert seen == sorted(seen)
    assert len(set(seen)) > 2, f"reader never overlapped the writer: {sorted(set(seen))}"
    async with SqliteStore(path) as check:
        assert await check.count() == batches * per_batch


async def test_two_stores_same_file_in_one_process(tmp_path: Path) -> None:
    path = tmp_path / "two.db"
    async with SqliteStore(path) as writer, SqliteStore(path) as reader:
        metrics = make_metrics(2, 50)

        async def write_all() -> None:
            for i in range(0, len(metrics), 10):
                await writer.write(metrics[i : i + 10])

        async def read_all() -> list[int]:
            counts = []
            for _ in range(20):
                counts.append(await reader.count())
                await asyncio.sleep(0)
            return counts

        _, counts = await asyncio.gather(write_all(), read_all())
        assert counts == sorted(counts)
        assert await reader.count() == 100


def test_open_store_choice(tmp_path: Path) -> None:
    s = open_store(Settings(sqlite_path=str(tmp_path / "x.db")))
    assert isinstance(s, SqliteStore) and s.path == tmp_path / "x.db"
    i = open_store(
        Settings(influx_url="http://127.0.0.1:1", influx_database="k", influx_username="u", influx_password="pw")
    )
    assert isinstance(i, InfluxV1Store) and i.database == "k"
    assert "pw" not in repr(i)


async def test_a_file_from_the_first_schema_gains_the_new_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    old_columns = [(n, k) for n, k in COLUMNS if n not in ("transfer_index", "flags")]
    conn.execute(f"CREATE TABLE {TABLE} (" + ", ".join(f"{n} {k}" for n, k in old_columns)
                 + ", PRIMARY KEY (station, window_start_ns)) WITHOUT ROWID")
    conn.close()
    async with SqliteStore(path) as store:
        m = make_metrics(1, 1)[0].model_copy(update={"transfer_index": 0.4, "flags": ["flat:pec", "hum:quad"]})
        await store.write([m])
        (back,) = await store.query()
    assert back.transfer_index == 0.4 and back.flags == ["flat:pec", "hum:quad"]


async def test_a_schema_4_file_gains_the_peak_propulsive_force_column_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = [(name, kind) for name, kind in COLUMNS
           if name not in ("peak_propulsive_force_n", "mean_concentric_velocity_m_s")]
    old.insert(18, ("peak_force_n", "REAL"))
    old.append(("mean_velocity_m_s", "REAL"))
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE {TABLE} ({', '.join(f'{n} {k}' for n, k in old)}, "
                 "PRIMARY KEY (station, window_start_ns)) WITHOUT ROWID")
    conn.execute(f"INSERT INTO {TABLE} (station, window_start_ns, window_end_ns, partial, target_low_ms, "
                 f"target_high_ms, emitted_at_ns, peak_force_n) VALUES ('s00', {T0}, {T0 + 1}, 0, 80, 120, 0, 3900.0)")
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    store = SqliteStore(path)
    await store.start()
    try:
        (kept,) = await store.query()
        # The old peak included a jump's landing: it is not carried over as a propulsive peak.
        assert kept.station == "s00" and kept.peak_propulsive_force_n is None
        new = make_metrics(1, 2, t0=T0 + HOP_NS)
        await store.write(new)
        assert [m.peak_propulsive_force_n for m in await store.query()] == [None, 1800.0, 1801.0]
    finally:
        await store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_a_schema_5_file_gains_the_concentric_velocity_column_without_the_old_values(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = [(name, kind) for name, kind in COLUMNS if name != "mean_concentric_velocity_m_s"]
    old.append(("mean_velocity_m_s", "REAL"))
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE {TABLE} ({', '.join(f'{n} {k}' for n, k in old)}, "
                 "PRIMARY KEY (station, window_start_ns)) WITHOUT ROWID")
    conn.execute(f"INSERT INTO {TABLE} (station, window_start_ns, window_end_ns, partial, target_low_ms, "
                 "target_high_ms, emitted_at_ns, mean_velocity_m_s) "
                 f"VALUES ('s00', {T0}, {T0 + 1}, 0, 80, 120, 0, 0.7)")
    conn.execute("PRAGMA user_version = 5")
    conn.commit()
    conn.close()
    async with SqliteStore(path) as store:
        (kept,) = await store.query()
        # Between 0.05 m/s thresholds the old value read a few % high: not carried over.
        assert kept.station == "s00" and kept.mean_concentric_velocity_m_s is None
        new = make_metrics(1, 1, t0=T0 + HOP_NS)[0].model_copy(update={"mean_concentric_velocity_m_s": 0.6})
        await store.write([new])
        assert [m.mean_concentric_velocity_m_s for m in await store.query()] == [None, 0.6]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


async def test_a_schema_6_file_keeps_its_reps_and_gains_the_lag_uncertainty_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old_rep = RepMetric(station="s00", athlete="ath0", session="sess1", exercise="jump", rep_peak_ns=T0,
                        rep_start_ns=T0 - 500_000_000, window_start_ns=T0 - 1_000_000_000, lag_ms=97.0)
    record = old_rep.model_dump_json(exclude={"lag_se_ms", "lag_p_in_window", "envelope_delay_ms"})
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE {TABLE} ({', '.join(f'{n} {k}' for n, k in COLUMNS)}, "
                 "PRIMARY KEY (station, window_start_ns)) WITHOUT ROWID")
    # the reps table as schema 6 made it: keys, tags and the record as JSON
    conn.execute(f"CREATE TABLE {REPS_TABLE} (station TEXT NOT NULL, rep_peak_ns INTEGER NOT NULL, athlete TEXT, "
                 "session TEXT, exercise TEXT, record TEXT NOT NULL, PRIMARY KEY (station, rep_peak_ns)) WITHOUT ROWID")
    conn.execute(f"INSERT INTO {REPS_TABLE} VALUES ('s00', {T0}, 'ath0', 'sess1', 'jump', ?)", (record,))
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()
    async with SqliteStore(path) as store:
        (kept,) = await store.query_reps()
        assert kept == old_rep and kept.lag_se_ms is None and kept.envelope_delay_ms is None
        new = old_rep.model_copy(update={"rep_peak_ns": T0 + 3_000_000_000, "lag_ms": 112.0, "lag_se_ms": 6.5,
                                         "lag_p_in_window": 0.82, "envelope_delay_ms": 121.5})
        await store.write([new])
        assert [r.lag_se_ms for r in await store.query_reps()] == [None, 6.5]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({REPS_TABLE})")]
        assert columns == list(REP_COLUMN_NAMES)
        rows = conn.execute(f"SELECT rep_peak_ns, lag_se_ms, lag_p_in_window, envelope_delay_ms FROM {REPS_TABLE} "
                            "ORDER BY rep_peak_ns").fetchall()
    assert rows == [(T0, None, None, None), (T0 + 3_000_000_000, 6.5, 0.82, 121.5)]


def test_every_rep_column_but_the_record_is_a_model_field() -> None:
    assert set(REP_COLUMN_NAMES) - {"record"} <= set(RepMetric.model_fields)
