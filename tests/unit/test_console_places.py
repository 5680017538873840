"""Console pages for teams, stations and plan templates: list, create, edit, delete; validation next
to the field; the registry's refusals on the page; viewers see everything and change nothing."""

from __future__ import annotations

import asyncio
import re

from fastapi.testclient import TestClient

from kinesync.facility.models import AthleteIn, SessionIn
from kinesync.facility.plans import PlanTemplates
from tests.unit.test_console import ADMIN, VIEWER, setup, sign_in  # noqa: F401 (fixture)


def test_teams_create_rename_delete(setup) -> None:  # noqa: F811
    app, reg, *_ = setup
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    r = client.post("/console/teams", data={"csrf": csrf, "name": ""})
    assert r.status_code == 422 and re.search(r'id="name-error" data-field="name">[^<]*at least 1 character', r.text)
    r = client.post("/console/teams", data={"csrf": csrf, "name": "Firsts"})
    assert r.status_code == 200 and "Added Firsts." in r.text
    (team,) = asyncio.run(reg.list_teams(10, 0)).items
    r = client.post(f"/console/teams/{team.id}", data={"csrf": csrf, "name": "x" * 101})
    assert r.status_code == 422 and f'id="team-{team.id}-name-error"' in r.text
    r = client.post(f"/console/teams/{team.id}", data={"csrf": csrf, "name": "First XV"})
    assert "Renamed to First XV." in r.text and asyncio.run(reg.get_team(team.id)).name == "First XV"
    asyncio.run(reg.create_athlete(AthleteIn(name="Ann", team_id=team.id)))
    r = client.post(f"/console/teams/{team.id}/delete", data={"csrf": csrf})
    assert r.status_code == 409 and 'role="alert"' in r.text  # a team with athletes stays
    r = client.post("/console/teams/999/delete", data={"csrf": csrf})
    assert r.status_code == 404


def test_stations_create_edit_delete(setup) -> None:  # noqa: F811
    app, reg, sink, _ = setup
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    r = client.post("/console/stations", data={"csrf": csrf, "id": "bad/id"})
    assert r.status_code == 422 and re.search(r'id="id-error" data-field="id">', r.text)
    r = client.post("/console/stations", data={"csrf": csrf, "id": "station-01"})
    assert r.status_code == 409 and 'role="alert"' in r.text
    r = client.post("/console/stations", data={"csrf": csrf, "id": "rack-9", "label": "Rack 9", "bar_sensor": "on"})
    assert r.status_code == 200 and "Added rack-9." in r.text
    assert asyncio.run(reg.get_station("rack-9")).bar_sensor
    # a bar-sensor change on a station with a running session is published, as PATCH does it
    ann = asyncio.run(reg.create_athlete(AthleteIn(name="Ann")))
    asyncio.run(reg.start_session(SessionIn(station_id="rack-9", athlete_id=ann.id, exercise="back_squat")))
    n = len(sink.published)
    r = client.post("/console/stations/rack-9", data={"csrf": csrf, "label": "Rack nine"})
    assert r.status_code == 200 and "Saved rack-9." in r.text
    st = asyncio.run(reg.get_station("rack-9"))
    assert st.label == "Rack nine" and not st.bar_sensor and len(sink.published) == n + 1
    r = client.post("/console/stations/rack-9/delete", data={"csrf": csrf})
    assert r.status_code == 409  # its session is running
    r = client.post("/console/stations/station-02/delete", data={"csrf": csrf})
    assert r.status_code == 200 and "Deleted station-02." in r.text


def test_plans_create_with_block_errors_next_to_the_row_and_delete(setup) -> None:  # noqa: F811
    app, reg, *_ = setup
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    r = client.post("/console/plans", data={"csrf": csrf, "name": "Empty"})
    assert r.status_code == 422 and 'data-field="blocks"' in r.text
    bad = {"csrf": csrf, "name": "Prime", "b0_kind": "priming", "b0_exercise": "back_squat", "b0_sets": "1",
           "b0_reps_per_set": "3", "b1_kind": "working", "b1_exercise": "back_squat", "b1_sets": "0",
           "b1_reps_per_set": "5", "b1_load_kg": "heavy"}
    r = client.post("/console/plans", data=bad)
    assert r.status_code == 422
    assert re.search(r'id="b1_sets-error" data-field="b1_sets">sets: [^<]*greater than or equal to 1', r.text)
    assert 'data-field="b1_load_kg"' in r.text and 'value="heavy"' in r.text  # the input is kept
    good = {**bad, "b1_sets": "3", "b1_load_kg": "100", "b1_rest_s": "180"}
    r = client.post("/console/plans", data=good)
    assert r.status_code == 200 and "Added plan Prime." in r.text
    (plan,) = asyncio.run(PlanTemplates(reg).list(10, 0)).items
    assert [(b.kind.value, b.sets, b.load_kg, b.rest_s) for b in plan.plan.blocks] == [
        ("priming", 1, None, 120.0), ("working", 3, 100.0, 180.0)]
    assert "working: back squat, 3 × 5, rest 180 s, 100 kg" in client.get("/console/plans").text
    r = client.post(f"/console/plans/{plan.id}/delete", data={"csrf": csrf})
    assert r.status_code == 200 and asyncio.run(PlanTemplates(reg).list(10, 0)).total == 0


def test_viewer_sees_places_without_forms_and_is_refused(setup) -> None:  # noqa: F811
    app, reg, *_ = setup
    client = TestClient(app)
    csrf = sign_in(client, VIEWER)
    for page in ("teams", "stations", "plans"):
        r = client.get(f"/console/{page}")
        assert r.status_code == 200 and 'method="post" action="/console/' + page not in r.text
    assert "station-01" in client.get("/console/stations").text
    for path in ("/console/teams", "/console/stations", "/console/plans", "/console/stations/station-01",
                 "/console/stations/station-01/delete", "/console/teams/1", "/console/plans/1/delete"):
        assert client.post(path, data={"csrf": csrf, "name": "X", "id": "x"}).status_code == 403, path
    assert asyncio.run(reg.list_stations(10, 0)).total == 2
