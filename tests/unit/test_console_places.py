"""Console pages for teams, stations and plan templates: list, create, edit, delete; validation next
to the field, the registry's refusals next to the field they are about (a name, a station id or a
device taken) or on top of the page; viewers see everything and change nothing."""

from __future__ import annotations

import asyncio
import re

from fastapi.testclient import TestClient
from markupsafe import escape

from kinesync.facility.models import AthleteIn, SessionIn, StationPatch
from kinesync.facility.plans import PlanTemplateIn, PlanTemplates
from kinesync.training.plan_models import PlanBlock, SessionPlan
from tests.unit.test_console import ADMIN, VIEWER, setup, sign_in  # noqa: F401 (fixture)


def next_to(field: str, message: str, fid: str | None = None) -> str:
    """The message as a page shows it next to ``field`` (its element id ``fid``, when given)."""
    return (f'id="{fid}-error" ' if fid else "") + f'data-field="{field}">{escape(message)}'


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
    assert r.status_code == 409 and next_to("id", "station 'station-01' exists", "id") in r.text
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


def test_team_rename_to_a_taken_name_is_said_next_to_that_rows_field(setup) -> None:  # noqa: F811
    app, reg, *_ = setup
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    client.post("/console/teams", data={"csrf": csrf, "name": "Firsts"})
    r = client.post("/console/teams", data={"csrf": csrf, "name": "Seconds"})
    _, seconds = asyncio.run(reg.list_teams(10, 0)).items
    r = client.post("/console/teams", data={"csrf": csrf, "name": "Firsts"})
    assert r.status_code == 409 and next_to("name", "a team named 'Firsts' exists", "name") in r.text
    assert 'value="Firsts"' in r.text
    r = client.post(f"/console/teams/{seconds.id}", data={"csrf": csrf, "name": "Firsts"})
    assert r.status_code == 409
    assert next_to("name", "a team named 'Firsts' exists", f"team-{seconds.id}-name") in r.text
    assert asyncio.run(reg.get_team(seconds.id)).name == "Seconds"
    r = client.post("/console/teams/999", data={"csrf": csrf, "name": "Thirds"})
    assert r.status_code == 404 and re.search(r'role="alert">team 999 not found', r.text)  # no row to put it in
    assert client.post("/console/teams/99999999999999999999", data={"csrf": csrf, "name": "X"}).status_code == 404


def test_station_device_ids_listed_edited_and_one_station_per_device(setup) -> None:  # noqa: F811
    app, reg, *_ = setup
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    r = client.post("/console/stations", data={"csrf": csrf, "id": "rack-9", "device_ids": "emg-01, plate L,,"})
    assert r.status_code == 200 and "Added rack-9." in r.text
    assert asyncio.run(reg.get_station("rack-9")).device_ids == ["emg-01", "plate L"]
    card = re.search(r'<section class="card" data-station="rack-9".*?</section>', r.text, re.S).group(0)
    assert "Devices: emg-01, plate L" in card and 'name="device_ids" value="emg-01, plate L"' in card
    assert "Devices: none listed" in client.get("/console/stations").text  # station-01 and -02 have none

    # a device of rack-9 for a new station: the registry's 409, next to the field, the input kept
    r = client.post("/console/stations", data={"csrf": csrf, "id": "rack-10", "device_ids": "emg-02, plate L"})
    assert r.status_code == 409
    assert next_to("device_ids", "device 'plate L' belongs to station 'rack-9'; remove it there first",
                   "device_ids") in r.text
    assert 'value="emg-02, plate L"' in r.text and 'value="rack-10"' in r.text
    assert asyncio.run(reg.list_stations(10, 0)).total == 3

    # the same on a station's own card: next to its device field, what was typed kept, nothing saved
    r = client.post("/console/stations/station-02", data={"csrf": csrf, "label": "Rack two", "device_ids": "emg-01"})
    assert r.status_code == 409
    card = re.search(r'<section class="card" data-station="station-02".*?</section>', r.text, re.S).group(0)
    assert re.search(r'id="st-\d+-devices-error" ' + next_to("device_ids", "device 'emg-01' belongs to station"), card)
    assert 'value="Rack two"' in card and 'name="device_ids" value="emg-01"' in card and 'aria-invalid="true"' in card
    st = asyncio.run(reg.get_station("station-02"))
    assert (st.label, st.device_ids) == ("Rack 2", [])

    # malformed or repeated ids: 422 next to the field, naming the id
    r = client.post("/console/stations/station-02", data={"csrf": csrf, "device_ids": "emg/1"})
    assert r.status_code == 422 and re.search(r'data-field="device_ids">emg/1: String should match pattern', r.text)
    r = client.post("/console/stations", data={"csrf": csrf, "id": "rack-11", "device_ids": "a, a"})
    assert r.status_code == 422 and next_to("device_ids", "device id 'a' is listed twice") in r.text

    # saved: replaced in the order typed; an empty box clears the list
    r = client.post("/console/stations/station-02", data={"csrf": csrf, "device_ids": "plate R, emg-05"})
    assert r.status_code == 200 and "Saved station-02." in r.text
    assert asyncio.run(reg.get_station("station-02")).device_ids == ["plate R", "emg-05"]
    r = client.post("/console/stations/rack-9", data={"csrf": csrf, "label": "Rack 9", "device_ids": ""})
    assert r.status_code == 200 and asyncio.run(reg.get_station("rack-9")).device_ids == []
    r = client.post("/console/stations/nowhere", data={"csrf": csrf, "device_ids": "x"})
    assert r.status_code == 404 and 'role="alert">' + str(escape("station 'nowhere' not found")) in r.text


