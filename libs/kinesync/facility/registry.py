"""The facility registry: teams, athletes, stations, sessions and target windows in one SQLite file.

Small tables, few writers (coaches clicking), so one connection behind a lock, used from a worker
thread so the event loop never waits on the disk (``kinesync.runtime.sqlite``; the schema and its
migrations are in ``kinesync.facility.schema``). Errors are typed (NotFound, Conflict) and the
routes turn them into 404/409; nothing here knows HTTP.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from kinesync.facility.models import (
    Athlete,
    AthleteIn,
    AthletePatch,
    Exercise,
    Page,
    Session,
    SessionIn,
    Station,
    StationIn,
    StationPatch,
    Target,
    TargetIn,
    Team,
    TeamIn,
    TeamPatch,
)
from kinesync.facility.schema import facility_db
from kinesync.models import SessionAssignment
from kinesync.training.plan_models import SessionPlan

R = TypeVar("R")

_SESSION_COLS = (
    "id, station_id, athlete_id, athlete_name, team_name, exercise, target_low_ms, target_high_ms, "
    "started_at_ns, stopped_at_ns, plan_id, plan, plan_block_index, plan_set_index, plan_position_ns, bar_sensor"
)
_ATHLETE_SELECT = "SELECT id, name, team_id, body_mass_kg, dominant_side FROM athletes"
_STATION_SELECT = (
    "SELECT s.id, s.label, s.bar_sensor, "
    "(SELECT id FROM sessions WHERE station_id = s.id AND stopped_at_ns IS NULL) FROM stations s"
)


class NotFound(LookupError):
    pass


class Conflict(ValueError):
    """A change the current state refuses; ``field`` names the input it is about, when one is (the console
    shows the message next to that field)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def _session(row: tuple[Any, ...]) -> Session:
    keys = [c.strip() for c in _SESSION_COLS.split(",")]
    values = dict(zip(keys, row, strict=True))
    values["plan"] = SessionPlan.model_validate_json(values["plan"]) if values["plan"] else None
    values["bar_sensor"] = bool(values["bar_sensor"])
    return Session(**values, active=values["stopped_at_ns"] is None)


def _athlete_of(r: tuple[Any, ...]) -> Athlete:
    return Athlete(id=r[0], name=r[1], team_id=r[2], body_mass_kg=r[3], dominant_side=r[4])


def _station_of(r: tuple[Any, ...], devices: dict[str, list[str]]) -> Station:
    return Station(id=r[0], label=r[1], bar_sensor=bool(r[2]), active_session_id=r[3],
                   device_ids=devices.get(r[0], []))


def _devices(conn: sqlite3.Connection, station_id: str | None = None) -> dict[str, list[str]]:
    """Device ids per station (one station's, or all), in the order they were given."""
    sql, params = "SELECT station_id, device_id FROM station_devices", []
    if station_id is not None:
        sql, params = sql + " WHERE station_id = ?", [station_id]
    out: dict[str, list[str]] = {}
    for station, device in conn.execute(sql + " ORDER BY station_id, position", params):
        out.setdefault(station, []).append(device)
    return out


def _set_devices(conn: sqlite3.Connection, station_id: str, device_ids: list[str]) -> None:
    """Give the station exactly these devices; one that belongs to another station is a Conflict."""
    if device_ids:
        marks = ", ".join("?" * len(device_ids))
        taken = conn.execute(f"SELECT device_id, station_id FROM station_devices WHERE device_id IN ({marks}) "
                             "AND station_id != ? ORDER BY device_id", [*device_ids, station_id]).fetchone()
        if taken is not None:
            raise Conflict(f"device {taken[0]!r} belongs to station {taken[1]!r}; remove it there first",
                           "device_ids")
    conn.execute("DELETE FROM station_devices WHERE station_id = ?", [station_id])
    conn.executemany("INSERT INTO station_devices (device_id, station_id, position) VALUES (?, ?, ?)",
                     [(d, station_id, i) for i, d in enumerate(device_ids)])


