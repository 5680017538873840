"""Personal target window through the facility API: mode, lock, and what the analyzer is told."""

from __future__ import annotations

import asyncio

from fastapi.testclient import TestClient

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens, sha256_hex
from kinesync.api.sessions_out import ListSessionSink, PersonalSessionSink
from kinesync.facility.personal import PersonalStore
from kinesync.facility.registry import Registry, assignment_of
from kinesync.models import WindowMetric

ADMIN = {"Authorization": "Bearer a"}


def test_mode_lock_unlock_reach_the_assignment(tmp_path) -> None:
    state = LiveState()
    app = create_app(state, tokens=ApiTokens(admin_sha256=sha256_hex("a")))
    registry = Registry(tmp_path / "registry.db")
    store = PersonalStore(tmp_path / "registry.db")
    published = ListSessionSink()
    app.state.registry, app.state.personal_store = registry, store
    app.state.session_sink = PersonalSessionSink(published, registry, store)
    c = TestClient(app)
    ada = c.post("/api/v1/athletes", json={"name": "Ada"}, headers=ADMIN).json()
    c.post("/api/v1/stations", json={"id": "station-01"}, headers=ADMIN)
    assert c.get("/api/v1/stations/station-01/personal-window", headers=ADMIN).status_code == 409
    s = c.post("/api/v1/sessions", json={"station_id": "station-01", "athlete_id": ada["id"],
                                         "exercise": "back_squat"}, headers=ADMIN).json()
    assert published.published[-1].target_mode == "fixed"

    r = c.put("/api/v1/stations/station-01/personal-window", json={"mode": "personal"}, headers=ADMIN)
    assert r.status_code == 200, r.text
    assert (r.json()["mode"], r.json()["locked"]) == ("personal", False)
    assert published.published[-1].target_mode == "personal" and not published.published[-1].personal_locked

    # the analyzer judges with a learned window; locking freezes exactly that one
    state.update(WindowMetric(station="station-01", athlete="Ada", session=str(s["id"]), window_start_ns=1,
                              window_end_ns=2, target_low_ms=118.0, target_high_ms=141.0, target_source="personal"))
    r = c.put("/api/v1/stations/station-01/personal-window", json={"locked": True}, headers=ADMIN).json()
    assert (r["locked"], r["stored_low_ms"], r["stored_high_ms"], r["source"]) == (True, 118.0, 141.0, "personal")
    a = published.published[-1]
    assert (a.target_mode, a.personal_locked, a.personal_low_ms, a.personal_high_ms) == ("personal", True, 118, 141)

    # the periodic republish (plain assignment of the session) keeps mode and lock
    session = asyncio.run(registry.get_session(s["id"]))
    asyncio.run(app.state.session_sink.publish(assignment_of(session)))
    assert published.published[-1].personal_locked and published.published[-1].target_mode == "personal"

    r = c.put("/api/v1/stations/station-01/personal-window", json={"locked": False}, headers=ADMIN).json()
    assert r["locked"] is False and not published.published[-1].personal_locked
    assert c.put("/api/v1/stations/station-01/personal-window", json={"mode": "x"}, headers=ADMIN).status_code == 422
    assert c.put("/api/v1/stations/station-01/personal-window", json={"locked": True}).status_code == 401
