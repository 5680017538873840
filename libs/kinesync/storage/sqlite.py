"""Embedded store: one SQLite file, for ``make run`` and floors without a database server.

The writer process writes and the API process reads the same file. WAL mode lets readers see the last
committed batch while a write is in progress; busy_timeout absorbs the short exclusive moments
(checkpoints, two writers). Every sqlite3 call runs in a worker thread so the event loop never waits
on the disk.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from kinesync.models import RepMetric, WindowMetric
from kinesync.storage.base import StorageRejected, StorageUnavailable

log = logging.getLogger(__name__)

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


def _migrate(conn: sqlite3.Connection) -> None:
    """Add columns that newer versions introduced; every added column is nullable, so old rows stay valid."""
    for table, columns in ((TABLE, COLUMNS), (REPS_TABLE, REP_COLUMNS)):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        for name, kind in columns:
            if name not in have:
                if "NOT NULL" in kind:
                    raise sqlite3.OperationalError(f"cannot add required column {name} to an existing {table}")
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


class SqliteStore:
    """MetricStore on a SQLite file, plus the reads the API and tests use."""

    def __init__(self, path: str | Path, *, busy_timeout_s: float = 5.0) -> None:
        self.path = Path(path)
        self._busy_timeout_s = busy_timeout_s
        # Two connections so a read in this process does not queue behind a write (WAL allows both).
        # threading locks, not asyncio ones: a cancelled await leaves its thread running, and the
        # next call must still not share the connection with it.
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._start_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    # lifecycle

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE below), not implicit.
        conn = sqlite3.connect(self.path, timeout=self._busy_timeout_s, isolation_level=None, check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_s * 1000)}")
        return conn

    def _open(self) -> None:
        if self.path.parent != Path():
            self.path.parent.mkdir(parents=True, exist_ok=True)
        writer = self._connect()
        try:
            # WAL is a property of the file: set once, every later connection (other processes
            # included) gets it.
            mode = writer.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                log.warning("sqlite %s: journal_mode is %s, not wal; readers may block writes", self.path, mode)
            # NORMAL in WAL mode loses at most the last commits on power loss, never consistency; the
            # writer re-reads uncommitted Kafka offsets anyway.
            writer.execute("PRAGMA synchronous = NORMAL")
            writer.execute(_DDL)
            writer.execute(_REPS_DDL)
            _migrate(writer)
            writer.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            reader = self._connect()
        except BaseException:
            writer.close()
            raise
        self._writer, self._reader = writer, reader

    async def start(self) -> None:
        async with self._start_lock:
            if self._writer is not None:
                return
            try:
                await asyncio.to_thread(self._open)
            except sqlite3.OperationalError as exc:
                raise StorageUnavailable(f"sqlite {self.path}: {exc}") from exc

    async def close(self) -> None:
        async with self._start_lock:
            writer, reader = self._writer, self._reader
            self._writer = self._reader = None

            def _close() -> None:
                with self._write_lock:
                    if writer is not None:
                        writer.close()
                with self._read_lock:
                    if reader is not None:
                        reader.close()

            await asyncio.to_thread(_close)

    async def __aenter__(self) -> SqliteStore:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # plumbing

    async def _run(self, lock: threading.Lock, which: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._writer is None:
            await self.start()

        def _call() -> T:
            with lock:
                conn = self._writer if which == "writer" else self._reader
                if conn is None:
                    raise StorageUnavailable(f"sqlite {self.path}: store is closed")
                return fn(conn)

        try:
            return await asyncio.to_thread(_call)
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
            # IMMEDIATE takes the write lock up front, so waiting for another writer goes through
            # busy_timeout instead of failing on a read-to-write lock upgrade.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(_INSERT, rows)
                conn.executemany(_REPS_INSERT, rep_rows)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

        await self._run(self._write_lock, "writer", _write)

    # reads

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        def _select(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            return conn.execute(sql, params).fetchall()

        return await self._run(self._read_lock, "reader", _select)

    async def latest_per_station(self) -> list[WindowMetric]:
        """The newest window of every station, ordered by station."""
        # The correlated MAX is one index probe per station on the primary key.
        rows = await self._read(
            f"{_SELECT} AS m WHERE window_start_ns = "
            f"(SELECT MAX(window_start_ns) FROM {TABLE} WHERE station = m.station) ORDER BY station"
        )
        return [_metric(r) for r in rows]

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
