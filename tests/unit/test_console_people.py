"""Console athletes: body mass and dominant side through the create and edit forms (messages next to the
field, the input kept, nothing stored), on the athlete page, and the dominant side against the plates'
stronger side on the session page."""

from __future__ import annotations

import asyncio
import re
import time

from fastapi.testclient import TestClient

from kinesync.api.console.athlete import dominant_note
from kinesync.facility.models import AthleteIn, AthletePatch, SessionIn
from kinesync.storage.sqlite import SqliteStore
from tests.unit.test_console import ADMIN, VIEWER, setup, sign_in  # noqa: F401 (fixture)
from tests.unit.test_console_pages import VIEWER as PAGES_VIEWER
from tests.unit.test_console_pages import app, reps_of  # noqa: F401 (fixture)
from tests.unit.test_console_places import next_to


def test_create_an_athlete_with_body_mass_and_side_and_see_the_messages_next_to_the_field(setup) -> None:  # noqa: F811
    application, reg, *_ = setup
    client = TestClient(application)
    csrf = sign_in(client, ADMIN)
    form = client.get("/console/athletes").text
    assert 'id="body_mass_kg"' in form and re.search(r'<option value="left"\s*>left</option>', form)
    bad = {"csrf": csrf, "name": "Ada", "body_mass_kg": "300", "dominant_side": "up"}
    r = client.post("/console/athletes", data=bad)
    assert r.status_code == 422
    assert next_to("body_mass_kg", "Input should be less than or equal to 250", "body_mass_kg") in r.text
    assert next_to("dominant_side", "Input should be 'left' or 'right'", "dominant_side") in r.text
    assert re.search(r'<input id="body_mass_kg" name="body_mass_kg" value="300"[^>]*aria-invalid="true"', r.text)
    assert 'value="Ada"' in r.text
    for mass, message in (("19.5", "greater than or equal to 20"), ("heavy", "a valid number"),
                          ("nan", "a finite number")):
        r = client.post("/console/athletes", data={**bad, "body_mass_kg": mass, "dominant_side": ""})
        assert r.status_code == 422 and re.search(rf'data-field="body_mass_kg">[^<]*{message}', r.text), mass
    assert asyncio.run(reg.list_athletes(10, 0)).total == 0

    r = client.post("/console/athletes", data={**bad, "body_mass_kg": "82.5", "dominant_side": "left"})
    assert r.status_code == 200 and "Added Ada." in r.text
    (ada,) = asyncio.run(reg.list_athletes(10, 0)).items
    assert (ada.body_mass_kg, ada.dominant_side) == (82.5, "left")
    r = client.post("/console/athletes", data={"csrf": csrf, "name": "Bo", "body_mass_kg": " ", "dominant_side": ""})
    assert r.status_code == 200
    bo = asyncio.run(reg.list_athletes(10, 0)).items[1]
    assert (bo.body_mass_kg, bo.dominant_side) == (None, None)


