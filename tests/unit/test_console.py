"""The coach console (/console) through FastAPI's TestClient: sign-in, the cookie, CSRF, roles, forms."""

from __future__ import annotations

import asyncio
import re

import pytest
from fastapi.testclient import TestClient

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens, sha256_hex
from kinesync.api.console import COOKIE, unsign
from kinesync.api.sessions_out import ListSessionSink
from kinesync.facility.models import StationIn
from kinesync.facility.registry import Registry
from kinesync.models import WindowMetric

ADMIN, VIEWER = "admin-token-console", "viewer-token-console"


@pytest.fixture
def setup(tmp_path):
    reg = Registry(tmp_path / "registry.db")
    asyncio.run(reg.create_station(StationIn(id="station-01")))
    asyncio.run(reg.create_station(StationIn(id="station-02", label="Rack 2")))
    state = LiveState()
    app = create_app(state, tokens=ApiTokens(admin_sha256=sha256_hex(ADMIN), viewer_sha256=sha256_hex(VIEWER)))
    sink = ListSessionSink()
    app.state.registry, app.state.session_sink = reg, sink
    yield app, reg, sink, state
    asyncio.run(reg.close())


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field on the page"
    return m.group(1)


def sign_in(client: TestClient, token: str) -> str:
    page = client.get("/console/login")
    r = client.post("/console/login", data={"token": token, "csrf": csrf_of(page.text)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/console/floor"
    floor = client.get("/console/floor")
    assert floor.status_code == 200
    return csrf_of(floor.text)


def test_sign_in_sets_a_strict_httponly_signed_expiring_cookie(setup) -> None:
    app, *_ = setup
    client = TestClient(app)
    assert client.get("/console/floor", follow_redirects=False).headers["location"] == "/console/login"
    page = client.get("/console/login")
    r = client.post("/console/login", data={"token": ADMIN, "csrf": csrf_of(page.text)}, follow_redirects=False)
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith(COOKIE + "="))
    flags = [f.strip().lower() for f in cookie.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags and "path=/console" in flags
    assert any(f.startswith("max-age=") and 0 < int(f[8:]) <= 12 * 3600 for f in flags)
    value = cookie.split(";")[0].split("=", 1)[1].strip('"')
    assert ADMIN not in cookie and sha256_hex(ADMIN) not in cookie  # never the token, nor its full hash
    data = unsign(app.state.console_secret, value)
    assert data and data["r"] == "admin"
    # a tampered cookie is no session
    forged = value[:-2] + ("AA" if not value.endswith("AA") else "BB")
    client.cookies.set(COOKIE, forged, path="/console")
    assert client.get("/console/floor", follow_redirects=False).status_code == 303
    # the token never appears in a URL: sign-in is a POST and the answer is a redirect without it
    assert ADMIN not in r.headers["location"]


def test_wrong_token_and_missing_login_csrf_are_refused(setup) -> None:
    app, *_ = setup
    client = TestClient(app)
    page = client.get("/console/login")
    bad = client.post("/console/login", data={"token": "nope", "csrf": csrf_of(page.text)})
    assert bad.status_code == 401 and "not valid" in bad.text
    no_csrf = client.post("/console/login", data={"token": ADMIN, "csrf": "forged"})
    assert no_csrf.status_code == 403
    assert COOKIE not in client.cookies


def test_every_change_needs_the_csrf_token(setup) -> None:
    app, reg, _sink, _ = setup
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    assert client.post("/console/athletes", data={"name": "Ann"}).status_code == 403
    assert client.post("/console/athletes", data={"name": "Ann", "csrf": "wrong"}).status_code == 403
    assert asyncio.run(reg.list_athletes(10, 0)).total == 0
    ok = client.post("/console/athletes", data={"name": "Ann", "csrf": csrf})
    assert ok.status_code == 200 and "Added Ann." in ok.text
    # the header htmx sends works as well
    ok = client.post("/console/athletes", data={"name": "Bo"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert [a.name for a in asyncio.run(reg.list_athletes(10, 0)).items] == ["Ann", "Bo"]
    # sign-out needs it too, and ends the session
    out = client.post("/console/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/console/floor", follow_redirects=False).status_code == 303


def test_validation_messages_sit_next_to_their_field(setup) -> None:
    app, *_ = setup
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    r = client.post("/console/athletes", data={"name": "   ", "team_id": "", "csrf": csrf})
    assert r.status_code == 422
    assert re.search(r'<input id="name"[^>]*aria-invalid="true"', r.text)
    assert re.search(r'id="name-error" data-field="name">[^<]*at least 1 character', r.text)
    r = client.post("/console/athletes", data={"name": "x" * 101, "team_id": "7", "csrf": csrf})
    assert r.status_code == 422 and "at most 100 characters" in r.text
    # an unknown team: the registry's 404, said on the page
    r = client.post("/console/athletes", data={"name": "Cy", "team_id": "7", "csrf": csrf})
    assert r.status_code == 404 and "team 7 not found" in r.text


def test_edit_and_delete_an_athlete(setup) -> None:
    app, reg, *_ = setup
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    client.post("/console/athletes", data={"name": "Ann", "csrf": csrf})
    athlete = asyncio.run(reg.list_athletes(10, 0)).items[0]
    page = client.get(f"/console/athletes/{athlete.id}")
    assert page.status_code == 200 and 'value="Ann"' in page.text
    r = client.post(f"/console/athletes/{athlete.id}", data={"name": "", "csrf": csrf})
    assert r.status_code == 422 and 'data-field="name"' in r.text
    r = client.post(f"/console/athletes/{athlete.id}", data={"name": "Anne", "team_id": "", "csrf": csrf})
    assert r.status_code == 200 and "Saved." in r.text
    assert asyncio.run(reg.get_athlete(athlete.id)).name == "Anne"
    r = client.post(f"/console/athletes/{athlete.id}/delete", data={"csrf": csrf})
    assert r.status_code == 200 and asyncio.run(reg.list_athletes(10, 0)).total == 0


def test_floor_assign_and_stop_publish_like_the_rest_api(setup) -> None:
    app, reg, sink, state = setup
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    client.post("/console/athletes", data={"name": "Ann", "csrf": csrf})
    athlete = asyncio.run(reg.list_athletes(10, 0)).items[0]
    r = client.post("/console/floor/station-01/start", headers={"HX-Request": "true"},
                    data={"athlete_id": str(athlete.id), "exercise": "bench_press", "plan_id": "", "csrf": csrf})
    assert r.status_code == 200 and 'class="athlete">Ann<' in r.text and "bench press" in r.text
    assert "Stop session" in r.text
    # the same assignment the REST endpoint publishes, on the sessions topic's sink
    assert [(a.station, a.athlete, a.exercise) for a in sink.published] == [("station-01", "Ann", "bench_press")]
    running = asyncio.run(reg.active_sessions())
    assert [s.station_id for s in running] == ["station-01"]
    # live numbers on the card
    state.update(WindowMetric(station="station-01", athlete="Ann", session=str(running[0].id), window_start_ns=1,
                              window_end_ns=2, lag_ms=97.0, in_window=True, alignment=0.8))
    live = client.get("/console/floor/station-01/live")
    assert "97 ms" in live.text and "80–120 ms" in live.text and "80 %" in live.text
    # the same athlete on a second station: the registry's conflict, shown in the card
    r = client.post("/console/floor/station-02/start", headers={"HX-Request": "true"},
                    data={"athlete_id": str(athlete.id), "exercise": "back_squat", "csrf": csrf})
    assert r.status_code == 200 and "is in running session" in r.text and len(sink.published) == 1
    r = client.post("/console/floor/station-01/stop", headers={"HX-Request": "true"},
                    data={"session_id": str(running[0].id), "csrf": csrf})
    assert r.status_code == 200 and "No session" in r.text
    assert sink.published[-1].station == "station-01" and sink.published[-1].athlete is None
    # without htmx (no JavaScript): a redirect back to the floor
    r = client.post("/console/floor/station-01/start", follow_redirects=False,
                    data={"athlete_id": str(athlete.id), "exercise": "back_squat", "csrf": csrf})
    assert r.status_code == 303 and r.headers["location"] == "/console/floor"


def test_a_viewer_sees_everything_and_changes_nothing(setup) -> None:
    app, reg, sink, _ = setup
    admin = TestClient(app)
    admin_csrf = sign_in(admin, ADMIN)
    admin.post("/console/athletes", data={"name": "Ann", "csrf": admin_csrf})
    athlete = asyncio.run(reg.list_athletes(10, 0)).items[0]
    viewer = TestClient(app)
    csrf = sign_in(viewer, VIEWER)
    floor = viewer.get("/console/floor")
    assert "station-01" in floor.text and "Rack 2" in floor.text
    assert "Start session" not in floor.text and "/start" not in floor.text
    people = viewer.get("/console/athletes")
    assert "Ann" in people.text and "Add athlete" not in people.text and "/delete" not in people.text
    for path, data in (("/console/athletes", {"name": "Bo"}),
                       (f"/console/athletes/{athlete.id}", {"name": "X"}),
                       (f"/console/athletes/{athlete.id}/delete", {}),
                       ("/console/floor/station-01/start", {"athlete_id": str(athlete.id), "exercise": "back_squat"})):
        r = viewer.post(path, data={**data, "csrf": csrf})
        assert r.status_code == 403, path
    assert asyncio.run(reg.list_athletes(10, 0)).total == 1 and sink.published == []


def test_pages_need_no_internet(setup) -> None:
    """Every script and style the console loads is served by the API itself."""
    app, *_ = setup
    client = TestClient(app)
    sign_in(client, ADMIN)
    for path in ("/console/login", "/console/floor", "/console/athletes"):
        html = client.get(path).text
        for ref in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert ref.startswith("/console") or ref.startswith("#"), f"{path} loads {ref}"
    js = client.get("/console/static/htmx-2.0.11.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript") and "htmx" in js.text
    assert client.get("/console/static/console.css").status_code == 200
    assert client.get("/console/static/..%2Fwall.html").status_code == 404
