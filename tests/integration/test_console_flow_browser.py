"""The coach's whole console flow against the live pipeline, in Debian's headless Chromium (issue 17).

One pipeline for the module (``kinesync.runtime.live_pipeline``: embedded broker, the sim gateway in
real time with 2 stations, analyzer, writer on SQLite, alerts, and the API with the console on
uvicorn), then the same flow on a laptop (1280×800) and on a phone (360×740, touch, ``is_mobile``),
each on its own station:

- an admin signs in, adds a plan (plans form) and an athlete (athletes form), and from the floor
  card assigns the athlete to the station with an exercise and the plan; the card shows the athlete
  and the plan position, then (its live part polls) the athlete's own lag, the reps of the set, and
  the plan's second set once the analyzer has moved there by itself; the session is stopped from the
  card; the athlete page lists it, the session page shows its reps (plot, and the table with each
  rep's block, set and rep), and its PDF report downloads (``%PDF``);
- a viewer signs in: floor, athletes, the athlete page, the session page, teams, stations, plans and
  alerts show no form or button but sign-out, while the admin sees them on the same pages; every
  console POST that changes something (enumerated from the console's router) is refused 403 with the
  viewer's cookie and CSRF token, and nothing changed in the registry or the alerts database;
- every request any page made went to 127.0.0.1 or localhost; no page threw a JavaScript error; on
  the phone no page scrolls sideways.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from kinesync.runtime.live_pipeline import LivePipeline
from tests.unit.test_api_wall_browser import CHROMIUM, CHROMIUM_ARGS, _need_browser

try:
    from playwright.async_api import Browser, BrowserContext, Page, async_playwright
except ImportError:  # pragma: no cover - depends on the environment
    async_playwright = None  # type: ignore[assignment]

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

ADMIN, VIEWER = "admin-token-console-flow", "viewer-token-console-flow"
LOCAL = {"127.0.0.1", "localhost"}
EXERCISE = "back_squat"  # what the simulated athletes do
VIEWPORTS: dict[str, dict[str, Any]] = {
    "laptop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True,
              "device_scale_factor": 2},
}
STATION = {"laptop": "station-01", "phone": "station-02"}
READ_ONLY_PAGES = ("floor", "athletes", "athlete", "session", "teams", "stations", "plans", "alerts")


@dataclass
class Live:
    pipeline: LivePipeline
    browser: Browser
    team_id: int
    subscription_id: str


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def live(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Live]:
    _need_browser()
    assert async_playwright is not None
    async with LivePipeline(tmp_path_factory.mktemp("console-flow"), stations=2, admin_token=ADMIN,
                            viewer_token=VIEWER, title="Console flow test", webhook_receiver=True) as p:
        for station in p.station_ids():
            await p.rest("POST", "/api/v1/stations", {"id": station})
        team = await p.rest("POST", "/api/v1/teams", {"name": "First team"})
        # so that the alerts page has a subscription with its "Send a test" and "Delete" buttons
        sub = await p.rest("POST", "/api/alerts/subscriptions", {"url": p.webhook_url, "name": "local receiver"})
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                yield Live(p, browser, team["id"], sub["id"])
            finally:
                await browser.close()


@dataclass
class Recorder:
    requests: list[str]
    errors: list[str]


async def _context(live: Live, size: str, rec: Recorder) -> BrowserContext:
    context = await live.browser.new_context(**VIEWPORTS[size])
    context.on("request", lambda req: rec.requests.append(req.url))
    context.on("page", lambda page: page.on("pageerror", lambda exc: rec.errors.append(f"{page.url}: {exc}")))
    return context


async def _press(page: Page, locator: Any, size: str) -> None:
    """A tap on the phone (touch), a click on the laptop."""
    if VIEWPORTS[size].get("has_touch"):
        await locator.tap()
    else:
        await locator.click()


async def _sign_in(page: Page, base: str, token: str, size: str) -> None:
    await page.goto(f"{base}/console")
    await page.wait_for_url("**/console/login")
    await page.fill("#token", token)
    await _press(page, page.locator("button[type=submit].primary"), size)
    await page.wait_for_url("**/console/floor")


async def _no_sideways_scroll(page: Page, size: str) -> None:
    if size == "phone":
        widths = await page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert widths[0] <= widths[1], f"{page.url} scrolls sideways on the phone: {widths}"


async def _changes(page: Page) -> int:
    """Forms, buttons and inputs in the page's main part (the sign-out form is in the header)."""
    return await page.locator("main form, main button, main input, main select, main textarea").count()


