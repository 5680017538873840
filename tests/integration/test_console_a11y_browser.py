"""axe-core in Debian's headless Chromium on every console page: no serious or critical violations,
at phone width (360 px, touch) and on a laptop, for an admin (every form shown) and a viewer; and no
page scrolls sideways on the phone.

axe-core is vendored for the tests only (tests/fixtures/axe-core, from the npm package, MPL-2.0) and
injected by Playwright with the page's CSP bypassed; the app never serves it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kinesync.alerts.rules import AlertEvent
from kinesync.alerts.store import AlertStore
from kinesync.alerts.subscriptions import SubscriptionIn, new_subscription
from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens, sha256_hex
from kinesync.api.sessions_out import ListSessionSink
from kinesync.facility.models import AthleteIn, SessionIn, StationIn, TeamIn
from kinesync.facility.personal import PersonalStore
from kinesync.facility.plans import PlanTemplateIn, PlanTemplates
from kinesync.facility.registry import Registry
from kinesync.storage.sqlite import SqliteStore
from tests.integration.test_console_screens_browser import serve
from tests.unit.test_api_wall_browser import CHROMIUM, CHROMIUM_ARGS, _need_browser
from tests.unit.test_console_pages import PLAN, reps_of

pytestmark = pytest.mark.integration

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - depends on the environment
    async_playwright = None  # type: ignore[assignment]

AXE = Path(__file__).resolve().parents[1] / "fixtures" / "axe-core" / "axe.min.js"
ADMIN, VIEWER = "admin-token-console-a11y", "viewer-token-console-a11y"


async def build(tmp_path: Path):
    reg = Registry(tmp_path / "registry.db")
    team = await reg.create_team(TeamIn(name="Firsts"))
    for i in (1, 2):
        await reg.create_station(StationIn(id=f"station-0{i}", label="Rack 1" if i == 1 else None,
                                           device_ids=[f"emg-0{i}", f"plate-0{i}"]))
    ada = await reg.create_athlete(AthleteIn(name="Ada", team_id=team.id, body_mass_kg=61.5, dominant_side="left"))
    await reg.create_athlete(AthleteIn(name="Bo"))
    plan = await PlanTemplates(reg).create(PlanTemplateIn(name="Prime", plan=PLAN))
    done = await reg.start_session(SessionIn(station_id="station-01", athlete_id=ada.id, exercise="back_squat",
                                             plan_id=plan.id))
    await reg.stop_session(done.id)
    await reg.start_session(SessionIn(station_id="station-01", athlete_id=ada.id, exercise="back_squat",
                                      plan_id=plan.id))
    async with SqliteStore(tmp_path / "reps.db") as store:
        await store.write(reps_of(str(done.id), time.time() - 3600))
    app = create_app(LiveState(), tokens=ApiTokens(admin_sha256=sha256_hex(ADMIN), viewer_sha256=sha256_hex(VIEWER)))
    app.state.registry, app.state.session_sink = reg, ListSessionSink()
    app.state.rep_store = SqliteStore(tmp_path / "reps.db")
    app.state.personal_store = PersonalStore(tmp_path / "personal.db")
    alerts = app.state.alerts_store = AlertStore(tmp_path / "alerts.db")
    sub = new_subscription(SubscriptionIn(url="http://127.0.0.1:9/hook", name="Coach phone"), time.time_ns())
    alerts.add_subscription(sub)
    now = time.time_ns()
    alerts.record([(AlertEvent(rule="lag-drift", station="station-01", athlete="Ada", state="firing",
                               message="Ada: lag out of window", at_ns=now), sub.id)], {}, {}, now)
    pages = ["/console/floor", "/console/athletes", f"/console/athletes/{ada.id}",
             f"/console/athletes/{ada.id}/sessions/{done.id}", "/console/teams", "/console/stations",
             "/console/plans", f"/console/plans/{plan.id}", "/console/alerts"]
    return app, reg, pages


async def axe(page) -> list[dict]:
    await page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result = await page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result
            if v["impact"] in ("serious", "critical")]


async def sign_in(page, base: str, token: str) -> None:
    await page.goto(f"{base}/console/login")
    await page.fill("#token", token)
    await page.click("button[type=submit].primary")
    await page.wait_for_url("**/console/floor")


async def test_every_console_page_passes_axe_on_phone_and_laptop(tmp_path) -> None:
    _need_browser()
    assert async_playwright is not None and AXE.is_file()
    app, reg, pages = await build(tmp_path)
    requests: list[str] = []
    found: dict[str, list[dict]] = {}
    try:
        async with serve(app) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for width, height, token in ((360, 740, ADMIN), (1280, 800, ADMIN), (360, 740, VIEWER)):
                context = await browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True,
                                                    has_touch=width < 500, is_mobile=width < 500)
                page = await context.new_page()
                page.on("request", lambda req: requests.append(req.url))
                login = await context.new_page()
                await login.goto(f"{base}/console/login")
                found[f"{width} login"] = await axe(login)
                await sign_in(page, base, token)
                for path in pages:
                    r = await page.goto(base + path)
                    assert r is not None and r.status == 200, path
                    found[f"{width} {token[:5]} {path}"] = await axe(page)
                    scroll = await page.evaluate("document.documentElement.scrollWidth")
                    assert scroll <= width, f"{path} scrolls sideways at {width} px ({scroll})"
                if token == ADMIN:  # a page showing validation messages next to their fields
                    await page.goto(f"{base}/console/plans")
                    await page.fill("input[name=b0_sets]", "0")
                    await page.click("form[action='/console/plans'] button.primary")
                    await page.wait_for_selector(".field-error")
                    found[f"{width} plans with errors"] = await axe(page)
                    await page.goto(f"{base}/console/athletes")
                    await page.fill("input[name=name]", "Cy")
                    await page.fill("input[name=body_mass_kg]", "400")
                    await page.click("form[action='/console/athletes'] button.primary")
                    await page.wait_for_selector(".field-error[data-field=body_mass_kg]")
                    found[f"{width} athletes with errors"] = await axe(page)
                    await page.goto(f"{base}/console/stations")
                    await page.fill("#st-2-devices", "emg-01")  # station-01's: the registry's 409 on the card
                    await page.click("form[action='/console/stations/station-02'] button[type=submit]")
                    await page.wait_for_selector(".field-error[data-field=device_ids]")
                    found[f"{width} stations with errors"] = await axe(page)
                await context.close()
            await browser.close()
    finally:
        await app.state.rep_store.close()
        await app.state.personal_store.close()
        app.state.alerts_store.close()
        await reg.close()
    bad = {k: v for k, v in found.items() if v}
    assert not bad, json.dumps(bad, indent=1)
    assert {urlsplit(u).hostname for u in requests} == {"127.0.0.1"}
