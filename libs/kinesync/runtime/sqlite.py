"""One SQLite file behind one connection and one lock, with versioned migrations.

Every store of the project (facility registry, plan templates, personal windows, alert outbox,
metric store) goes through ``SqliteDb``:

- the connection is opened lazily, in whatever thread first needs it: WAL (readers in other
  processes see the last commit while a write runs), a busy timeout (another process holding the
  write lock makes us wait, not fail), ``check_same_thread=False`` (calls come from worker threads);
- a ``threading.Lock``, not an asyncio one: a cancelled await leaves its worker thread running, and
  the next call must still not share the connection with it;
- ``call`` for synchronous callers, ``await run`` for the event loop (``asyncio.to_thread``);
- ``tx=True`` wraps the function in BEGIN IMMEDIATE … COMMIT, ROLLBACK on any error. IMMEDIATE
  takes the write lock up front, so a wait for another writer goes through the busy timeout instead
  of failing on a read-to-write upgrade halfway through;
- ``migrations``: step ``i`` (0-based) takes ``PRAGMA user_version`` from ``i`` to ``i + 1``. They run
  on open, all in one transaction, so a crash halfway leaves the file as it was.

A file that predates ``user_version`` (version 0 with tables in it), or one a release before this
module re-stamped with its own lower number, may already hold what a step adds. So steps must be
safe to re-run: ``CREATE ... IF NOT EXISTS`` and ``add_columns``, which adds only missing columns
(SQLite has no ``ADD COLUMN IF NOT EXISTS``). The schema the file is at is detected column by column,
which also copes with files holding only some of the tables (a registry whose personal windows lived
in another file, say), where a single guessed version number would be wrong for some table.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, TypeVar

from kinesync.runtime.retry import backoff_s

log = logging.getLogger(__name__)

T = TypeVar("T")

# One migration step: a SQL script (statements separated by ";") or a function of the connection.
Step = str | Callable[[sqlite3.Connection], None]
# One schema version: a step, or several applied in order.
Migration = Step | tuple[Step, ...]
Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]

MEMORY = ":memory:"


def add_columns(table: str, columns: Sequence[tuple[str, str]]) -> Step:
    """A step adding ``(name, declaration)`` columns the table does not have yet.

    Declarations must allow existing rows: nullable, or NOT NULL with a DEFAULT (SQLite refuses
    anything else on a table with rows, and the migration rolls back).
    """

    def step(conn: sqlite3.Connection) -> None:
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
        if not have:
            raise sqlite3.OperationalError(f"no table {table} to add columns to")
        for name, decl in columns:
            if name not in have:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {decl}")

    return step


def statements(script: str) -> list[str]:
    """Split a script into statements; ``executescript`` would COMMIT the migration's transaction."""
    out, pending = [], ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):  # knows about ";" inside strings and trigger bodies
            out.append(pending.strip())
            pending = ""
    if pending.strip():
        out.append(pending.strip())
    return [s for s in out if s.rstrip(";").strip()]


def _apply(conn: sqlite3.Connection, migration: Migration) -> None:
    for step in migration if isinstance(migration, tuple) else (migration,):
        if isinstance(step, str):
            for sql in statements(step):
                conn.execute(sql)
        else:
            step(conn)


def user_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


class SqliteDb:
    """One SQLite file: a lazily opened connection, one lock, transactions and migrations."""

    def __init__(self, path: str | Path, migrations: Sequence[Migration] = (), *, busy_timeout_s: float = 5.0,
                 synchronous: Synchronous | None = None, wal: bool = True) -> None:
        self.path = str(path)
        self.migrations = tuple(migrations)
        self.busy_timeout_s = busy_timeout_s
        self.synchronous = synchronous
        self.wal = wal
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def __repr__(self) -> str:
        return f"SqliteDb({self.path!r})"

    @property
    def latest(self) -> int:
        """The ``user_version`` the migrations bring a file to."""
        return len(self.migrations)

    # connection

    def _connect(self) -> sqlite3.Connection:
        if self.path != MEMORY:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: no implicit transactions; ``call`` opens them explicitly.
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout_s, isolation_level=None,
                               check_same_thread=False)
        try:
            if self.wal and self.path != MEMORY:
                # WAL is a property of the file: set once, every later connection (other processes too) has it.
                mode = self._set_wal(conn)
                if str(mode).lower() != "wal":
                    log.warning("sqlite %s: journal_mode is %s, not wal; readers may block writes", self.path, mode)
            if self.synchronous is not None:
                conn.execute(f"PRAGMA synchronous = {self.synchronous}")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _set_wal(self, conn: sqlite3.Connection) -> str:
        """Put the file in WAL mode; the journal mode it is in afterwards.

        Switching takes an exclusive lock, and SQLite answers "database is locked" at once, without its
        busy handler, while another connection switches or migrates: several services opening a new
        file together would fail at start-up. So the mode is read first (a file in WAL needs no switch),
        and a locked switch is retried within the busy timeout.
        """
        mode = str(conn.execute("PRAGMA journal_mode").fetchone()[0])
        if mode.lower() == "wal":
            return mode
        deadline = time.monotonic() + self.busy_timeout_s
        attempt = 0
        while True:
            try:
                return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
                time.sleep(min(backoff_s(attempt, base_s=0.005, cap_s=0.2), max(0.0, deadline - time.monotonic())))
                attempt += 1

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if not self.migrations:  # a connection that does not own the schema (a second reader, say)
            return
        found = user_version(conn)
        if found > self.latest:
            # Written by a newer release: never lower the number, or that release would lose track of
            # what it already did. Columns are only ever added, so named reads still work.
            log.warning("sqlite %s: schema %d is newer than this version's %d; opened without migrating",
                        self.path, found, self.latest)
        if found >= self.latest:  # the usual open: no write lock taken
            return
        # IMMEDIATE: two processes opening an old file at once migrate it one after the other; the
        # second reads the version again under the lock and finds nothing left to do.
        conn.execute("BEGIN IMMEDIATE")
        try:
            found = user_version(conn)
            for migration in self.migrations[found:]:
                _apply(conn, migration)
            conn.execute(f"PRAGMA user_version = {max(found, self.latest)}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        if found < self.latest:
            log.info("sqlite %s: schema %d -> %d", self.path, found, self.latest)

    def open(self) -> None:
        """Open (and migrate) now rather than on first use, so errors surface at start-up. Blocking."""
        with self._lock:
            self._open()

    def _open(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = self._connect()
        return self._conn

    def close(self) -> None:
        """Close the connection; a later call opens it again. Blocking."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    # calls

    def call(self, fn: Callable[[sqlite3.Connection], T], *, tx: bool = True) -> T:
        """Run ``fn`` on the connection under the lock; blocking, for synchronous callers and threads.

        With ``tx`` (the default) in one BEGIN IMMEDIATE transaction, committed when ``fn`` returns
        and rolled back when it raises. Without, each statement commits on its own: for reads that
        should not queue behind another process's write. ``fn`` must not call back into this object.
        """
        with self._lock:
            conn = self._open()
            if not tx:
                return fn(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                out = fn(conn)
                conn.execute("COMMIT")
            except BaseException:
                # An error such as SQLITE_FULL may already have ended the transaction.
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            return out

    async def run(self, fn: Callable[[sqlite3.Connection], T], *, tx: bool = True) -> T:
        """``call`` in a worker thread, so the event loop never waits on the disk or on the lock."""
        return await asyncio.to_thread(self.call, fn, tx=tx)

    def version(self) -> int:
        """The file's ``user_version`` (opening and migrating it first). Blocking."""
        return self.call(user_version, tx=False)