def assignment_of(s: Session) -> SessionAssignment:
    """The record the analyzer tags metrics with. Names, not ids, so walls and dashboards read well;
    the session id (as text) ties every metric back to the registry."""
    if not s.active:
        return SessionAssignment(station=s.station_id, updated_at_ns=s.stopped_at_ns or time.time_ns())
    return SessionAssignment(
        station=s.station_id, athlete=s.athlete_name, team=s.team_name, exercise=s.exercise.value,
        session=str(s.id), target_low_ms=s.target_low_ms, target_high_ms=s.target_high_ms,
        updated_at_ns=s.started_at_ns, plan=s.plan, plan_block_index=s.plan_block_index,
        plan_set_index=s.plan_set_index, plan_position_ns=s.plan_position_ns, bar_sensor=s.bar_sensor,
    )


def page(conn: sqlite3.Connection, sql: str, params: list[Any], limit: int, offset: int,
         row: Callable[[tuple[Any, ...]], R]) -> Page[R]:
    """One page of ``sql``'s rows (ordered by its first column) with the count of all of them; call it in
    a transaction, so the count and the page agree."""
    total = conn.execute(f"SELECT COUNT(*) FROM ({sql})", params).fetchone()[0]
    rows = conn.execute(f"{sql} ORDER BY 1 LIMIT ? OFFSET ?", [*params, limit, offset]).fetchall()
    return Page(items=[row(r) for r in rows], total=total, limit=limit, offset=offset)


def _one(conn: sqlite3.Connection, sql: str, params: list[Any], what: str) -> tuple[Any, ...]:
    r = conn.execute(sql, params).fetchone()
    if r is None:
        raise NotFound(f"{what} not found")
    return r


