"""The floor card shows where a running session is in its plan: the analyzer's live set once it is this
session's (the registry keeps only where the count started or a coach last moved it), and counts
"reps this set" only for this session. Found by the live flow test: after 30 s the card still said
"set 1/3" while the athlete was in their third set."""

from __future__ import annotations

import asyncio
import time

import pytest
from fastapi.testclient import TestClient

from kinesync.analysis.cues import SetLag
from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens, sha256_hex
from kinesync.api.sessions_out import ListSessionSink
from kinesync.facility.models import AthleteIn, SessionIn, StationIn
from kinesync.facility.plans import PlanTemplateIn, PlanTemplates
from kinesync.facility.registry import Registry
from kinesync.models import WindowMetric
from kinesync.training.plan_models import PlanBlock, SessionPlan
from tests.unit.test_console import sign_in

ADMIN = "admin-token-floor-position"
PLAN = SessionPlan(blocks=(
    PlanBlock(kind="priming", exercise="back_squat", sets=1, reps_per_set=2),
    PlanBlock(kind="working", exercise="back_squat", sets=3, reps_per_set=4),
))


@pytest.fixture
def floor(tmp_path):
    reg = Registry(tmp_path / "registry.db")
    asyncio.run(reg.create_station(StationIn(id="station-01")))
    ada = asyncio.run(reg.create_athlete(AthleteIn(name="Ada")))
    plan = asyncio.run(PlanTemplates(reg).create(PlanTemplateIn(name="Prime", plan=PLAN)))
    s = asyncio.run(reg.start_session(SessionIn(station_id="station-01", athlete_id=ada.id, exercise="back_squat",
                                                plan_id=plan.id)))
    live = LiveState()
    app = create_app(live, tokens=ApiTokens(admin_sha256=sha256_hex(ADMIN)))
    app.state.registry, app.state.session_sink = reg, ListSessionSink()
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    yield client, csrf, live, reg, s
    asyncio.run(reg.close())


def on_station(live: LiveState, athlete: str, session: str, block: int, set_: int, reps: int,
               first_rep_ns: int | None = None) -> None:
    now = time.time_ns()
    live.update(WindowMetric(station="station-01", athlete=athlete, session=session, exercise="back_squat",
                             window_start_ns=now - 2 * 10**9, window_end_ns=now, lag_ms=95.0, in_window=True))
    live.note_set("station-01", athlete, session, SetLag(
        block_index=block, set_index=set_, first_rep_peak_ns=first_rep_ns or now, reps=reps, n=reps, mean_ms=95.0,
        kind="on_time", target_low_ms=80.0, target_high_ms=120.0))


def reps_this_set(html: str) -> str:
    return html.split("Reps this set</dt><dd>")[1].split("<")[0]


def test_the_card_follows_the_analyzers_set(floor) -> None:
    client, _, live, _, s = floor
    assert "block 1/2 (priming) · set 1/1 · 2 reps" in client.get("/console/floor").text  # as started
    on_station(live, "Ada", str(s.id), block=1, set_=2, reps=3)  # the analyzer is in the third working set
    page = client.get("/console/floor").text
    assert "block 2/2 (working) · set 3/3 · 4 reps" in page and reps_this_set(page) == "3"
    assert '<option value="2" selected>2 working</option>' in page  # "Move to this set" starts from there
    assert '<option value="3" selected>3</option>' in page
    # the card's live part (polled every 2 s) carries the position, so it moves without a reload
    part = client.get("/console/floor/station-01/live").text
    assert "block 2/2 (working) · set 3/3" in part


def test_a_move_wins_until_the_analyzer_counts_after_it(floor) -> None:
    client, csrf, live, reg, s = floor
    before_move = time.time_ns()
    on_station(live, "Ada", str(s.id), block=1, set_=0, reps=2, first_rep_ns=before_move)
    r = client.post("/console/floor/station-01/position", data={"csrf": csrf, "session_id": s.id, "block": "2",
                                                                "set": "2"}, headers={"HX-Request": "true"})
    assert r.status_code == 200 and "block 2/2 (working) · set 2/3" in r.text  # the move, not the older live set
    moved = asyncio.run(reg.get_session(s.id))
    on_station(live, "Ada", str(s.id), block=1, set_=1, reps=1, first_rep_ns=moved.plan_position_ns + 1)
    assert "block 2/2 (working) · set 2/3" in client.get("/console/floor").text
    on_station(live, "Ada", str(s.id), block=1, set_=2, reps=1, first_rep_ns=moved.plan_position_ns + 10**9)
    assert "block 2/2 (working) · set 3/3" in client.get("/console/floor").text


def test_someone_elses_set_is_not_counted_for_the_new_session(floor) -> None:
    client, _, live, _, _ = floor
    on_station(live, "Athlete 01", "sim-station-01", block=0, set_=0, reps=7)  # before this session's first window
    page = client.get("/console/floor").text
    # Neither the other athlete's set nor their lag: the card waits for this session's first window.
    assert "Reps this set" not in page and "Lag</dt>" not in page
    assert "Waiting for this session's first window" in page
    assert "block 1/2 (priming) · set 1/1" in page  # the stored position, not the other athlete's set


def test_after_a_stop_the_card_shows_no_ones_numbers(floor) -> None:
    client, _, live, reg, s = floor
    on_station(live, "Ada", str(s.id), block=0, set_=0, reps=2)
    assert "95 ms" in client.get("/console/floor").text  # this session's lag
    asyncio.run(reg.stop_session(s.id))
    page = client.get("/console/floor").text
    assert "95 ms" not in page and "No session. The station is sending data." in page