def test_edit_body_mass_and_side_on_the_athlete_page(setup) -> None:  # noqa: F811
    application, reg, *_ = setup
    ada = asyncio.run(reg.create_athlete(AthleteIn(name="Ada", body_mass_kg=82.5, dominant_side="left")))
    client = TestClient(application)
    csrf = sign_in(client, ADMIN)
    page = client.get(f"/console/athletes/{ada.id}").text
    assert '<dd data-key="body_mass_kg">82.5 kg</dd>' in page and '<dd data-key="dominant_side">left</dd>' in page
    assert 'name="body_mass_kg" value="82.5"' in page and '<option value="left" selected>left</option>' in page

    r = client.post(f"/console/athletes/{ada.id}", data={"csrf": csrf, "name": "Ada", "body_mass_kg": "250.1",
                                                         "dominant_side": "right"})
    assert r.status_code == 422 and 'data-field="body_mass_kg"' in r.text and 'value="250.1"' in r.text
    assert '<option value="right" selected>right</option>' in r.text  # what was chosen stays chosen
    assert '<dd data-key="body_mass_kg">82.5 kg</dd>' in r.text  # and the stored value is still what it was
    assert asyncio.run(reg.get_athlete(ada.id)).dominant_side == "left"

    r = client.post(f"/console/athletes/{ada.id}", data={"csrf": csrf, "name": "Ada", "body_mass_kg": "79",
                                                         "dominant_side": "right"})
    assert r.status_code == 200 and "Saved." in r.text and '<dd data-key="body_mass_kg">79 kg</dd>' in r.text
    assert (asyncio.run(reg.get_athlete(ada.id)).body_mass_kg, asyncio.run(reg.get_athlete(ada.id)).dominant_side
            ) == (79.0, "right")
    # the form shows every stored value, so emptying a box clears it
    r = client.post(f"/console/athletes/{ada.id}", data={"csrf": csrf, "name": "Ada", "body_mass_kg": "",
                                                         "dominant_side": ""})
    assert r.status_code == 200 and '<dd data-key="dominant_side">not set</dd>' in r.text
    got = asyncio.run(reg.get_athlete(ada.id))
    assert (got.body_mass_kg, got.dominant_side) == (None, None)
    assert client.post("/console/athletes/999", data={"csrf": csrf, "name": "X"}).status_code == 404
    assert client.get("/console/athletes/99999999999999999999").status_code == 404

    viewer = TestClient(application)
    sign_in(viewer, VIEWER)
    asyncio.run(reg.update_athlete(ada.id, AthletePatch(body_mass_kg=80)))
    page = viewer.get(f"/console/athletes/{ada.id}").text
    assert '<dd data-key="body_mass_kg">80 kg</dd>' in page and 'id="body_mass_kg"' not in page


def test_dominant_note_counts_the_reps_whose_stronger_side_is_the_dominant_one() -> None:
    reps = reps_of("1", time.time())[:4]
    assert dominant_note("left", reps) is None  # no asymmetry measured
    sided = [r.model_copy(update={"asymmetry_side": side}) for r, side in zip(reps, ("left", "left", "right", None),
                                                                               strict=True)]
    assert dominant_note(None, sided) is None
    assert dominant_note("left", sided) == "Dominant side: left. The stronger side was the dominant one in 2 of 3 reps."


def test_session_page_shows_the_stronger_side_next_to_the_dominant_one(app, tmp_path) -> None:  # noqa: F811
    reg, ids = app.state.registry, app.state.test_ids
    asyncio.run(reg.update_athlete(ids["athlete"], AthletePatch(dominant_side="right")))
    s = asyncio.run(reg.start_session(SessionIn(station_id="station-01", athlete_id=ids["athlete"],
                                                exercise="back_squat")))
    asyncio.run(reg.stop_session(s.id))
    reps = [r.model_copy(update={"asymmetry_side": "right" if i % 3 else "left",
                                 "asymmetry_propulsive_impulse_pct": 8.0 + i})
            for i, r in enumerate(reps_of(str(s.id), time.time() - 600)[:6])]

    async def write() -> None:
        async with SqliteStore(tmp_path / "reps.db") as store:
            await store.write(reps)
    asyncio.run(write())
    client = TestClient(app)
    sign_in(client, PAGES_VIEWER)
    page = client.get(f"/console/athletes/{ids['athlete']}/sessions/{s.id}").text
    assert "Dominant side: right. The stronger side was the dominant one in 4 of 6 reps." in page
    assert "<th>Stronger side</th>" in page and "<th>Asym. %</th>" in page
    assert '<td data-key="asymmetry_side">left</td>' in page
    assert '<td data-key="asymmetry_propulsive_impulse_pct">8</td>' in page
    # the first session's reps have no asymmetry: no note, no columns
    first = client.get(f"/console/athletes/{ids['athlete']}/sessions/{ids['session']}").text
    assert "Dominant side" not in first and "Stronger side" not in first
