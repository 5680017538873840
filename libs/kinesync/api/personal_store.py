"""The coach's choices for personal target windows, per athlete and exercise, and what was learned.

A table ``personal_windows`` beside the registry's (same SQLite file, its own connection): mode
(fixed or personal), the lock, and the last learned (or locked) window. Session assignments carry
all three to the analyzer, so a restarted analyzer continues from the last learned window.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

_DDL = """
CREATE TABLE IF NOT EXISTS personal_windows (
  athlete_id INTEGER NOT NULL, exercise TEXT NOT NULL, mode TEXT NOT NULL, locked INTEGER NOT NULL,
  low_ms REAL, high_ms REAL, updated_at_ns INTEGER NOT NULL, PRIMARY KEY (athlete_id, exercise));
"""


class PersonalState(BaseModel):
    mode: Literal["fixed", "personal"] = "fixed"
    locked: bool = False
    low_ms: float | None = Field(None, description="last learned or locked window, lower edge, ms")
    high_ms: float | None = Field(None, description="last learned or locked window, upper edge, ms")


class PersonalStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _call(self, fn):
        with self._lock:
            if self._conn is None:
                if self.path != ":memory:":
                    Path(self.path).parent.mkdir(parents=True, exist_ok=True)
                self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=5.0)
                self._conn.executescript(_DDL)
            return fn(self._conn)

    async def get(self, athlete_id: int, exercise: str) -> PersonalState:
        def fn(c: sqlite3.Connection) -> PersonalState:
            r = c.execute("SELECT mode, locked, low_ms, high_ms FROM personal_windows WHERE athlete_id = ? AND "
                          "exercise = ?", [athlete_id, exercise]).fetchone()
            return PersonalState() if r is None else PersonalState(mode=r[0], locked=bool(r[1]), low_ms=r[2],
                                                                    high_ms=r[3])

        return await asyncio.to_thread(self._call, fn)

    async def put(self, athlete_id: int, exercise: str, state: PersonalState) -> None:
        def fn(c: sqlite3.Connection) -> None:
            c.execute("INSERT OR REPLACE INTO personal_windows VALUES (?, ?, ?, ?, ?, ?, ?)",
                      [athlete_id, exercise, state.mode, int(state.locked), state.low_ms, state.high_ms,
                       time.time_ns()])

        await asyncio.to_thread(self._call, fn)

    async def close(self) -> None:
        def fn() -> None:
            with self._lock:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None

        await asyncio.to_thread(fn)
