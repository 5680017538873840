"""The console's target windows per exercise (athlete page) and the floor card's window mode switch.

TestClient throughout; both go through the REST endpoints' own functions, so the registry and the
personal-window store hold what the REST API would, and a running session is republished.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from fastapi.testclient import TestClient

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens, sha256_hex
from kinesync.api.sessions_out import ListSessionSink
from kinesync.facility.models import AthleteIn, Exercise, SessionIn, StationIn, TargetIn
from kinesync.facility.personal import PersonalStore
from kinesync.facility.registry import Registry
from tests.unit.test_console import sign_in

ADMIN, VIEWER = "admin-token-console-targets", "viewer-token-console-targets"


@pytest.fixture
def app(tmp_path):
    reg = Registry(tmp_path / "registry.db")
    asyncio.run(reg.create_station(StationIn(id="station-01")))
    ada = asyncio.run(reg.create_athlete(AthleteIn(name="Ada")))
    application = create_app(LiveState(), tokens=ApiTokens(admin_sha256=sha256_hex(ADMIN),
                                                          viewer_sha256=sha256_hex(VIEWER)))
    application.state.registry, application.state.session_sink = reg, ListSessionSink()
    application.state.personal_store = PersonalStore(tmp_path / "personal.db")
    application.state.test_athlete = ada.id
    yield application
    asyncio.run(application.state.personal_store.close())
    asyncio.run(reg.close())


def _row(html: str, exercise: str) -> str:
    m = re.search(rf'<tr data-exercise="{exercise}">(.*?)</tr>', html, re.S)
    assert m, f"no target row for {exercise}"
    return m.group(1)


def test_targets_listed_set_reset_and_published(app) -> None:
    reg: Registry = app.state.registry
    sink: ListSessionSink = app.state.session_sink
    aid = app.state.test_athlete
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    page = client.get(f"/console/athletes/{aid}").text
    assert "Target windows" in page
    for ex in Exercise:  # every exercise listed, with the facility default
        assert "80–120 ms" in _row(page, ex.value) and "default" in _row(page, ex.value)
        assert f'action="/console/athletes/{aid}/targets/{ex.value}"' in page
    # a running session on back squat picks the change up: stored on the session and published
    s = asyncio.run(reg.start_session(SessionIn(station_id="station-01", athlete_id=aid, exercise="back_squat")))
    n = len(sink.published)
    r = client.post(f"/console/athletes/{aid}/targets/back_squat",
                    data={"csrf": csrf, "low_ms": "70", "high_ms": "112.5", "action": "set"})
    assert r.status_code == 200, r.text
    assert "Back squat: 70–112.5 ms." in r.text
    assert "70–112.5 ms" in _row(r.text, "back_squat") and "set for Ada" in _row(r.text, "back_squat")
    assert "80–120 ms" in _row(r.text, "push_press")
    t = asyncio.run(reg.get_target(aid, Exercise("back_squat")))
    assert (t.low_ms, t.high_ms, t.default) == (70, 112.5, False)
    assert (asyncio.run(reg.get_session(s.id)).target_low_ms, sink.published[-1].target_high_ms) == (70, 112.5)
    assert len(sink.published) == n + 1
    # listed again on a fresh load; the form shows the stored edges
    page = client.get(f"/console/athletes/{aid}").text
    assert "70–112.5 ms" in _row(page, "back_squat")
    assert re.search(r'id="t-back_squat-low_ms" name="low_ms" value="70"', page)
    # back to the default (DELETE's function)
    r = client.post(f"/console/athletes/{aid}/targets/back_squat", data={"csrf": csrf, "action": "reset"})
    assert r.status_code == 200 and "the facility default, 80–120 ms" in r.text
    assert asyncio.run(reg.get_target(aid, Exercise("back_squat"))).default


def test_invalid_targets_show_the_message_next_to_the_field(app) -> None:
    reg: Registry = app.state.registry
    aid = app.state.test_athlete
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    url = f"/console/athletes/{aid}/targets/push_press"
    # low ≥ high: the model's message, under the upper edge of that exercise's form, the values kept
    r = client.post(url, data={"csrf": csrf, "low_ms": "120", "high_ms": "90"})
    assert r.status_code == 422
    assert re.search(r'<input id="t-push_press-high_ms" name="high_ms" value="90"[^>]*aria-invalid="true"', r.text)
    assert re.search(r'id="t-push_press-high_ms-error" data-field="high_ms">low_ms must be below high_ms<', r.text)
    assert 'id="t-back_squat-high_ms-error"' not in r.text  # only that exercise's form
    # out of the analyzer's range, on both edges, each message by its own field
    r = client.post(url, data={"csrf": csrf, "low_ms": "-150", "high_ms": "450"})
    assert r.status_code == 422
    assert re.search(r'id="t-push_press-low_ms-error" data-field="low_ms">[^<]*greater than or equal to -100', r.text)
    assert re.search(r'id="t-push_press-high_ms-error" data-field="high_ms">[^<]*less than or equal to 400', r.text)
    # not a number / empty
    r = client.post(url, data={"csrf": csrf, "low_ms": "abc", "high_ms": ""})
    assert r.status_code == 422 and 'data-field="low_ms">' in r.text and 'data-field="high_ms">' in r.text
    assert asyncio.run(reg.get_target(aid, Exercise("push_press"))).default  # nothing stored
    # unknown exercise or athlete, and no CSRF token
    assert client.post(f"/console/athletes/{aid}/targets/curl", data={"csrf": csrf, "low_ms": "1",
                                                                      "high_ms": "2"}).status_code == 404
    assert client.post("/console/athletes/999/targets/push_press", data={"csrf": csrf, "low_ms": "1",
                                                                         "high_ms": "2"}).status_code == 404
    assert client.post(url, data={"low_ms": "70", "high_ms": "110"}).status_code == 403


def test_viewer_sees_targets_without_forms_and_gets_403(app) -> None:
    reg: Registry = app.state.registry
    aid = app.state.test_athlete
    asyncio.run(reg.set_target(aid, Exercise("squat_jump"), TargetIn(low_ms=60, high_ms=100)))
    viewer = TestClient(app)
    vcsrf = sign_in(viewer, VIEWER)
    page = viewer.get(f"/console/athletes/{aid}").text
    assert "60–100 ms" in _row(page, "squat_jump")
    assert 'class="target-form"' not in page and 'name="low_ms"' not in page
    r = viewer.post(f"/console/athletes/{aid}/targets/squat_jump",
                    data={"csrf": vcsrf, "low_ms": "70", "high_ms": "110"})
    assert r.status_code == 403
    r = viewer.post(f"/console/athletes/{aid}/targets/squat_jump", data={"csrf": vcsrf, "action": "reset"})
    assert r.status_code == 403
    t = asyncio.run(reg.get_target(aid, Exercise("squat_jump")))
    assert (t.low_ms, t.high_ms) == (60, 100)


def test_floor_card_switches_the_window_mode(app) -> None:
    reg: Registry = app.state.registry
    sink: ListSessionSink = app.state.session_sink
    store: PersonalStore = app.state.personal_store
    aid = app.state.test_athlete
    s = asyncio.run(reg.start_session(SessionIn(station_id="station-01", athlete_id=aid, exercise="push_press")))
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    floor = client.get("/console/floor").text
    # next to lock/unlock; the store's default is the fixed window
    assert "Lock personal window" in floor and "Use the personal window" in floor and "Window: fixed" in floor
    hx = {"HX-Request": "true"}
    n = len(sink.published)
    r = client.post("/console/floor/station-01/window", data={"csrf": csrf, "mode": "personal"}, headers=hx)
    assert r.status_code == 200 and "Window: personal" in r.text and "Use the fixed window" in r.text
    state = asyncio.run(store.get(aid, "push_press"))
    assert (state.mode, state.locked) == ("personal", False)  # the lock untouched
    assert len(sink.published) == n + 1 and sink.published[-1].session == str(s.id)  # published like the PUT
    # lock, then back to fixed: the lock stays as it was
    client.post("/console/floor/station-01/window", data={"csrf": csrf, "locked": "true"}, headers=hx)
    r = client.post("/console/floor/station-01/window", data={"csrf": csrf, "mode": "fixed"}, headers=hx)
    assert "Window: fixed, locked" in r.text and "Use the personal window" in r.text
    assert asyncio.run(store.get(aid, "push_press")).model_dump(include={"mode", "locked"}) == \
        {"mode": "fixed", "locked": True}
    # without JavaScript: a plain post and a redirect back to the floor
    r = client.post("/console/floor/station-01/window", data={"csrf": csrf, "mode": "personal"},
                    follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/floor"
    assert asyncio.run(store.get(aid, "push_press")).mode == "personal"
    # nonsense is refused in the card, nothing changes
    r = client.post("/console/floor/station-01/window", data={"csrf": csrf, "mode": "adaptive"}, headers=hx)
    assert 'role="alert"' in r.text and asyncio.run(store.get(aid, "push_press")).mode == "personal"
    # no running session: the REST function's 409, said in the card
    asyncio.run(reg.stop_session(s.id))
    r = client.post("/console/floor/station-01/window", data={"csrf": csrf, "mode": "fixed"}, headers=hx)
    assert 'role="alert"' in r.text and "no running session" in r.text
    # viewers: no switch, and 403
    asyncio.run(reg.start_session(SessionIn(station_id="station-01", athlete_id=aid, exercise="push_press")))
    viewer = TestClient(app)
    vcsrf = sign_in(viewer, VIEWER)
    assert "Use the fixed window" not in viewer.get("/console/floor").text
    r = viewer.post("/console/floor/station-01/window", data={"csrf": vcsrf, "mode": "fixed"})
    assert r.status_code == 403 and asyncio.run(store.get(aid, "push_press")).mode == "personal"
