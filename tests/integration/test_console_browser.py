"""The console in Debian's headless Chromium: sign in, the floor on a phone and a laptop, assign an athlete."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens, sha256_hex
from kinesync.api.sessions_out import ListSessionSink
from kinesync.facility.models import AthleteIn, StationIn
from kinesync.facility.registry import Registry
from tests.integration.test_console_screens_browser import serve
from tests.unit.test_api_wall_browser import CHROMIUM, CHROMIUM_ARGS, _need_browser

pytestmark = pytest.mark.integration

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - depends on the environment
    async_playwright = None  # type: ignore[assignment]

ADMIN = "admin-token-console-browser"


async def test_sign_in_and_assign_on_phone_and_laptop(tmp_path) -> None:
    _need_browser()
    assert async_playwright is not None
    reg = Registry(tmp_path / "registry.db")
    for i in range(1, 5):
        await reg.create_station(StationIn(id=f"station-0{i}"))
    await reg.create_athlete(AthleteIn(name="Alexandria Papadopoulou-Smith"))
    app = create_app(LiveState(), tokens=ApiTokens(admin_sha256=sha256_hex(ADMIN)))
    sink = ListSessionSink()
    app.state.registry, app.state.session_sink = reg, sink
    requests: list[str] = []
    try:
        async with serve(app) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for width, height, station in ((360, 740, "station-01"), (1280, 800, "station-02")):
                context = await browser.new_context(viewport={"width": width, "height": height},
                                                    has_touch=width < 500, is_mobile=width < 500)
                page = await context.new_page()
                page.on("request", lambda req: requests.append(req.url))
                await page.goto(f"{base}/console")
                assert page.url.endswith("/console/login")
                await page.fill("#token", ADMIN)
                await page.click("button[type=submit].primary")
                await page.wait_for_url("**/console/floor")
                assert ADMIN not in page.url
                assert await page.locator(".card").count() == 4
                # nothing wider than the screen: no sideways scrolling on a phone
                assert await page.evaluate("document.documentElement.scrollWidth") <= width
                for box in await page.locator(".card").all():
                    b = await box.bounding_box()
                    assert b and b["x"] >= 0 and b["x"] + b["width"] <= width + 0.5
                # touch targets: buttons and selects at least 44 px high
                heights = await page.locator(".card button, .card select").evaluate_all(
                    "els => els.map(e => e.getBoundingClientRect().height)")
                assert heights and min(heights) >= 44
                card = page.locator(f".card[data-station='{station}']")
                if station == "station-02":  # the first athlete is busy on station-01 by now
                    assert await page.locator(".card[data-station='station-01'] .athlete").inner_text() \
                        == "Alexandria Papadopoulou-Smith"
                    await page.locator(".card[data-station='station-01'] button.danger").click()
                    await page.wait_for_selector(".card[data-station='station-01'] .who.idle")
                await card.locator("select[name=athlete_id]").select_option(label="Alexandria Papadopoulou-Smith")
                await card.locator("select[name=exercise]").select_option("push_press")
                await card.locator("button.primary").click()
                # htmx swaps the card in place: the athlete and exercise appear, the stop button replaces the form
                await page.wait_for_selector(f".card[data-station='{station}'] .athlete")
                assert await card.locator(".athlete").inner_text() == "Alexandria Papadopoulou-Smith"
                assert await card.locator(".exercise").inner_text() == "push press"
                assert await card.locator("button.danger").inner_text() == "Stop session"
                assert page.url.endswith("/console/floor")  # no full page load
                assert sink.published[-1].station == station and sink.published[-1].exercise == "push_press"
                await page.screenshot(path=f"/tmp/console-{width}.png", full_page=True)
                await context.close()
            await browser.close()
    finally:
        await reg.close()
    outside = {urlsplit(u).hostname for u in requests} - {"127.0.0.1"}
    assert not outside, f"requests left localhost: {outside}"
    await asyncio.sleep(0)