PLAN = SessionPlan(blocks=(PlanBlock(kind="priming", exercise="back_squat", sets=1, reps_per_set=3, load_kg=40),
                           PlanBlock(kind="working", exercise="back_squat", sets=3, reps_per_set=5, rest_s=180)),
                   set_gap_s=20.0)


def test_plan_edit_page_saves_with_the_create_checks_and_started_sessions_keep_their_copy(setup) -> None:  # noqa: F811
    app, reg, sink, _ = setup
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    plans = PlanTemplates(reg)
    plan = asyncio.run(plans.create(PlanTemplateIn(name="Prime", plan=PLAN)))
    asyncio.run(plans.create(PlanTemplateIn(name="Other", plan=PLAN)))
    ann = asyncio.run(reg.create_athlete(AthleteIn(name="Ann")))
    running = asyncio.run(reg.start_session(SessionIn(station_id="station-01", athlete_id=ann.id,
                                                      exercise="back_squat", plan_id=plan.id)))
    assert f'href="/console/plans/{plan.id}"' in client.get("/console/plans").text

    page = client.get(f"/console/plans/{plan.id}")
    assert page.status_code == 200 and "<h1>Plan: Prime</h1>" in page.text
    assert "The session already started from this template keeps the plan it started with" in page.text
    # the stored plan in the form, with one empty row more to add a block (at least the create form's five)
    assert 'name="b0_load_kg" inputmode="decimal" size="5" value="40"' in page.text
    assert 'name="b1_rest_s" inputmode="decimal" size="5" value="180"' in page.text
    assert re.search(r'<option selected>priming</option>', page.text) and 'name="set_gap_s" value="20"' in page.text
    assert page.text.count('<fieldset class="block-row">') == 5

    form = {"csrf": csrf, "name": "Prime v2", "set_gap_s": "20", "b0_kind": "priming", "b0_exercise": "back_squat",
            "b0_sets": "1", "b0_reps_per_set": "3", "b0_load_kg": "40", "b1_kind": "working",
            "b1_exercise": "back_squat", "b1_sets": "0", "b1_reps_per_set": "5", "b1_rest_s": "180",
            "b2_kind": "control", "b2_exercise": "squat_jump", "b2_sets": "1", "b2_reps_per_set": "4"}
    r = client.post(f"/console/plans/{plan.id}", data=form)
    assert r.status_code == 422
    assert re.search(r'id="b1_sets-error" data-field="b1_sets">sets: [^<]*greater than or equal to 1', r.text)
    assert 'name="b2_reps_per_set" inputmode="numeric" size="5" value="4"' in r.text  # the input kept
    r = client.post(f"/console/plans/{plan.id}", data={**form, "b1_sets": "3", "name": "Other"})
    assert r.status_code == 409 and next_to("name", "a plan named 'Other' exists", "name") in r.text
    r = client.post(f"/console/plans/{plan.id}", data={**form, "b1_sets": "3", "set_gap_s": "0"})
    assert r.status_code == 422 and 'data-field="set_gap_s"' in r.text
    assert asyncio.run(plans.get(plan.id)).plan == PLAN  # nothing saved so far

    n = len(sink.published)
    r = client.post(f"/console/plans/{plan.id}", data={**form, "b1_sets": "3"})
    assert r.status_code == 200 and "Saved plan Prime v2." in r.text and "<h1>Plan: Prime v2</h1>" in r.text
    saved = asyncio.run(plans.get(plan.id))
    assert [(b.kind.value, b.exercise, b.sets) for b in saved.plan.blocks] == [
        ("priming", "back_squat", 1), ("working", "back_squat", 3), ("control", "squat_jump", 1)]
    assert saved.plan.set_gap_s == 20.0 and r.text.count('<fieldset class="block-row">') == 5
    # the running session still counts through the plan it started with, and nothing was republished
    assert asyncio.run(reg.get_session(running.id)).plan == PLAN and len(sink.published) == n

    assert client.get("/console/plans/999").status_code == 404
    assert client.post("/console/plans/999", data={**form, "b1_sets": "3"}).status_code == 404
    assert client.get("/console/plans/99999999999999999999").status_code == 404