class Registry:
    def __init__(self, path: str | Path, *, default_target_ms: tuple[float, float] = (80.0, 120.0),
                 clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.path = str(path)
        self.default_target_ms = default_target_ms
        self._clock_ns = clock_ns
        self._db = facility_db(path)

    def now_ns(self) -> int:
        """The registry's clock (wall time, ns; tests pass their own): what rows are stamped with."""
        return self._clock_ns()

    async def transaction(self, fn: Callable[[sqlite3.Connection], R]) -> R:
        """Run ``fn`` in one transaction on the registry's connection, in a worker thread; a raised error
        rolls it back. For tables that share the file (plan templates)."""
        return await self._db.run(fn)

    async def close(self) -> None:
        await self._db.aclose()

    # helpers (inside a transaction)

    def _team(self, conn: sqlite3.Connection, team_id: int) -> Team:
        r = _one(conn, "SELECT id, name FROM teams WHERE id = ?", [team_id], f"team {team_id}")
        return Team(id=r[0], name=r[1])

    def _athlete(self, conn: sqlite3.Connection, athlete_id: int) -> Athlete:
        return _athlete_of(_one(conn, f"{_ATHLETE_SELECT} WHERE id = ?", [athlete_id], f"athlete {athlete_id}"))

    def _station(self, conn: sqlite3.Connection, station_id: str) -> Station:
        return _station_of(_one(conn, f"{_STATION_SELECT} WHERE s.id = ?", [station_id], f"station {station_id!r}"),
                           _devices(conn, station_id))

    def _get_session(self, conn: sqlite3.Connection, session_id: int) -> Session:
        return _session(_one(conn, f"SELECT {_SESSION_COLS} FROM sessions WHERE id = ?", [session_id],
                             f"session {session_id}"))

    def _target(self, conn: sqlite3.Connection, athlete_id: int, exercise: Exercise) -> Target:
        r = conn.execute("SELECT low_ms, high_ms FROM targets WHERE athlete_id = ? AND exercise = ?",
                         [athlete_id, exercise.value]).fetchone()
        if r is None:
            low, high = self.default_target_ms
            return Target(athlete_id=athlete_id, exercise=exercise, low_ms=low, high_ms=high, default=True)
        return Target(athlete_id=athlete_id, exercise=exercise, low_ms=r[0], high_ms=r[1], default=False)

    # teams

    async def list_teams(self, limit: int, offset: int) -> Page[Team]:
        return await self._db.run(lambda c: page(c, "SELECT id, name FROM teams", [], limit, offset,
                                                 lambda r: Team(id=r[0], name=r[1])))

    async def get_team(self, team_id: int) -> Team:
        return await self._db.run(lambda c: self._team(c, team_id))

    async def create_team(self, body: TeamIn) -> Team:
        def fn(c: sqlite3.Connection) -> Team:
            if c.execute("SELECT 1 FROM teams WHERE name = ?", [body.name]).fetchone():
                raise Conflict(f"a team named {body.name!r} exists", "name")
            cur = c.execute("INSERT INTO teams (name) VALUES (?)", [body.name])
            return Team(id=int(cur.lastrowid or 0), name=body.name)

        return await self._db.run(fn)

    async def update_team(self, team_id: int, body: TeamPatch) -> Team:
        def fn(c: sqlite3.Connection) -> Team:
            team = self._team(c, team_id)
            if body.name is not None and body.name != team.name:
                if c.execute("SELECT 1 FROM teams WHERE name = ?", [body.name]).fetchone():
                    raise Conflict(f"a team named {body.name!r} exists", "name")
                c.execute("UPDATE teams SET name = ? WHERE id = ?", [body.name, team_id])
            return self._team(c, team_id)

        return await self._db.run(fn)

    async def delete_team(self, team_id: int) -> None:
        def fn(c: sqlite3.Connection) -> None:
            self._team(c, team_id)
            n = c.execute("SELECT COUNT(*) FROM athletes WHERE team_id = ?", [team_id]).fetchone()[0]
            if n:
                raise Conflict(f"team {team_id} still has {n} athlete(s); move or delete them first")
            c.execute("DELETE FROM teams WHERE id = ?", [team_id])

        await self._db.run(fn)

    # athletes

    async def list_athletes(self, limit: int, offset: int, team_id: int | None = None) -> Page[Athlete]:
        sql, params = _ATHLETE_SELECT, []
        if team_id is not None:
            sql, params = sql + " WHERE team_id = ?", [team_id]
        return await self._db.run(lambda c: page(c, sql, params, limit, offset, _athlete_of))

    async def get_athlete(self, athlete_id: int) -> Athlete:
        return await self._db.run(lambda c: self._athlete(c, athlete_id))

    async def create_athlete(self, body: AthleteIn) -> Athlete:
        def fn(c: sqlite3.Connection) -> Athlete:
            if body.team_id is not None:
                self._team(c, body.team_id)
            cur = c.execute("INSERT INTO athletes (name, team_id, body_mass_kg, dominant_side) VALUES (?, ?, ?, ?)",
                            [body.name, body.team_id, body.body_mass_kg, body.dominant_side])
            return self._athlete(c, int(cur.lastrowid or 0))

        return await self._db.run(fn)

    async def update_athlete(self, athlete_id: int, body: AthletePatch) -> Athlete:
        def fn(c: sqlite3.Connection) -> Athlete:
            self._athlete(c, athlete_id)
            fields = body.model_dump(exclude_unset=True)
            if fields.get("team_id") is not None:
                self._team(c, fields["team_id"])
            for key, value in fields.items():
                c.execute(f"UPDATE athletes SET {key} = ? WHERE id = ?", [value, athlete_id])  # key: model field
            return self._athlete(c, athlete_id)

        return await self._db.run(fn)

    async def delete_athlete(self, athlete_id: int) -> None:
        def fn(c: sqlite3.Connection) -> None:
            self._athlete(c, athlete_id)
            n = c.execute("SELECT COUNT(*) FROM sessions WHERE athlete_id = ?", [athlete_id]).fetchone()[0]
            if n:
                raise Conflict(f"athlete {athlete_id} has {n} session(s); their history keeps the athlete")
            c.execute("DELETE FROM targets WHERE athlete_id = ?", [athlete_id])
            c.execute("DELETE FROM athletes WHERE id = ?", [athlete_id])

        await self._db.run(fn)

    # stations

    async def list_stations(self, limit: int, offset: int) -> Page[Station]:
        def fn(c: sqlite3.Connection) -> Page[Station]:
            devices = _devices(c)  # a few stations with a few devices each: one query for all of them
            return page(c, _STATION_SELECT, [], limit, offset, lambda r: _station_of(r, devices))

        return await self._db.run(fn)

    async def get_station(self, station_id: str) -> Station:
        return await self._db.run(lambda c: self._station(c, station_id))

    async def create_station(self, body: StationIn) -> Station:
        def fn(c: sqlite3.Connection) -> Station:
            if c.execute("SELECT 1 FROM stations WHERE id = ?", [body.id]).fetchone():
                raise Conflict(f"station {body.id!r} exists", "id")
            c.execute("INSERT INTO stations (id, label, bar_sensor) VALUES (?, ?, ?)",
                      [body.id, body.label, int(body.bar_sensor)])
            _set_devices(c, body.id, body.device_ids)  # a Conflict rolls the station back with it
            return self._station(c, body.id)

        return await self._db.run(fn)

    async def update_station(self, station_id: str, body: StationPatch) -> tuple[Station, Session | None]:
        """Update a station; returns it and the running session whose bar-sensor setting changed with it,
        whose assignment must be republished so the analyzer waits (or stops waiting) for bar frames."""

        def fn(c: sqlite3.Connection) -> tuple[Station, Session | None]:
            before = self._station(c, station_id)
            if "label" in body.model_fields_set:
                c.execute("UPDATE stations SET label = ? WHERE id = ?", [body.label, station_id])
            if body.device_ids is not None:
                _set_devices(c, station_id, body.device_ids)
            running = None
            if body.bar_sensor is not None and body.bar_sensor != before.bar_sensor:
                c.execute("UPDATE stations SET bar_sensor = ? WHERE id = ?", [int(body.bar_sensor), station_id])
                if before.active_session_id is not None:
                    c.execute("UPDATE sessions SET bar_sensor = ? WHERE id = ?",
                              [int(body.bar_sensor), before.active_session_id])
                    running = self._get_session(c, before.active_session_id)
            return self._station(c, station_id), running

        return await self._db.run(fn)

    async def delete_station(self, station_id: str) -> None:
        def fn(c: sqlite3.Connection) -> None:
            st = self._station(c, station_id)
            if st.active_session_id is not None:
                raise Conflict(f"station {station_id!r} has running session {st.active_session_id}; stop it first")
            c.execute("DELETE FROM station_devices WHERE station_id = ?", [station_id])
            c.execute("DELETE FROM stations WHERE id = ?", [station_id])

        await self._db.run(fn)

    # targets

    async def list_targets(self, athlete_id: int) -> list[Target]:
        def fn(c: sqlite3.Connection) -> list[Target]:
            self._athlete(c, athlete_id)
            return [self._target(c, athlete_id, ex) for ex in Exercise]

        return await self._db.run(fn)

    async def get_target(self, athlete_id: int, exercise: Exercise) -> Target:
        def fn(c: sqlite3.Connection) -> Target:
            self._athlete(c, athlete_id)
            return self._target(c, athlete_id, exercise)

        return await self._db.run(fn)

    async def set_target(self, athlete_id: int, exercise: Exercise, body: TargetIn | None) -> tuple[Target,
                                                                                                  Session | None]:
        """Set (or with None reset to the default) a target; returns it and the running session it
        changes, whose assignment must be republished so the analyzer judges with the new band."""

        def fn(c: sqlite3.Connection) -> tuple[Target, Session | None]:
            self._athlete(c, athlete_id)
            if body is None:
                c.execute("DELETE FROM targets WHERE athlete_id = ? AND exercise = ?", [athlete_id, exercise.value])
            else:
                c.execute("INSERT OR REPLACE INTO targets VALUES (?, ?, ?, ?)",
                          [athlete_id, exercise.value, body.low_ms, body.high_ms])
            target = self._target(c, athlete_id, exercise)
            r = c.execute(f"SELECT {_SESSION_COLS} FROM sessions WHERE athlete_id = ? AND exercise = ? "
                          "AND stopped_at_ns IS NULL", [athlete_id, exercise.value]).fetchone()
            running = None
            if r is not None:
                c.execute("UPDATE sessions SET target_low_ms = ?, target_high_ms = ? WHERE id = ?",
                          [target.low_ms, target.high_ms, r[0]])
                running = self._get_session(c, r[0])
            return target, running

        return await self._db.run(fn)

    # sessions

    async def list_sessions(self, limit: int, offset: int, *, station_id: str | None = None,
                            athlete_id: int | None = None, active: bool | None = None) -> Page[Session]:
        where, params = [], []
        if station_id is not None:
            where.append("station_id = ?")
            params.append(station_id)
        if athlete_id is not None:
            where.append("athlete_id = ?")
            params.append(athlete_id)
        if active is not None:
            where.append("stopped_at_ns IS NULL" if active else "stopped_at_ns IS NOT NULL")
        sql = f"SELECT {_SESSION_COLS} FROM sessions" + (f" WHERE {' AND '.join(where)}" if where else "")
        return await self._db.run(lambda c: page(c, sql, params, limit, offset, _session))

    async def get_session(self, session_id: int) -> Session:
        return await self._db.run(lambda c: self._get_session(c, session_id))

    async def active_sessions(self) -> list[Session]:
        return await self._db.run(lambda c: [_session(r) for r in c.execute(
            f"SELECT {_SESSION_COLS} FROM sessions WHERE stopped_at_ns IS NULL ORDER BY id")])

    async def start_session(self, body: SessionIn) -> Session:
        def fn(c: sqlite3.Connection) -> Session:
            station = self._station(c, body.station_id)
            athlete = self._athlete(c, body.athlete_id)
            if station.active_session_id is not None:
                raise Conflict(f"station {station.id!r} has running session {station.active_session_id}; "
                               f"stop it first (POST /api/v1/sessions/{station.active_session_id}/stop)")
            busy = c.execute("SELECT id, station_id FROM sessions WHERE athlete_id = ? AND stopped_at_ns IS NULL",
                             [athlete.id]).fetchone()
            if busy is not None:
                raise Conflict(f"athlete {athlete.id} is in running session {busy[0]} on station {busy[1]!r}")
            team = self._team(c, athlete.team_id).name if athlete.team_id is not None else None
            target = self._target(c, athlete.id, body.exercise)
            plan = None
            if body.plan_id is not None:  # a copy: editing or deleting the template leaves the session as run
                plan = _one(c, "SELECT plan FROM plans WHERE id = ?", [body.plan_id], f"plan {body.plan_id}")[0]
            cur = c.execute(
                "INSERT INTO sessions (station_id, athlete_id, athlete_name, team_name, exercise, target_low_ms, "
                "target_high_ms, started_at_ns, plan_id, plan, bar_sensor) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [station.id, athlete.id, athlete.name, team, body.exercise.value, target.low_ms, target.high_ms,
                 self.now_ns(), body.plan_id, plan, int(station.bar_sensor)],
            )
            return self._get_session(c, int(cur.lastrowid or 0))

        return await self._db.run(fn)

    async def set_plan_position(self, session_id: int, block_index: int, set_index: int) -> Session:
        """Move a running session's plan count to a block and set; the new position time restarts the
        analyzer's count there once the assignment is republished."""

        def fn(c: sqlite3.Connection) -> Session:
            s = self._get_session(c, session_id)
            if not s.active:
                raise Conflict(f"session {session_id} is stopped")
            if s.plan is None:
                raise Conflict(f"session {session_id} follows no plan")
            if block_index >= len(s.plan.blocks) or set_index >= s.plan.blocks[block_index].sets:
                raise Conflict(f"the plan of session {session_id} has no block {block_index}, set {set_index}")
            c.execute("UPDATE sessions SET plan_block_index = ?, plan_set_index = ?, plan_position_ns = ? WHERE id = ?",
                      [block_index, set_index, max(self.now_ns(), s.plan_position_ns + 1), session_id])
            return self._get_session(c, session_id)

        return await self._db.run(fn)

    async def stop_session(self, session_id: int) -> Session:
        def fn(c: sqlite3.Connection) -> Session:
            s = self._get_session(c, session_id)
            if not s.active:
                raise Conflict(f"session {session_id} already stopped")
            c.execute("UPDATE sessions SET stopped_at_ns = ? WHERE id = ?", [self.now_ns(), session_id])
            return self._get_session(c, session_id)

        return await self._db.run(fn)
