"""The wall page in a real headless Chromium (Debian's), against the real app over HTTP."""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import pytest
import uvicorn

from kinesync.api import LiveState, create_app
from kinesync.models import WindowMetric
from kinesync.runtime.ports import free_port

CHROMIUM = os.environ.get("KINESYNC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
T0 = 1_700_000_000_000_000_000

# ~13 s: it waits out the real 5 s "no signal" rule twice.
pytestmark = pytest.mark.integration

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - depends on the environment
    async_playwright = None  # type: ignore[assignment]


def _need_browser() -> None:
    missing = []
    if async_playwright is None:
        missing.append("python package playwright")
    if not shutil.which(CHROMIUM):
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    if missing:
        message = "wall browser test needs " + " and ".join(missing)
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)




def m(station: str, k: int, **kw: object) -> WindowMetric:
    return WindowMetric(
        station=station,
        athlete=f"athlete of {station}",
        window_start_ns=T0 + k,
        window_end_ns=T0 + k + 1,
        **kw,  # type: ignore[arg-type]
    )


async def test_wall_in_browser() -> None:
    _need_browser()
    assert async_playwright is not None
    state = LiveState()
    state.update(m("Rack 2", 0, lag_ms=97.0, in_window=True, coupling=0.84, alignment=0.8))
    state.update(m("Rack 10", 0, lag_ms=165.0, in_window=False, coupling=0.5, alignment=0.25))
    state.update(m("Rack 1", 0))  # no rep yet
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(state), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())

    async def keep_alive(stop_after: dict[str, float]) -> None:
        k = 1
        while True:
            for name in ("Rack 1", "Rack 2", "Rack 10"):
                if time.monotonic() < stop_after.get(name, float("inf")):
                    state.update(m(name, k))  # windows without a rep: lag must stay on screen
            k += 1
            await asyncio.sleep(0.3)

    quiet = {"Rack 10": time.monotonic() + 1.0}
    feeder = asyncio.create_task(keep_alive(quiet))
    try:
        for _ in range(500):  # uvicorn has no "started" event to await
            if server.started:
                break
            await asyncio.sleep(0.02)
        assert server.started, "uvicorn did not start"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 1920, "height": 1080})
            await page.goto(f"http://127.0.0.1:{port}/?kiosk")
            await page.wait_for_function("document.querySelectorAll('.tile').length === 3")

            assert not await page.is_visible("header")  # kiosk: no chrome
            stations = await page.locator(".tile .station").all_inner_texts()
            assert stations == ["Rack 1", "Rack 2", "Rack 10"]  # natural order on the wall
            tile2 = page.locator(".tile[data-station='Rack 2']")
            assert await tile2.locator(".num").inner_text() == "97"
            assert await tile2.locator(".alignment").inner_text() == "80%"
            assert await tile2.locator(".coupling").inner_text() == "0.84"
            assert "ok" in (await tile2.get_attribute("class") or "").split()
            assert "none" in (await page.locator(".tile[data-station='Rack 1']").get_attribute("class") or "")
            assert "bad" in (await page.locator(".tile[data-station='Rack 10']").get_attribute("class") or "")
            size = await tile2.locator(".num").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
            assert size > 100, f"lag digits only {size}px high on a 1080p wall"

            # Rack 10 goes silent: after 5 s its tile says so and drops the old numbers
            await page.wait_for_selector(".tile[data-station='Rack 10'].stale", timeout=9000)
            assert await page.locator(".tile[data-station='Rack 10'] .nosignal").is_visible()
            assert not await page.locator(".tile[data-station='Rack 10'] .lag").is_visible()
            assert "stale" not in (await tile2.get_attribute("class") or "")
            assert await tile2.locator(".num").inner_text() == "97"  # still shown without new reps

            # the server itself goes away: every tile ends up "no signal", not frozen
            server.should_exit = True
            await serving
            await page.wait_for_function("document.querySelectorAll('.tile.stale').length === 3", timeout=9000)
            assert await page.is_visible("#conn")
            await browser.close()
    finally:
        feeder.cancel()
        server.should_exit = True
        await asyncio.gather(serving, feeder, return_exceptions=True)
