"""Embedded store: one SQLite file, for ``make run`` and floors without a database server.

The writer process writes and the API process reads the same file. WAL mode lets readers see the last
committed batch while a write is in progress; busy_timeout absorbs the short exclusive moments
(checkpoints, two writers). Every sqlite3 call runs in a worker thread so the event loop never waits
on the disk. Connections, locks, transactions and migrations are ``kinesync.runtime.sqlite``'s.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from kinesync.models import RepMetric, WindowMetric
from kinesync.runtime.sqlite import Migration, SqliteDb, add_columns
from kinesync.storage.base import StorageRejected, StorageUnavailable

T = TypeVar("T")

TABLE = "window_metrics"
SCHEMA_VERSION = 7  # 3: target_source; 4: mean_velocity_m_s; 5: peak_propulsive_force_n replaces peak_force_n;
# 6: mean_concentric_velocity_m_s (zero crossing to zero crossing) replaces mean_velocity_m_s (0.05 m/s thresholds);
# 7: reps gain lag_se_ms, lag_p_in_window and envelope_delay_ms columns (the lag's uncertainty)

# (column, SQL type) for every WindowMetric field; tests check that nothing is missing.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("station", "TEXT NOT NULL"),
    ("window_start_ns", "INTEGER NOT NULL"),
    ("window_end_ns", "INTEGER NOT NULL"),
    ("athlete", "TEXT"),
    ("team", "TEXT"),
    ("exercise", "TEXT"),
    ("session", "TEXT"),
    ("partial", "INTEGER NOT NULL"),
    ("rep_peak_ns", "INTEGER"),
    ("lag_ms", "REAL"),
    ("coupling", "REAL"),
    ("in_window", "INTEGER"),
    ("target_low_ms", "REAL NOT NULL"),
    ("target_high_ms", "REAL NOT NULL"),
    ("alignment", "REAL"),
    ("body_weight_n", "REAL"),
    ("force_onset_ns", "INTEGER"),
    ("rfd_0_100_n_per_s", "REAL"),
    ("transfer_index", "REAL"),
    ("flags", "TEXT"),  # comma-joined quality flags
    ("emitted_at_ns", "INTEGER NOT NULL"),
    ("target_source", "TEXT"),  # fixed, personal or locked; NULL in rows written before it existed
    # Schema 5. The old peak_force_n column (the peak over the whole rep, a jump's landing included)
    # stays in older files unread: its values mean something else.
    ("peak_propulsive_force_n", "REAL"),
    # Schema 6: the concentric phase runs between the velocity's zero crossings. The old
    # mean_velocity_m_s column (between 0.05 m/s thresholds, a few % higher) stays in older files
    # unread and is not copied: its values mean something else. NULL without a bar sensor.
    ("mean_concentric_velocity_m_s", "REAL"),
)
COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in COLUMNS)
_BOOL_COLUMNS = frozenset({"partial", "in_window"})

_DDL = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} ("
    + ", ".join(f"{name} {kind}" for name, kind in COLUMNS)
    # The window key: a replayed window replaces its row. WITHOUT ROWID stores rows in key order, which
    # is also the order every read wants.
    + ", PRIMARY KEY (station, window_start_ns)) WITHOUT ROWID"
)
_INSERT = f"INSERT OR REPLACE INTO {TABLE} ({', '.join(COLUMN_NAMES)}) VALUES ({', '.join('?' for _ in COLUMN_NAMES)})"
_SELECT = f"SELECT {', '.join(COLUMN_NAMES)} FROM {TABLE}"

# Reps: the columns people filter by, and the whole record as JSON (it carries lists and envelopes). The
# record is what reads return; the columns are copies of its fields for SQL filters and aggregates.
REPS_TABLE = "reps"
REP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("station", "TEXT NOT NULL"),
    ("rep_peak_ns", "INTEGER NOT NULL"),
    ("athlete", "TEXT"),
    ("session", "TEXT"),
    ("exercise", "TEXT"),
    ("record", "TEXT NOT NULL"),
    # Schema 7: the lag's uncertainty (docs/metrics.md). NULL in rows written before it (their records
    # do not carry the fields) and from analyzers that do not estimate them.
    ("lag_se_ms", "REAL"),
    ("lag_p_in_window", "REAL"),
    ("envelope_delay_ms", "REAL"),
)
REP_COLUMN_NAMES: tuple[str, ...] = tuple(name for name, _ in REP_COLUMNS)
_REPS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {REPS_TABLE} ("
    + ", ".join(f"{name} {kind}" for name, kind in REP_COLUMNS)
    + ", PRIMARY KEY (station, rep_peak_ns)) WITHOUT ROWID"
)
_REPS_INSERT = (
    f"INSERT OR REPLACE INTO {REPS_TABLE} ({', '.join(REP_COLUMN_NAMES)}) "
    f"VALUES ({', '.join('?' for _ in REP_COLUMN_NAMES)})"
)


def _recent(table: str, select: str, time_column: str, order: str) -> str:
    """``select`` (``SELECT ... FROM table``) of every station's rows with ``time_column >= ?``, in ``order``.

    The stations are walked one index probe each (a recursive skip over the primary key, station first)
    and each one's recent rows read as a key range, so a file with months of rows answers as fast as a
    new one."""
    return (
        f"WITH RECURSIVE s(name) AS (SELECT MIN(station) FROM {table} UNION ALL "
        f"SELECT (SELECT MIN(station) FROM {table} WHERE station > s.name) FROM s WHERE s.name IS NOT NULL) "
        f"{select} AS m JOIN s ON m.station = s.name WHERE m.{time_column} >= ? ORDER BY {order}"
    )


def _row(m: WindowMetric) -> tuple[Any, ...]:
    return tuple(",".join(m.flags) if name == "flags" else getattr(m, name) for name in COLUMN_NAMES)


def _metric(row: Sequence[Any]) -> WindowMetric:
    values = dict(zip(COLUMN_NAMES, row, strict=True))
    values["flags"] = [f for f in (values["flags"] or "").split(",") if f]
    if values.get("target_source") is None:
        values["target_source"] = "fixed"  # rows from before schema 3: only the fixed window existed
    for name in _BOOL_COLUMNS:
        if values[name] is not None:
            values[name] = bool(values[name])
    return WindowMetric.model_validate(values)


def _rep_row(r: RepMetric) -> tuple[Any, ...]:
    return (r.station, r.rep_peak_ns, r.athlete, r.session, r.exercise, r.model_dump_json(),
            r.lag_se_ms, r.lag_p_in_window, r.envelope_delay_ms)


def _added(*names: str) -> Migration:
    return add_columns(TABLE, [(n, k) for n, k in COLUMNS if n in names])


# Step i takes user_version i to i + 1 (SCHEMA_VERSION steps); files at 1..7 exist. Step 1 creates the
# tables as they are now (a new file needs nothing from the later steps, and gets none of the unread
# columns); the later steps bring older files up. Releases before kinesync.runtime.sqlite re-stamped a
# file with their own number when they opened a newer one, so a file may already hold what its
# version says it lacks: every step only adds what is missing. Added columns are nullable, so old
# rows stay valid.
MIGRATIONS: tuple[Migration, ...] = (
    (_DDL, _REPS_DDL),  # 1
    _added("transfer_index", "flags"),  # 2
    _added("target_source"),  # 3
    (),  # 4: mean_velocity_m_s, unread since 6 and no longer added
    _added("peak_propulsive_force_n"),  # 5
    _added("mean_concentric_velocity_m_s"),  # 6
    # 7; the reps table came without a version of its own, so files below 7 may not have it yet
    (_REPS_DDL, add_columns(REPS_TABLE, [(n, k) for n, k in REP_COLUMNS
                                         if n in ("lag_se_ms", "lag_p_in_window", "envelope_delay_ms")])),
)


class SqliteStore:
    """MetricStore on a SQLite file, plus the reads the API and tests use."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        # Two connections so a read in this process does not queue behind a write (WAL allows both).
        # The writer migrates; the reader opens after it, on the migrated file. synchronous=NORMAL in
        # WAL mode loses at most the last commits on power loss, never consistency; the writer
        # re-reads uncommitted Kafka offsets anyway.
        self._writer = SqliteDb(self.path, MIGRATIONS, busy_timeout_s=busy_timeout_s, synchronous="NORMAL")
        self._reader = SqliteDb(self.path, busy_timeout_s=busy_timeout_s)
        self._started = False
        self._start_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # lifecycle

    def _open(self) -> None:
        self._writer.open()
        try:
            self._reader.open()
        except BaseException:
            self._writer.close()
            raise

    async def start(self) -> None:
        async with self._start_lock:
            if self._started:
                return
            try:
                await asyncio.to_thread(self._open)
            except sqlite3.OperationalError as exc:
                raise StorageUnavailable(f"sqlite {self.path}: {exc}") from exc
            self._started = True

    async def close(self) -> None:
        async with self._start_lock:
            self._started = False

            def _close() -> None:
                self._writer.close()
                self._reader.close()

            await asyncio.to_thread(_close)

    async def __aenter__(self) -> SqliteStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # plumbing

    async def _run(self, db: SqliteDb, fn: Callable[[sqlite3.Connection], T], *, tx: bool) -> T:
        if not self._started:
            await self.start()
        try:
            return await db.run(fn, tx=tx)
        except sqlite3.OperationalError as exc:
            # "database is locked", disk full, I/O errors: the file may take it later.
            raise StorageUnavailable(f"sqlite {self.path}: {exc}") from exc
        except sqlite3.IntegrityError as exc:
            raise StorageRejected(f"sqlite {self.path}: {exc}") from exc

    # MetricStore

    async def write(self, metrics: Sequence[WindowMetric | RepMetric]) -> None:
        if not metrics:
            return
        rows = [_row(m) for m in metrics if isinstance(m, WindowMetric)]
        rep_rows = [_rep_row(r) for r in metrics if isinstance(r, RepMetric)]

        def _write(conn: sqlite3.Connection) -> None:
            conn.executemany(_INSERT, rows)
            conn.executemany(_REPS_INSERT, rep_rows)

        await self._run(self._writer, _write, tx=True)

    # reads

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def _select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(sql, params).fetchall()

        return await self._run(self._reader, _select, tx=False)

    async def latest_per_station(self) -> list[WindowMetric]:
        """The newest window of every station, ordered by station."""
        # The correlated MAX is one index probe per station on the primary key.
        rows = await self._read(
            f"{_SELECT} AS m WHERE window_start_ns = "
            f"(SELECT MAX(window_start_ns) FROM {TABLE} WHERE station = m.station) ORDER BY station"
        )
        return [_metric(r) for r in rows]

    async def recent_windows(self, since_ns: int) -> list[WindowMetric]:
        """Every station's windows starting at or after ``since_ns``, by station then window start
        (``kinesync.storage.readers.RecentReader``)."""
        rows = await self._read(_recent(TABLE, _SELECT, "window_start_ns", "m.station, m.window_start_ns"), (since_ns,))
        return [_metric(r) for r in rows]

    async def recent_reps(self, since_ns: int) -> list[RepMetric]:
        """Every station's reps with ``rep_peak_ns >= since_ns``, by rep peak then station, without envelopes
        (``kinesync.storage.readers.RecentReader``)."""
        from kinesync.storage.readers import without_envelopes

        sql = _recent(REPS_TABLE, f"SELECT record FROM {REPS_TABLE}", "rep_peak_ns", "m.rep_peak_ns, m.station")
        rows = await self._read(sql, (since_ns,))
        return without_envelopes(RepMetric.model_validate_json(r[0]) for r in rows)

    async def query(
        self, station: str | None = None, since_ns: int | None = None, *, limit: int | None = None
    ) -> list[WindowMetric]:
        """Windows ordered by station then window start; ``since_ns`` is inclusive on window start."""
        where: list[str] = []
        params: list[Any] = []
        if station is not None:
            where.append("station = ?")
            params.append(station)
        if since_ns is not None:
            where.append("window_start_ns >= ?")
            params.append(since_ns)
        sql = _SELECT
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY station, window_start_ns"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [_metric(r) for r in await self._read(sql, params)]

    async def query_reps(
        self, station: str | None = None, session: str | None = None, athlete: str | None = None
    ) -> list[RepMetric]:
        """Reps in time order, optionally of one station, session or athlete."""
        where, params = [], []
        for column, value in (("station", station), ("session", session), ("athlete", athlete)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = f"SELECT record FROM {REPS_TABLE}" + (f" WHERE {' AND '.join(where)}" if where else "")
        rows = await self._read(sql + " ORDER BY rep_peak_ns, station", params)
        return [RepMetric.model_validate_json(r[0]) for r in rows]

    # RepReader (kinesync.storage.readers)

    async def session_reps(self, session: str) -> list[RepMetric]:
        return await self.query_reps(session=session)

    async def athlete_reps(
        self, athlete: str, *, since_ns: int | None = None, until_ns: int | None = None
    ) -> list[RepMetric]:
        from kinesync.storage.readers import without_envelopes

        sql, params = f"SELECT record FROM {REPS_TABLE} WHERE athlete = ?", [athlete]
        if since_ns is not None:
            sql, params = sql + " AND rep_peak_ns >= ?", [*params, since_ns]
        if until_ns is not None:
            sql, params = sql + " AND rep_peak_ns < ?", [*params, until_ns]
        rows = await self._read(sql + " ORDER BY rep_peak_ns, station", params)
        return without_envelopes(RepMetric.model_validate_json(r[0]) for r in rows)

    async def count(self) -> int:
        rows = await self._read(f"SELECT COUNT(*) FROM {TABLE}")
        return int(rows[0][0])
