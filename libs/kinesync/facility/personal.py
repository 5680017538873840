"""The coach's choices for personal target windows, per athlete and exercise, and what was learned.

The table ``personal_windows`` in the facility file (its own connection; the schema is shared with
the registry, ``kinesync.facility.schema``): mode (fixed or personal), the lock, and the last learned
(or locked) window. Session assignments carry all three to the analyzer, so a restarted analyzer
continues from the last learned window.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from kinesync.facility.schema import facility_db


class PersonalState(BaseModel):
    mode: Literal["fixed", "personal"] = "fixed"
    locked: bool = False
    low_ms: float | None = Field(None, description="last learned or locked window, lower edge, ms")
    high_ms: float | None = Field(None, description="last learned or locked window, upper edge, ms")


class PersonalStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._db = facility_db(path)

    async def get(self, athlete_id: int, exercise: str) -> PersonalState:
        def fn(c: sqlite3.Connection) -> PersonalState:
            r = c.execute("SELECT mode, locked, low_ms, high_ms FROM personal_windows WHERE athlete_id = ? AND "
                          "exercise = ?", [athlete_id, exercise]).fetchone()
            return PersonalState() if r is None else PersonalState(mode=r[0], locked=bool(r[1]), low_ms=r[2],
                                                                    high_ms=r[3])

        return await self._db.run(fn, tx=False)

    async def put(self, athlete_id: int, exercise: str, state: PersonalState) -> None:
        def fn(c: sqlite3.Connection) -> None:
            c.execute("INSERT OR REPLACE INTO personal_windows VALUES (?, ?, ?, ?, ?, ?, ?)",
                      [athlete_id, exercise, state.mode, int(state.locked), state.low_ms, state.high_ms,
                       time.time_ns()])

        await self._db.run(fn)

    async def close(self) -> None:
        await self._db.aclose()
