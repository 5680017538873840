"""Session plans: live rep attribution (pure tracker and through the engine), storage, and the API."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens
from kinesync.api.sessions_out import ListSessionSink
from kinesync.api.workers import publish_running
from kinesync.facility.registry import Registry
from kinesync.models import SessionAssignment
from kinesync.settings import Settings
from kinesync.sim.athlete import AthleteSpec
from kinesync.sources.recording import to_frames
from kinesync.storage.lineprotocol import rep_to_lines
from kinesync.storage.sqlite import SqliteStore
from kinesync.streaming.offline import replay_frames
from kinesync.streaming.station import AnalysisConfig
from kinesync.training.plan import PlanCursor, attribute_reps
from kinesync.training.plan_models import PlanBlock, SessionPlan
from kinesync.validation.grid import simulated_recording

NS = 1_000_000_000
ADMIN = {"Authorization": "Bearer adm"}
VIEWER = {"Authorization": "Bearer view"}

PLAN = SessionPlan(blocks=(
    PlanBlock(kind="priming", exercise="back_squat", sets=1, reps_per_set=3, rest_s=60),
    PlanBlock(kind="working", exercise="back_squat", sets=2, reps_per_set=4, rest_s=120),
), set_gap_s=15.0)


def _positions(plan: SessionPlan, times_s: list[float], **start: int) -> list[tuple[str, int, int]]:
    return [(p.block_kind, p.set_index, p.rep_in_set) for p in attribute_reps(plan, [round(t * NS) for t in times_s],
                                                                              **start)]


def test_target_reps_advance_set_and_block_and_extra_reps_stay_in_the_last_set() -> None:
    got = _positions(PLAN, [3.0 * i for i in range(13)])
    assert got == [("priming", 0, 1), ("priming", 0, 2), ("priming", 0, 3),
                   ("working", 0, 1), ("working", 0, 2), ("working", 0, 3), ("working", 0, 4),
                   ("working", 1, 1), ("working", 1, 2), ("working", 1, 3), ("working", 1, 4),
                   ("working", 1, 5), ("working", 1, 6)]


def test_a_rest_longer_than_the_gap_ends_a_short_set() -> None:
    # two priming reps, a 40 s rest (set cut short), then working reps; a 10 s pause is not a rest
    got = _positions(PLAN, [0.0, 3.0, 43.0, 46.0, 56.0, 59.0, 62.0])
    assert got == [("priming", 0, 1), ("priming", 0, 2), ("working", 0, 1), ("working", 0, 2), ("working", 0, 3),
                   ("working", 0, 4), ("working", 1, 1)]


def test_cursor_restarts_only_for_a_new_position_or_session() -> None:
    a = SessionAssignment(station="s", athlete="A", session="1", plan=PLAN)
    cursor = PlanCursor()
    first = [cursor.attribute(a, i * NS)["rep_in_set"] for i in range(2)]
    # the API republishes the same assignment every 30 s: the count goes on
    again = cursor.attribute(a.model_copy(update={"updated_at_ns": 99}), 2 * NS)
    assert first == [1, 2] and (again["block_kind"], again["rep_in_set"]) == ("priming", 3)
    moved = a.model_copy(update={"plan_block_index": 1, "plan_set_index": 1, "plan_position_ns": 5})
    pos = cursor.attribute(moved, 3 * NS)
    assert (pos["block_index"], pos["set_index"], pos["rep_in_set"]) == (1, 1, 1)
    assert cursor.attribute(SessionAssignment(station="s"), 4 * NS) == {}


async def test_engine_attributes_every_rep_and_storage_keeps_it(tmp_path: Path) -> None:
    spec = AthleteSpec(lag_ms=100.0, lag_jitter_ms=10.0, seed=11)
    n_reps = 12
    rec, athlete = simulated_recording(spec, n_reps * spec.rep_period_s + 1.0)
    a = SessionAssignment(station=rec.station, athlete="Ada", exercise="back_squat", session="7", plan=PLAN)
    reps = replay_frames(to_frames(rec), replace(AnalysisConfig(), expected=rec.kinds), a).reps
    truth = athlete.reps(0.0, n_reps * spec.rep_period_s + 1.0)
    assert len(reps) == len(truth) == n_reps
    # the live count equals the plan applied to the true rep times
    expected = attribute_reps(PLAN, [round(t.leg_peak_s * NS) for t in truth])
    assert [(r.block_index, r.block_kind, r.set_index, r.rep_in_set) for r in reps] == [
        (p.block_index, p.block_kind, p.set_index, p.rep_in_set) for p in expected]

    async with SqliteStore(tmp_path / "k.db") as store:
        await store.write(reps)
        back = await store.query_reps(session="7")
    assert [(r.block_kind, r.set_index, r.rep_in_set) for r in back] == [
        (r.block_kind, r.set_index, r.rep_in_set) for r in reps]
    line = rep_to_lines(reps[4])[0]
    assert "block_kind=working" in line.split(" ")[0]  # a tag: dashboards group by it
    assert "block_index=1i" in line and "set_index=0i" in line and "rep_in_set=2i" in line


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, ListSessionSink, Registry]]:
    app = create_app(LiveState(), tokens=ApiTokens.from_settings(
        Settings(api_admin_token="adm", api_viewer_token="view")))
    registry = Registry(tmp_path / "registry.db")
    sink = ListSessionSink()
    app.state.registry, app.state.session_sink = registry, sink
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c:
        yield c, sink, registry
    await registry.close()


async def test_plan_templates_sessions_from_a_plan_and_position_override(api) -> None:
    c, sink, registry = api
    ath = (await c.post("/api/v1/athletes", json={"name": "Ada"}, headers=ADMIN)).json()
    await c.post("/api/v1/stations", json={"id": "station-01"}, headers=ADMIN)
    body = {"name": "Priming + 2x4", "plan": PLAN.model_dump(mode="json")}
    assert (await c.post("/api/v1/plans", json=body, headers=VIEWER)).status_code == 403
    r = await c.post("/api/v1/plans", json=body, headers=ADMIN)
    assert r.status_code == 201, r.text
    plan = r.json()
    assert (await c.post("/api/v1/plans", json=body, headers=ADMIN)).status_code == 409
    bad = {"name": "x", "plan": {"blocks": [{"kind": "warmup", "exercise": "back_squat", "sets": 1,
                                              "reps_per_set": 3}]}}
    r = await c.post("/api/v1/plans", json=bad, headers=ADMIN)
    assert r.status_code == 422 and "kind" in str(r.json()["detail"][0]["loc"])
    listed = (await c.get("/api/v1/plans", headers=VIEWER)).json()
    assert listed["total"] == 1 and listed["items"][0]["name"] == "Priming + 2x4"

    r = await c.post("/api/v1/sessions", json={"station_id": "station-01", "athlete_id": ath["id"],
                                               "exercise": "back_squat", "plan_id": plan["id"]}, headers=ADMIN)
    assert r.status_code == 201, r.text
    s = r.json()
    assert s["plan_id"] == plan["id"] and SessionPlan.model_validate(s["plan"]) == PLAN
    assert sink.published[-1].plan == PLAN and sink.published[-1].plan_position_ns == 0
    assert (await c.get(f"/api/v1/plans/{plan['id']}", headers=VIEWER)).json()["sessions"] == 1

    r = await c.put(f"/api/v1/sessions/{s['id']}/position", json={"block_index": 1, "set_index": 1}, headers=ADMIN)
    assert r.status_code == 200, r.text
    moved = sink.published[-1]
    assert (moved.plan_block_index, moved.plan_set_index) == (1, 1) and moved.plan_position_ns > 0
    r = await c.put(f"/api/v1/sessions/{s['id']}/position", json={"block_index": 1, "set_index": 2}, headers=ADMIN)
    assert r.status_code == 409 and "no block 1, set 2" in r.json()["detail"]

    # the periodic republish carries the same position, so the analyzer's count is not reset
    await publish_running(registry, sink)
    assert sink.published[-1].plan_position_ns == moved.plan_position_ns

    # deleting the template leaves the session's copy
    assert (await c.delete(f"/api/v1/plans/{plan['id']}", headers=ADMIN)).status_code == 204
    assert SessionPlan.model_validate((await c.get(f"/api/v1/sessions/{s['id']}", headers=VIEWER)).json()["plan"])


async def test_registry_from_before_plans_gains_the_columns(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    conn.executescript(
        "CREATE TABLE sessions (id INTEGER PRIMARY KEY, station_id TEXT NOT NULL, athlete_id INTEGER NOT NULL, "
        "athlete_name TEXT NOT NULL, team_name TEXT, exercise TEXT NOT NULL, target_low_ms REAL NOT NULL, "
        "target_high_ms REAL NOT NULL, started_at_ns INTEGER NOT NULL, stopped_at_ns INTEGER);"
        "INSERT INTO sessions VALUES (1, 'st', 1, 'Ada', NULL, 'back_squat', 80, 120, 5, NULL);")
    conn.commit()
    conn.close()
    reg = Registry(path)
    try:
        s = await reg.get_session(1)
    finally:
        await reg.close()
    assert s.plan is None and s.plan_block_index == 0 and s.athlete_name == "Ada"


async def test_a_template_is_edited_and_sessions_already_started_keep_their_copy(api) -> None:
    c, sink, _ = api
    ath = (await c.post("/api/v1/athletes", json={"name": "Ada"}, headers=ADMIN)).json()
    await c.post("/api/v1/stations", json={"id": "station-01"}, headers=ADMIN)
    plan = (await c.post("/api/v1/plans", json={"name": "Prime", "plan": PLAN.model_dump(mode="json")},
                         headers=ADMIN)).json()
    other = (await c.post("/api/v1/plans", json={"name": "Other", "plan": PLAN.model_dump(mode="json")},
                          headers=ADMIN)).json()
    s = (await c.post("/api/v1/sessions", json={"station_id": "station-01", "athlete_id": ath["id"],
                                                "exercise": "back_squat", "plan_id": plan["id"]},
                      headers=ADMIN)).json()
    published = len(sink.published)

    edited = SessionPlan(blocks=(PlanBlock(kind="working", exercise="back_squat", sets=5, reps_per_set=3,
                                           load_kg=120),), set_gap_s=20.0)
    body = {"name": "Heavy triples", "plan": edited.model_dump(mode="json")}
    assert (await c.put(f"/api/v1/plans/{plan['id']}", json=body, headers=VIEWER)).status_code == 403
    r = await c.put(f"/api/v1/plans/{plan['id']}", json=body, headers=ADMIN)
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["id"], got["name"], got["created_at_ns"], got["sessions"]) == (
        plan["id"], "Heavy triples", plan["created_at_ns"], 1)
    assert SessionPlan.model_validate(got["plan"]) == edited
    assert (await c.get(f"/api/v1/plans/{plan['id']}", headers=VIEWER)).json() == got

    # the running session goes on with the plan it started with; nothing is republished
    running = (await c.get(f"/api/v1/sessions/{s['id']}", headers=VIEWER)).json()
    assert SessionPlan.model_validate(running["plan"]) == PLAN and len(sink.published) == published
    # a session started now follows the edit
    await c.post(f"/api/v1/sessions/{s['id']}/stop", headers=ADMIN)
    s2 = (await c.post("/api/v1/sessions", json={"station_id": "station-01", "athlete_id": ath["id"],
                                                 "exercise": "back_squat", "plan_id": plan["id"]},
                       headers=ADMIN)).json()
    assert SessionPlan.model_validate(s2["plan"]) == edited and sink.published[-1].plan == edited

    # the same checks as creating one: a name taken by another plan, a bad block, an unknown plan
    r = await c.put(f"/api/v1/plans/{plan['id']}", json={**body, "name": "Other"}, headers=ADMIN)
    assert r.status_code == 409 and "a plan named 'Other' exists" in r.json()["detail"]
    assert (await c.put(f"/api/v1/plans/{other['id']}", json={**body, "name": "Other"},
                        headers=ADMIN)).status_code == 200  # its own name is no conflict
    r = await c.put(f"/api/v1/plans/{plan['id']}", json={"name": "x", "plan": {"blocks": []}}, headers=ADMIN)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"][:3] == ["body", "plan", "blocks"]
    r = await c.put(f"/api/v1/plans/{plan['id']}", json={**body, "extra": 1}, headers=ADMIN)
    assert r.status_code == 422
    assert (await c.put("/api/v1/plans/999", json=body, headers=ADMIN)).status_code == 404
