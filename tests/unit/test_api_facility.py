"""Facility API in-process: CRUD, pagination, 422 that name the field, tokens, session publishing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens
from kinesync.api.sessions_out import ListSessionSink, ProducerSessionSink
from kinesync.bus.memory import MemoryBus
from kinesync.bus.topics import SESSIONS
from kinesync.facility.registry import Registry
from kinesync.models import SessionAssignment
from kinesync.settings import Settings

ADMIN = {"Authorization": "Bearer adm"}
VIEWER = {"Authorization": "Bearer view"}


@pytest.fixture
async def wired(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, ListSessionSink]]:
    app = create_app(LiveState(), tokens=ApiTokens.from_settings(
        Settings(api_admin_token="adm", api_viewer_token="view")))
    registry = Registry(tmp_path / "registry.db")
    sink = ListSessionSink()
    app.state.registry, app.state.session_sink = registry, sink
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c:
        yield c, sink
    await registry.close()


async def _setup(c: httpx.AsyncClient) -> tuple[int, int]:
    team = (await c.post("/api/v1/teams", json={"name": "First team"}, headers=ADMIN)).json()
    ath = await c.post("/api/v1/athletes", json={"name": "Ada", "team_id": team["id"]}, headers=ADMIN)
    assert ath.status_code == 201, ath.text
    assert (await c.post("/api/v1/stations", json={"id": "station-01"}, headers=ADMIN)).status_code == 201
    return team["id"], ath.json()["id"]


async def test_session_start_and_stop_are_published_with_names_and_target(wired) -> None:
    c, sink = wired
    _, athlete = await _setup(c)
    r = await c.put(f"/api/v1/athletes/{athlete}/targets/bench_press", json={"low_ms": 90, "high_ms": 130},
                    headers=ADMIN)
    assert r.status_code == 200 and r.json()["default"] is False
    r = await c.post("/api/v1/sessions", json={"station_id": "station-01", "athlete_id": athlete,
                                               "exercise": "bench_press"}, headers=ADMIN)
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["active"] and (s["target_low_ms"], s["target_high_ms"]) == (90, 130)
    (a,) = sink.published
    assert (a.station, a.athlete, a.team, a.exercise, a.session) == (
        "station-01", "Ada", "First team", "bench_press", str(s["id"]))
    assert (a.target_low_ms, a.target_high_ms) == (90, 130)
    assert (await c.get("/api/v1/stations/station-01", headers=VIEWER)).json()["active_session_id"] == s["id"]

    # one athlete per station, one station per athlete
    again = await c.post("/api/v1/sessions", json={"station_id": "station-01", "athlete_id": athlete,
                                                   "exercise": "back_squat"}, headers=ADMIN)
    assert again.status_code == 409 and "stop it first" in again.json()["detail"]

    # a target change reaches the running session
    await c.put(f"/api/v1/athletes/{athlete}/targets/bench_press", json={"low_ms": 70, "high_ms": 110},
                headers=ADMIN)
    assert (sink.published[-1].target_low_ms, sink.published[-1].session) == (70, str(s["id"]))

    stopped = (await c.post(f"/api/v1/sessions/{s['id']}/stop", headers=ADMIN)).json()
    assert not stopped["active"] and stopped["stopped_at_ns"] >= stopped["started_at_ns"]
    assert sink.published[-1] == SessionAssignment(station="station-01", updated_at_ns=stopped["stopped_at_ns"])
    assert (await c.post(f"/api/v1/sessions/{s['id']}/stop", headers=ADMIN)).status_code == 409
    page = (await c.get("/api/v1/sessions", params={"active": "false"}, headers=VIEWER)).json()
    assert page["total"] == 1 and page["items"][0]["id"] == s["id"]


async def test_default_target_and_reset(wired) -> None:
    c, _ = wired
    _, athlete = await _setup(c)
    t = (await c.get(f"/api/v1/athletes/{athlete}/targets/squat_jump", headers=VIEWER)).json()
    assert (t["low_ms"], t["high_ms"], t["default"]) == (80, 120, True)
    await c.put(f"/api/v1/athletes/{athlete}/targets/squat_jump", json={"low_ms": 60, "high_ms": 100}, headers=ADMIN)
    targets = (await c.get(f"/api/v1/athletes/{athlete}/targets", headers=VIEWER)).json()
    assert {x["exercise"]: x["default"] for x in targets}["squat_jump"] is False
    reset = await c.delete(f"/api/v1/athletes/{athlete}/targets/squat_jump", headers=ADMIN)
    assert reset.json()["default"] is True


async def test_pagination(wired) -> None:
    c, _ = wired
    for i in range(7):
        assert (await c.post("/api/v1/athletes", json={"name": f"A{i}"}, headers=ADMIN)).status_code == 201
    p1 = (await c.get("/api/v1/athletes", params={"limit": 3}, headers=VIEWER)).json()
    p3 = (await c.get("/api/v1/athletes", params={"limit": 3, "offset": 6}, headers=VIEWER)).json()
    assert (p1["total"], len(p1["items"]), p1["limit"], p1["offset"]) == (7, 3, 3, 0)
    assert [a["name"] for a in p3["items"]] == ["A6"]
    assert (await c.get("/api/v1/athletes", params={"limit": 0}, headers=VIEWER)).status_code == 422


async def test_422_names_the_field(wired) -> None:
    c, _ = wired
    cases = [
        ("/api/v1/athletes", {"name": ""}, ["body", "name"]),
        ("/api/v1/athletes", {"name": "x", "team_id": "red"}, ["body", "team_id"]),
        ("/api/v1/athletes", {"name": "x", "nickname": "y"}, ["body", "nickname"]),
        ("/api/v1/stations", {"id": "bad/station"}, ["body", "id"]),
        ("/api/v1/sessions", {"station_id": "s1", "athlete_id": 1, "exercise": "curl"}, ["body", "exercise"]),
    ]
    for path, body, loc in cases:
        r = await c.post(path, json=body, headers=ADMIN)
        assert r.status_code == 422, (path, body, r.text)
        assert [e["loc"] for e in r.json()["detail"]] == [loc], r.json()
    _, athlete = await _setup(c)
    r = await c.put(f"/api/v1/athletes/{athlete}/targets/back_squat", json={"low_ms": 120, "high_ms": 80},
                    headers=ADMIN)
    assert r.status_code == 422 and "low_ms must be below high_ms" in r.text
    r = await c.patch(f"/api/v1/athletes/{athlete}", json={"name": None}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "name"]


async def test_not_found_conflict_and_tokens(wired) -> None:
    c, _ = wired
    team, athlete = await _setup(c)
    assert (await c.get("/api/v1/athletes/999", headers=VIEWER)).status_code == 404
    assert (await c.post("/api/v1/sessions", json={"station_id": "nowhere", "athlete_id": athlete,
                                                   "exercise": "back_squat"}, headers=ADMIN)).status_code == 404
    assert (await c.delete(f"/api/v1/teams/{team}", headers=ADMIN)).status_code == 409  # has an athlete
    assert (await c.post("/api/v1/teams", json={"name": "First team"}, headers=ADMIN)).status_code == 409
    assert (await c.post("/api/v1/teams", json={"name": "B"}, headers=VIEWER)).status_code == 403
    assert (await c.post("/api/v1/teams", json={"name": "B"})).status_code == 401
    assert (await c.get("/api/v1/teams")).status_code == 401
    assert (await c.get("/api/v1/teams", headers=ADMIN)).status_code == 200
    assert (await c.patch(f"/api/v1/athletes/{athlete}", json={"team_id": None}, headers=ADMIN)).json()[
        "team_id"] is None
    assert (await c.delete(f"/api/v1/teams/{team}", headers=ADMIN)).status_code == 204
    assert (await c.delete("/api/v1/stations/station-01", headers=ADMIN)).status_code == 204


async def test_without_tokens_reads_are_open_and_writes_say_what_to_set(tmp_path: Path) -> None:
    app = create_app(LiveState())
    app.state.registry = Registry(tmp_path / "r.db")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c:
        assert (await c.get("/api/v1/athletes")).json()["total"] == 0
        r = await c.post("/api/v1/teams", json={"name": "x"})
        assert r.status_code == 503 and "KINESYNC_API_ADMIN_TOKEN" in r.json()["detail"]
    await app.state.registry.close()


async def test_producer_sink_keeps_failed_sends_for_retry() -> None:
    bus = MemoryBus()
    await bus.ensure_topics()

    class Flaky:
        def __init__(self) -> None:
            self.inner, self.fail = bus.producer(), True

        async def send(self, topic: str, value: bytes, key: bytes | None = None) -> None:
            if self.fail:
                raise ConnectionError("broker down")
            await self.inner.send(topic, value, key)

        async def flush(self) -> None:
            await self.inner.flush()

    flaky = Flaky()
    sink = ProducerSessionSink(flaky)  # type: ignore[arg-type]
    a = SessionAssignment(station="s1", athlete="Ada")
    with pytest.raises(Exception, match="broker down"):
        await sink.publish(a)
    assert sink.pending == {"s1": a}
    flaky.fail = False
    assert await sink.retry_pending() == 0
    (msg,) = bus.messages(SESSIONS)
    assert msg.key == b"s1" and SessionAssignment.model_validate_json(msg.value) == a


def test_openapi_documents_auth_errors_and_pagination() -> None:
    doc = create_app(LiveState()).openapi()
    post = doc["paths"]["/api/v1/sessions"]["post"]
    assert {"201", "401", "403", "404", "409", "422", "503"} <= set(post["responses"])
    assert post["security"] == [{"HTTPBearer": []}]
    params = {p["name"]: p for p in doc["paths"]["/api/v1/athletes"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 500


async def test_athlete_body_mass_and_dominant_side_round_trip(wired) -> None:
    c, _ = wired
    r = await c.post("/api/v1/athletes", json={"name": "Ada", "body_mass_kg": 82.5, "dominant_side": "left"},
                     headers=ADMIN)
    assert r.status_code == 201, r.text
    ada = r.json()
    assert (ada["body_mass_kg"], ada["dominant_side"]) == (82.5, "left")
    assert (await c.get(f"/api/v1/athletes/{ada['id']}", headers=VIEWER)).json() == ada
    assert (await c.get("/api/v1/athletes", headers=VIEWER)).json()["items"] == [ada]
    # a patch changes what it names and keeps the rest; null clears
    r = await c.patch(f"/api/v1/athletes/{ada['id']}", json={"dominant_side": "right"}, headers=ADMIN)
    assert (r.json()["body_mass_kg"], r.json()["dominant_side"]) == (82.5, "right")
    r = await c.patch(f"/api/v1/athletes/{ada['id']}", json={"body_mass_kg": None}, headers=ADMIN)
    assert (r.json()["body_mass_kg"], r.json()["dominant_side"], r.json()["name"]) == (None, "right", "Ada")
    # without them an athlete is what it was before these fields existed
    bo = (await c.post("/api/v1/athletes", json={"name": "Bo"}, headers=ADMIN)).json()
    assert (bo["body_mass_kg"], bo["dominant_side"]) == (None, None)


async def test_body_mass_and_side_are_validated(wired) -> None:
    c, _ = wired
    for body in ({"body_mass_kg": 300}, {"body_mass_kg": 19.9}, {"body_mass_kg": "heavy"},
                 {"dominant_side": "up"}, {"dominant_side": "Left"}):
        r = await c.post("/api/v1/athletes", json={"name": "x", **body}, headers=ADMIN)
        assert r.status_code == 422, (body, r.text)
        assert [e["loc"] for e in r.json()["detail"]] == [["body", next(iter(body))]], r.json()
    assert (await c.get("/api/v1/athletes", headers=VIEWER)).json()["total"] == 0
    ok = await c.post("/api/v1/athletes", json={"name": "x", "body_mass_kg": 20, "dominant_side": "right"},
                      headers=ADMIN)
    assert ok.status_code == 201
    r = await c.patch(f"/api/v1/athletes/{ok.json()['id']}", json={"body_mass_kg": 250.5}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "body_mass_kg"]


async def test_station_device_ids_round_trip_and_belong_to_one_station(wired) -> None:
    c, _ = wired
    r = await c.post("/api/v1/stations", json={"id": "station-01", "device_ids": ["emg-01", "plate L"]},
                     headers=ADMIN)
    assert r.status_code == 201 and r.json()["device_ids"] == ["emg-01", "plate L"], r.text
    assert (await c.get("/api/v1/stations/station-01", headers=VIEWER)).json()["device_ids"] == ["emg-01", "plate L"]
    # the order given is kept; leaving the field out keeps the list; [] clears it
    r = await c.patch("/api/v1/stations/station-01", json={"device_ids": ["plate L", "emg-01", "bar-1"]},
                      headers=ADMIN)
    assert r.json()["device_ids"] == ["plate L", "emg-01", "bar-1"]
    r = await c.patch("/api/v1/stations/station-01", json={"label": "Rack 1"}, headers=ADMIN)
    assert r.json()["device_ids"] == ["plate L", "emg-01", "bar-1"] and r.json()["label"] == "Rack 1"

    # a device of station-01 cannot go to another station: 409 naming both, and nothing changes
    r = await c.post("/api/v1/stations", json={"id": "station-02", "device_ids": ["emg-02", "bar-1"]}, headers=ADMIN)
    assert r.status_code == 409
    assert r.json()["detail"] == "device 'bar-1' belongs to station 'station-01'; remove it there first"
    assert (await c.get("/api/v1/stations/station-02", headers=VIEWER)).status_code == 404  # rolled back
    assert (await c.post("/api/v1/stations", json={"id": "station-02", "device_ids": ["emg-02"]},
                         headers=ADMIN)).status_code == 201
    r = await c.patch("/api/v1/stations/station-02", json={"label": "Two", "device_ids": ["emg-02", "emg-01"]},
                      headers=ADMIN)
    assert r.status_code == 409 and "'emg-01' belongs to station 'station-01'" in r.json()["detail"]
    two = (await c.get("/api/v1/stations/station-02", headers=VIEWER)).json()
    assert (two["label"], two["device_ids"]) == (None, ["emg-02"])  # the whole patch rolled back
    page = (await c.get("/api/v1/stations", headers=VIEWER)).json()
    assert {s["id"]: s["device_ids"] for s in page["items"]} == {
        "station-01": ["plate L", "emg-01", "bar-1"], "station-02": ["emg-02"]}

    # freed by clearing, or by deleting the station, a device may move
    await c.patch("/api/v1/stations/station-01", json={"device_ids": ["plate L", "emg-01"]}, headers=ADMIN)
    r = await c.patch("/api/v1/stations/station-02", json={"device_ids": ["emg-02", "bar-1"]}, headers=ADMIN)
    assert r.status_code == 200 and r.json()["device_ids"] == ["emg-02", "bar-1"]
    assert (await c.delete("/api/v1/stations/station-01", headers=ADMIN)).status_code == 204
    r = await c.post("/api/v1/stations", json={"id": "station-03", "device_ids": ["emg-01"]}, headers=ADMIN)
    assert r.status_code == 201


async def test_device_ids_are_validated(wired) -> None:
    c, _ = wired
    cases = [({"device_ids": ["emg/1"]}, ["body", "device_ids", 0]),
             ({"device_ids": ["emg-1", "emg-1"]}, ["body", "device_ids"]),
             ({"device_ids": [f"d{i}" for i in range(33)]}, ["body", "device_ids"]),
             ({"device_ids": "emg-1"}, ["body", "device_ids"])]
    for extra, loc in cases:
        r = await c.post("/api/v1/stations", json={"id": "s1", **extra}, headers=ADMIN)
        assert r.status_code == 422 and [e["loc"] for e in r.json()["detail"]] == [loc], (extra, r.text)
    assert "listed twice" in (await c.post("/api/v1/stations", json={"id": "s1", "device_ids": ["a", "a"]},
                                           headers=ADMIN)).text
    assert (await c.post("/api/v1/stations", json={"id": "s1"}, headers=ADMIN)).json()["device_ids"] == []
    r = await c.patch("/api/v1/stations/s1", json={"device_ids": None}, headers=ADMIN)  # not nullable: [] clears
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "device_ids"]


def test_openapi_documents_the_new_fields_and_the_plan_edit() -> None:
    doc = create_app(LiveState()).openapi()
    schemas = doc["components"]["schemas"]
    assert {"body_mass_kg", "dominant_side"} <= set(schemas["AthleteIn"]["properties"])
    assert schemas["StationPatch"]["properties"]["device_ids"]["type"] == "array"
    put = doc["paths"]["/api/v1/plans/{plan_id}"]["put"]
    assert {"200", "401", "403", "404", "409", "422"} <= set(put["responses"])
    assert put["security"] == [{"HTTPBearer": []}]
