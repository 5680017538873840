"""The wall page in headless Chromium while the real pipeline runs, and a session started through the API.

The whole system as ``kinesync.runtime.live_pipeline.LivePipeline`` builds it: real broker (Tansu), sim
gateway in real time, analyzer, writer into SQLite, and the API with its own lifespan (registry, session
producer, metric followers). The browser must show a tile per simulated station whose numbers change,
pushed over the WebSocket; starting a session through the API must change the athlete on that station's
tile and the tags of the metrics in storage. A screenshot is saved under ``artifacts/`` (or
``$KINESYNC_ARTIFACTS``).
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import httpx
import pytest

from kinesync.runtime.live_pipeline import LivePipeline
from kinesync.storage.sqlite import SqliteStore
from tests.unit.test_api_wall_browser import CHROMIUM, CHROMIUM_ARGS, _need_browser

pytestmark = pytest.mark.integration

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - depends on the environment
    async_playwright = None  # type: ignore[assignment]

ADMIN, VIEWER = "admin-token-wall-test", "viewer-token-wall-test"
STATIONS = 3
ARTIFACTS = Path(os.environ.get("KINESYNC_ARTIFACTS", Path(__file__).resolve().parents[2] / "artifacts"))


async def _until(predicate, timeout_s: float, what: str, interval_s: float = 0.25):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = await predicate()
        if value:
            return value
        await asyncio.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:g} s waiting for {what}")


async def test_wall_follows_the_pipeline_and_a_session_started_through_the_api(tmp_path: Path) -> None:
    _need_browser()
    assert async_playwright is not None
    async with LivePipeline(tmp_path, stations=STATIONS, admin_token=ADMIN, viewer_token=VIEWER, alerts=False,
                            title="Wall test") as p:
        assert p.settings is not None
        store = SqliteStore(p.settings.sqlite_path)  # the writer's file, read beside it
        await store.start()
        try:
            await _wall_and_session(p.base, store)
        finally:
            await store.close()


async def _wall_and_session(base: str, store: SqliteStore) -> None:
    async with async_playwright() as pw, httpx.AsyncClient(base_url=base) as api:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page(viewport={"width": 1920, "height": 1080})
        await page.goto(f"{base}/?kiosk&token={VIEWER}")
        await page.wait_for_function(f"document.querySelectorAll('.tile').length === {STATIONS}", timeout=30_000)
        names = await page.locator(".tile .station").all_inner_texts()
        assert names == [f"station-{i + 1:02d}" for i in range(STATIONS)]
        await page.wait_for_function("document.body.dataset.transport === 'websocket'", timeout=10_000)

        # every tile gets a lag, and the numbers move while the pipeline runs
        await page.wait_for_function(
            "[...document.querySelectorAll('.tile .num')].every(e => e.textContent !== '—')", timeout=30_000)
        first = await page.locator(".tile .num").all_inner_texts()
        first_align = await page.locator(".tile .alignment").all_inner_texts()

        async def changed() -> bool:
            now = await page.locator(".tile .num").all_inner_texts()
            align = await page.locator(".tile .alignment").all_inner_texts()
            return all(a != b or c != d for a, b, c, d in zip(now, first, align, first_align, strict=True))

        await _until(changed, 30, "every tile's numbers to change")
        assert await page.locator(".tile .transfer").first.inner_text() != "—"
        assert await page.locator(".tile.stale").count() == 0
        sim_athlete = await page.locator(".tile[data-station='station-02'] .athlete").inner_text()
        assert sim_athlete == "Athlete 02"

        # a coach puts Grace on station-02 through the API
        auth = {"Authorization": f"Bearer {ADMIN}"}
        team = (await api.post("/api/v1/teams", json={"name": "Night shift"}, headers=auth)).json()
        grace = (await api.post("/api/v1/athletes", json={"name": "Grace Hopper", "team_id": team["id"]},
                                headers=auth)).json()
        assert (await api.post("/api/v1/stations", json={"id": "station-02"}, headers=auth)).status_code == 201
        r = await api.post("/api/v1/sessions", json={"station_id": "station-02", "athlete_id": grace["id"],
                                                     "exercise": "push_press"}, headers=auth)
        assert r.status_code == 201, r.text
        session = r.json()
        started = time.monotonic()
        await page.wait_for_function(
            "document.querySelector(\".tile[data-station='station-02'] .athlete\").textContent === 'Grace Hopper'",
            timeout=20_000)
        print(f"\ntile of station-02 shows Grace Hopper {time.monotonic() - started:.1f} s after the API call")
        assert await page.locator(".tile[data-station='station-01'] .athlete").inner_text() == "Athlete 01"
        await page.wait_for_function(
            "document.querySelector(\".tile[data-station='station-02'] .num\").textContent !== '—'",
            timeout=20_000)

        ARTIFACTS.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - once, tiny
        shot = ARTIFACTS / "wall-pipeline.png"
        await page.screenshot(path=str(shot))
        print(f"wall screenshot: {shot}")
        await browser.close()

    async def tagged() -> list:
        rows = await store.query(station="station-02")
        return [m for m in rows if m.session == str(session["id"])]

    rows = await _until(tagged, 15, "metrics tagged with the new session in storage")
    assert {(m.athlete, m.team, m.exercise) for m in rows} == {("Grace Hopper", "Night shift", "push_press")}
    before = [m for m in await store.query(station="station-02") if m.session != str(session["id"])]
    assert before and {m.athlete for m in before} == {"Athlete 02"}
    others = await store.query(station="station-01")
    assert others and {m.athlete for m in others} == {"Athlete 01"}