def test_plan_edit_keeps_every_block_and_an_exercise_the_console_does_not_offer(setup) -> None:  # noqa: F811
    app, reg, *_ = setup
    client = TestClient(app)
    csrf = sign_in(client, ADMIN)
    blocks = tuple(PlanBlock(kind="working", exercise="deadlift" if i == 6 else "back_squat", sets=1,
                             reps_per_set=i + 1) for i in range(7))  # made through the REST API: more than five
    plan = asyncio.run(PlanTemplates(reg).create(PlanTemplateIn(name="Long", plan=SessionPlan(blocks=blocks))))
    page = client.get(f"/console/plans/{plan.id}")
    assert page.text.count('<fieldset class="block-row">') == 8
    assert '<option value="deadlift" selected>deadlift</option>' in page.text
    form = dict(re.findall(r'name="(b\d+_(?:sets|reps_per_set|rest_s|load_kg))"[^>]*value="([^"]*)"', page.text))
    form.update({f"b{i}_{f}": v for i, b in enumerate(blocks) for f, v in (("kind", "working"),
                                                                           ("exercise", b.exercise))})
    form.update({"b7_kind": "control", "b7_exercise": "back_squat", "b7_sets": "2", "b7_reps_per_set": "5"})
    r = client.post(f"/console/plans/{plan.id}", data={"csrf": csrf, "name": "Long", **form})
    assert r.status_code == 200, r.text
    saved = asyncio.run(PlanTemplates(reg).get(plan.id)).plan
    assert saved.blocks[:7] == blocks and saved.blocks[7].kind.value == "control"
    assert r.text.count('<fieldset class="block-row">') == 9  # one more row to add the next block


def test_viewer_sees_the_plan_edit_page_without_its_form(setup) -> None:  # noqa: F811
    app, reg, *_ = setup
    plan = asyncio.run(PlanTemplates(reg).create(PlanTemplateIn(name="Prime", plan=PLAN)))
    asyncio.run(reg.update_station("station-01", StationPatch(device_ids=["emg-01"])))
    client = TestClient(app)
    csrf = sign_in(client, VIEWER)
    page = client.get(f"/console/plans/{plan.id}")
    assert page.status_code == 200 and "priming: back squat, 1 × 3" in page.text
    main = page.text.split("<main>")[1]
    assert "<form" not in main and "<input" not in main and "<button" not in main
    assert f'href="/console/plans/{plan.id}"' not in client.get("/console/plans").text
    assert "Devices: emg-01" in client.get("/console/stations").text
    r = client.post(f"/console/plans/{plan.id}", data={"csrf": csrf, "name": "X", "b0_sets": "1",
                                                        "b0_reps_per_set": "1", "b0_kind": "working",
                                                        "b0_exercise": "back_squat"})
    assert r.status_code == 403 and asyncio.run(PlanTemplates(reg).get(plan.id)).name == "Prime"