async def _wait(page: Page, expression: str, arg: Any = None, timeout_ms: int = 30_000) -> None:
    await page.wait_for_function(expression, arg=arg, timeout=timeout_ms)


@pytest.mark.parametrize("size", list(VIEWPORTS))
async def test_console_flow_on_the_live_pipeline(live: Live, size: str, tmp_path: Path) -> None:
    p, base, station = live.pipeline, live.pipeline.base, STATION[size]
    athlete, plan = f"Ada Lovelace ({size})", f"Squat build ({size})"
    rec = Recorder([], [])
    t0 = time.monotonic()
    admin = await _context(live, size, rec)
    page = await admin.new_page()
    try:
        await _sign_in(page, base, ADMIN, size)

        # a plan, through the plans form: one working block, 2 sets of 2 (the analyzer moves to set 2 by itself)
        await page.goto(f"{base}/console/plans")
        await page.fill("#name", plan)
        await page.select_option("select[name=b0_kind]", "working")
        await page.select_option("select[name=b0_exercise]", EXERCISE)
        for field, value in (("sets", "2"), ("reps_per_set", "2"), ("rest_s", "60")):
            await page.fill(f"input[name=b0_{field}]", value)
        await _press(page, page.locator("main form button.primary"), size)
        await page.wait_for_selector(f"text=Added plan {plan}.")
        await _no_sideways_scroll(page, size)

        # an athlete, through the athletes form
        await page.goto(f"{base}/console/athletes")
        await page.fill("#name", athlete)
        await page.select_option("#team_id", label="First team")
        await _press(page, page.locator("main form.stack button.primary"), size)
        await page.wait_for_selector(f"text=Added {athlete}.")
        await _no_sideways_scroll(page, size)

        # assign from the floor card: athlete, exercise and plan
        await page.goto(f"{base}/console/floor")
        card = page.locator(f".card[data-station='{station}']")
        await card.locator("select[name=athlete_id]").select_option(label=athlete)
        await card.locator("select[name=exercise]").select_option(EXERCISE)
        await card.locator("select[name=plan_id]").select_option(label=plan)
        assigned_at = time.monotonic()
        await _press(page, card.locator("button.primary"), size)
        await page.wait_for_selector(f".card[data-station='{station}'] .athlete", timeout=10_000)
        assert await card.locator(".athlete").inner_text() == athlete
        assert await card.locator(".exercise").inner_text() == EXERCISE.replace("_", " ")
        assert await card.locator(".plan-position").inner_text() == "block 1/1 (working) · set 1/2 · 2 reps"
        session_id = int(await card.locator("input[name=session_id]").first.get_attribute("value") or 0)
        assert session_id >= 1

        # their lags on the card. The card's live part shows the station's latest numbers, whoever they
        # belong to: first wait until the live state (the wall's data) is this session's, in the plan's
        # second set (2 reps done in the first), then for the card's next refresh (the marker goes when
        # htmx swaps the part): their lag, the live plan position and the reps of this set.
        wall = await _live_until(p, station, athlete, session_id, set_index=1, timeout_s=45.0)
        await card.locator(".live").evaluate("e => e.insertAdjacentHTML('beforeend', '<i class=stale-marker></i>')")
        await _wait(page, """station => {
            const live = document.querySelector(`.card[data-station='${station}'] .live`);
            const lag = live.querySelector('dd.lag');
            const reps = [...live.querySelectorAll('dt')].find(dt => dt.textContent === 'Reps this set');
            return !live.querySelector('.stale-marker') && lag && /^\\d+ ms$/.test(lag.textContent.trim())
                && reps && parseInt(reps.nextElementSibling.textContent, 10) >= 1;
        }""", station, timeout_ms=10_000)
        lag_text = (await card.locator(".live dd.lag").inner_text()).strip()
        lag_after_s = time.monotonic() - assigned_at
        assert wall["lag_ms"] is not None
        assert await card.locator(".plan-position").inner_text() == "block 1/1 (working) · set 2/2 · 2 reps"
        await _no_sideways_scroll(page, size)

        # stop it from the card
        await _press(page, card.locator("button.danger", has_text="Stop session"), size)
        await page.wait_for_selector(f".card[data-station='{station}'] .who.idle", timeout=10_000)

        # the athlete page lists the session; its page shows the reps
        await page.goto(f"{base}/console/athletes")
        await _press(page, page.locator("main table a", has_text=athlete), size)
        await page.wait_for_selector(f"h1:text-is('{athlete}')")
        athlete_url = page.url
        athlete_id = int(athlete_url.rstrip("/").rsplit("/", 1)[1])
        row = page.locator("main table tr", has=page.locator(f"a[href$='/sessions/{session_id}']"))
        assert "stopped" in await row.inner_text()
        assert station in await row.inner_text()
        await _no_sideways_scroll(page, size)
        await _press(page, row.locator("a").first, size)
        await page.wait_for_url(f"**/console/athletes/{athlete_id}/sessions/{session_id}")
        session_url = page.url
        for _ in range(20):  # the writer stores the reps within a batch interval; the last ones may trail
            if await page.locator("table.reps tbody tr").count() >= 3:
                break
            await page.wait_for_timeout(500)
            await page.reload()
        reps = await page.locator("table.reps tbody tr").count()
        assert reps >= 3, f"the session page shows {reps} reps"
        assert await page.locator("svg.plot .dot").count() >= 3
        rows = await page.locator("table.reps tbody tr td:first-child").all_inner_texts()
        assert rows[:3] == ["1 working · set 1 · rep 1", "1 working · set 1 · rep 2", "1 working · set 2 · rep 1"], rows
        await _no_sideways_scroll(page, size)

        # its PDF report
        async with page.expect_download(timeout=90_000) as info:
            await _press(page, page.locator("a[href$='/report.pdf']"), size)
        download = await info.value
        pdf = tmp_path / download.suggested_filename
        await download.save_as(pdf)
        assert download.suggested_filename == f"session-{session_id}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF"), pdf.read_bytes()[:200]

        # the admin has forms on every page the viewer will see
        admin_controls = {}
        for name, url in _pages(base, athlete_url, session_url).items():
            await page.goto(url)
            admin_controls[name] = await _changes(page)
        assert all(admin_controls[n] > 0 for n in READ_ONLY_PAGES if n != "session"), admin_controls
    finally:
        await admin.close()

    before = await _registry(p)
    viewer = await _context(live, size, rec)
    page = await viewer.new_page()
    try:
        await _sign_in(page, base, VIEWER, size)
        assert await page.locator(".role").get_attribute("data-role") == "viewer"
        for name, url in _pages(base, athlete_url, session_url).items():
            await page.goto(url)
            assert await page.locator("main h1").count() == 1, f"{name}: no page"
            assert await _changes(page) == 0, (
                f"the viewer sees {await _changes(page)} controls on {name}: "
                f"{await page.locator('main form, main button').all_inner_texts()}")
            await _no_sideways_scroll(page, size)
        # the floor card still shows the numbers, without the start form
        await page.goto(f"{base}/console/floor")
        assert await page.locator(f".card[data-station='{station}'] .live").count() == 1
        # the session page's downloads are links, not changes: a viewer may fetch the CSV
        csv = await page.request.get(f"{session_url}/report.csv")
        assert csv.status == 200 and b"lag" in await csv.body()

        csrf = json.loads(await page.get_attribute("body", "hx-headers") or "{}")["X-CSRF-Token"]
        values = {"station_id": station, "athlete_id": str(athlete_id), "team_id": str(live.team_id),
                  "plan_id": str(await _plan_id(p, plan)), "sub_id": live.subscription_id, "exercise": EXERCISE}
        refused = []
        for path in _change_paths():
            url = base + re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)
            form = {"csrf": csrf, "name": "changed by a viewer", "athlete_id": str(athlete_id), "exercise": EXERCISE,
                    "session_id": str(session_id), "low_ms": "50", "high_ms": "90", "url": "http://127.0.0.1:9/x",
                    "locked": "true", "block": "1", "set": "1", "label": "changed", "id": "station-99"}
            answer = await page.request.post(url, form=form, max_redirects=0)
            assert answer.status == 403, f"viewer POST {path}: {answer.status} {(await answer.text())[:200]}"
            assert "may look but not change anything" in await answer.text()
            refused.append(path)
        assert len(refused) >= 15, refused
        assert await _registry(p) == before, "a viewer's POST changed something"
    finally:
        await viewer.close()

    took = time.monotonic() - t0
    print(f"\n{size}: lag {lag_text} on the card {lag_after_s:.1f} s after the assignment; {reps} reps on the "
          f"session page; {len(refused)} viewer POSTs refused; flow {took:.1f} s; {len(rec.requests)} requests")
    outside = {urlsplit(u).hostname for u in rec.requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")}
    assert outside <= LOCAL, f"requests left localhost: {outside - LOCAL}"
    assert not [u for u in rec.requests if urlsplit(u).scheme not in ("http", "https", "ws", "wss", "data", "blob")]
    assert not rec.errors, rec.errors


async def _live_until(p: LivePipeline, station: str, athlete: str, session_id: int, set_index: int,
                      timeout_s: float) -> dict[str, Any]:
    """The station's live status once it is this session's and its current set is ``set_index``."""
    deadline = time.monotonic() + timeout_s
    st: dict[str, Any] = {}
    while time.monotonic() < deadline:
        st = (await p.stations_live()).get(station, {})
        set_lag = st.get("set_lag") or {}
        if (st.get("athlete") == athlete and st.get("session") == str(session_id)
                and set_lag.get("set_index") == set_index and set_lag.get("n", 0) >= 1):
            return st
        await asyncio.sleep(0.25)
    raise AssertionError(f"{station} never got to set {set_index + 1} of {athlete}'s session {session_id}: {st}")


def _pages(base: str, athlete_url: str, session_url: str) -> dict[str, str]:
    c = f"{base}/console"
    return {"floor": f"{c}/floor", "athletes": f"{c}/athletes", "athlete": athlete_url, "session": session_url,
            "teams": f"{c}/teams", "stations": f"{c}/stations", "plans": f"{c}/plans", "alerts": f"{c}/alerts"}


def _change_paths() -> list[str]:
    """Every console POST but sign-in and sign-out, from the console's router (a new one is covered at once)."""
    from kinesync.api.console import router

    out = []
    for route in router.routes:
        path = getattr(route, "path", "")
        if path.startswith("/console/") and "POST" in (getattr(route, "methods", None) or ()):
            if path not in ("/console/login", "/console/logout"):
                out.append(path)
    return sorted(out)


async def _plan_id(p: LivePipeline, name: str) -> int:
    plans = (await p.rest("GET", "/api/v1/plans?limit=200"))["items"]
    return next(x["id"] for x in plans if x["name"] == name)


async def _registry(p: LivePipeline) -> dict[str, Any]:
    """Everything a console change could touch, as the REST API reads it."""
    out: dict[str, Any] = {}
    for what in ("teams", "athletes", "stations", "plans", "sessions"):
        out[what] = (await p.rest("GET", f"/api/v1/{what}?limit=200"))["items"]
    for a in out["athletes"]:
        out[f"targets-{a['id']}"] = await p.rest("GET", f"/api/v1/athletes/{a['id']}/targets")
    out["subscriptions"] = await p.rest("GET", "/api/alerts/subscriptions")
    return out
