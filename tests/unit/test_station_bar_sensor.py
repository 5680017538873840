"""A station marked as having a bar sensor: stored in the registry (old files migrated), published with the
station's sessions (the analyzer then waits for bar frames), and republished when a coach changes it."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens
from kinesync.api.sessions_out import ListSessionSink
from kinesync.facility.registry import Registry
from kinesync.models import SessionAssignment
from kinesync.settings import Settings

ADMIN = {"Authorization": "Bearer adm"}


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, ListSessionSink]]:
    app = create_app(LiveState(), tokens=ApiTokens.from_settings(Settings(api_admin_token="adm")))
    registry = Registry(tmp_path / "registry.db")
    sink = ListSessionSink()
    app.state.registry, app.state.session_sink = registry, sink
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c:
        yield c, sink
    await registry.close()


async def _start(c: httpx.AsyncClient, station: str, athlete: int) -> dict:
    r = await c.post("/api/v1/sessions", json={"station_id": station, "athlete_id": athlete,
                                               "exercise": "back_squat"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    return r.json()


async def test_bar_sensor_is_stored_and_published_with_sessions(wired) -> None:
    c, sink = wired
    r = await c.post("/api/v1/stations", json={"id": "rack-1", "bar_sensor": True}, headers=ADMIN)
    assert r.status_code == 201 and r.json()["bar_sensor"] is True
    r = await c.post("/api/v1/stations", json={"id": "rack-2"}, headers=ADMIN)
    assert r.json()["bar_sensor"] is False
    ada = (await c.post("/api/v1/athletes", json={"name": "Ada"}, headers=ADMIN)).json()["id"]
    bo = (await c.post("/api/v1/athletes", json={"name": "Bo"}, headers=ADMIN)).json()["id"]

    s1, s2 = await _start(c, "rack-1", ada), await _start(c, "rack-2", bo)
    assert (s1["bar_sensor"], s2["bar_sensor"]) == (True, False)
    # What the analyzer reads from kinesync.sessions: the JSON of the assignment.
    published = {a.station: SessionAssignment.model_validate_json(a.model_dump_json()) for a in sink.published}
    assert published["rack-1"].bar_sensor is True and published["rack-2"].bar_sensor is False

    # A coach adds a sensor to rack-2 mid-session: the running session is republished with it.
    n = len(sink.published)
    r = await c.patch("/api/v1/stations/rack-2", json={"bar_sensor": True}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["bar_sensor"] is True and r.json()["label"] is None
    assert len(sink.published) == n + 1
    assert sink.published[-1].station == "rack-2" and sink.published[-1].bar_sensor is True
    assert (await c.get(f"/api/v1/sessions/{s2['id']}", headers=ADMIN)).json()["bar_sensor"] is True
    # A label change, or the same value again, publishes nothing.
    await c.patch("/api/v1/stations/rack-2", json={"label": "Rack 2", "bar_sensor": True}, headers=ADMIN)
    assert len(sink.published) == n + 1
    listed = (await c.get("/api/v1/stations", headers=ADMIN)).json()["items"]
    assert [(s["id"], s["label"], s["bar_sensor"]) for s in listed] == [("rack-1", None, True),
                                                                     ("rack-2", "Rack 2", True)]
    # A stopped session keeps what it ran with; a station without a session just changes.
    await c.post(f"/api/v1/sessions/{s1['id']}/stop", headers=ADMIN)
    r = await c.patch("/api/v1/stations/rack-1", json={"bar_sensor": False}, headers=ADMIN)
    assert r.json()["bar_sensor"] is False
    assert (await c.get(f"/api/v1/sessions/{s1['id']}", headers=ADMIN)).json()["bar_sensor"] is True
    assert (await c.patch("/api/v1/stations/rack-1", json={"bar_sensor": None}, headers=ADMIN)).status_code == 422


async def test_a_registry_from_before_bar_sensors_opens_with_none(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # the first release's tables, with one station and a running session
        conn.executescript("""
            CREATE TABLE stations (id TEXT PRIMARY KEY, label TEXT);
            CREATE TABLE athletes (id INTEGER PRIMARY KEY, name TEXT NOT NULL, team_id INTEGER);
            CREATE TABLE sessions (
              id INTEGER PRIMARY KEY, station_id TEXT NOT NULL, athlete_id INTEGER NOT NULL, athlete_name TEXT NOT NULL,
              team_name TEXT, exercise TEXT NOT NULL, target_low_ms REAL NOT NULL, target_high_ms REAL NOT NULL,
              started_at_ns INTEGER NOT NULL, stopped_at_ns INTEGER);
            INSERT INTO stations VALUES ('rack-1', 'Rack 1');
            INSERT INTO athletes VALUES (1, 'Ada', NULL);
            INSERT INTO sessions VALUES (1, 'rack-1', 1, 'Ada', NULL, 'back_squat', 80, 120, 5, NULL);
        """)
    conn.close()
    reg = Registry(path)
    try:
        station = await reg.get_station("rack-1")
        assert (station.label, station.bar_sensor, station.active_session_id) == ("Rack 1", False, 1)
        (session,) = await reg.active_sessions()
        assert session.bar_sensor is False
    finally:
        await reg.close()
