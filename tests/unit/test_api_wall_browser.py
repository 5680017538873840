"""The wall page in a real headless Chromium (Debian's), against the real app over HTTP."""

from __future__ import annotations

import asyncio
import os
import shutil
import time

import pytest
import uvicorn

from kinesync.api import LiveState, create_app
from kinesync.models import RepMetric, WindowMetric
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




def r(station: str, k: int, lag: float | None, se: float | None = None, **kw: object) -> RepMetric:
    """A rep record of the tile's athlete, 3 s apart (one set)."""
    return RepMetric(station=station, athlete=f"athlete of {station}", rep_peak_ns=T0 + k * 3_000_000_000,
                     rep_start_ns=T0 + k * 3_000_000_000 - 400_000_000, window_start_ns=T0 + k * 3_000_000_000 - 1,
                     window_end_ns=T0 + k * 3_000_000_000 + 1_000_000_000, lag_ms=lag, lag_se_ms=se,
                     **kw)  # type: ignore[arg-type]


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
    app = create_app(state)
    # Set lags come from the rep records through the cue hub. Rack 2: 96, 104, 100 ms, SE 4 ms each:
    # mean 100, half-interval max(1.96·4/√3, t(0.975, 2)·SD/√3) = 4.303·4/√3 = 9.9 ms, inside 80–120.
    for k, lag in enumerate((96.0, 104.0, 100.0)):
        app.state.cues.publish(r("Rack 2", k, lag, 4.0))
    # Rack 1: 112, 118, 124 ms, SE 3 ms: mean 118 ± 4.303·6/√3 = 14.9 ms, across the 120 ms edge.
    for k, lag in enumerate((112.0, 118.0, 124.0)):
        app.state.cues.publish(r("Rack 1", k, lag, 3.0))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
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

            # the set's mean lag ± its 95 % interval, with the target band on a scale
            assert await tile2.locator(".setval").inner_text() == "100 ± 10 ms"
            assert await tile2.locator(".setn").inner_text() == "3 reps"
            assert "ok" in (await tile2.locator(".setlag").get_attribute("class") or "").split()
            assert await tile2.locator(".setlag .track").is_visible()
            # scale 40–160 ms (one band width either side of 80–120): band at 1/3–2/3, interval 90.1–109.9
            geo = await tile2.locator(".setlag .track").evaluate(
                """t => { const b = t.getBoundingClientRect(), f = (s) => t.querySelector(s).getBoundingClientRect();
                   const x = (v) => (v - b.left) / b.width;
                   return { zone: [x(f('.zone').left), x(f('.zone').right)], ci: [x(f('.ci').left), x(f('.ci').right)],
                            mean: x((f('.mean').left + f('.mean').right) / 2) }; }""")
            assert geo["zone"] == pytest.approx([1 / 3, 2 / 3], abs=0.02)
            assert geo["ci"] == pytest.approx([(90.1 - 40) / 120, (109.9 - 40) / 120], abs=0.02)
            assert geo["mean"] == pytest.approx(0.5, abs=0.02)
            set_size = await tile2.locator(".setval").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
            assert set_size >= 24, f"set lag only {set_size}px high on a 1080p wall"
            tile1 = page.locator(".tile[data-station='Rack 1']")
            assert await tile1.locator(".setval").inner_text() == "118 ± 15 ms"
            assert "uncertain" in (await tile1.locator(".setlag").get_attribute("class") or "").split()
            colour = await tile1.locator(".setval").evaluate("e => getComputedStyle(e).color")
            assert colour == "rgb(185, 200, 220)", colour  # neutral, neither the ok green nor amber/red

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


async def test_station_view_shows_uncertain_and_the_set_interval() -> None:
    """The tablet at the rack: an "uncertain" cue in its own neutral look, and the set's mean ± interval."""
    _need_browser()
    assert async_playwright is not None
    state = LiveState()
    state.update(m("station-01", 0))
    app = create_app(state)
    hub = app.state.cues
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.02)
        assert server.started, "uvicorn did not start"
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = await browser.new_page(viewport={"width": 800, "height": 600})
            await page.goto(f"http://127.0.0.1:{port}/station/station-01?kiosk")
            await page.wait_for_function("document.body.dataset.connected === 'yes'", timeout=10_000)

            async def painted(n: int) -> None:
                await page.wait_for_function(f"window.__cues.length >= {n}", timeout=5_000)

            async def look() -> dict[str, object]:
                await page.wait_for_timeout(400)  # colours fade in over 0.15 s
                return await page.evaluate("""() => { const $ = (id) => document.getElementById(id);
                    const cue = $('cue'), v = $('verdict'), cs = getComputedStyle(cue), vs = getComputedStyle(v);
                    return { cls: cue.className, verdict: v.innerText, detail: $('detail').innerText,
                             set: $('set').innerText, setCls: $('set').className,
                             colour: vs.color, size: parseFloat(vs.fontSize), border: cs.borderTopStyle,
                             borderColour: cs.borderTopColor, bg: cs.backgroundColor }; }""")

            # 100 ms, SE 4 ms: 92.2–107.8, wholly inside 80–120
            hub.publish(r("station-01", 0, 100.0, 4.0))
            await painted(1)
            on = await look()
            assert (on["verdict"], on["cls"]) == ("on time", "on_time")
            assert on["detail"].startswith("lag 100 ± 8 ms")
            assert on["set"] == "set 100 ± 8 ms · 1 rep"

            # 115 ms, SE 5 ms: 105.2–124.8 crosses 120: "uncertain", not "on time"
            hub.publish(r("station-01", 1, 115.0, 5.0))
            await painted(2)
            unsure = await look()
            assert (unsure["verdict"], unsure["cls"]) == ("uncertain", "uncertain")
            assert "115 ± 10 ms" in str(unsure["detail"]) and "80–120" in str(unsure["detail"])
            # neutral blue-grey on a dark slate, dashed frame: not the green of on time, not amber or red
            assert unsure["colour"] == "rgb(185, 200, 220)" and unsure["borderColour"] == "rgb(185, 200, 220)"
            assert unsure["border"] == "dashed" and unsure["bg"] == "rgb(27, 37, 53)"
            assert unsure["colour"] != on["colour"] and unsure["bg"] != on["bg"]
            assert float(unsure["size"]) >= 90, f"verdict only {unsure['size']}px high on an 800x600 tablet"
            # set of 2: mean 107.5, max(1.96·sqrt((16+25)/2)/√2, 12.706·10.607/√2) = 95.3 ms
            assert unsure["set"] == "set 108 ± 95 ms · 2 reps" and unsure["setCls"] == "uncertain"
            history = await page.locator("#history span").evaluate_all("els => els.map(e => e.className)")
            assert history == ["uncertain", "on_time"]

            # the same lag without lag_se_ms: judged on the point estimate, as before
            hub.publish(r("station-01", 2, 115.0))
            await painted(3)
            legacy = await look()
            assert (legacy["verdict"], legacy["cls"]) == ("on time", "on_time")
            assert legacy["detail"].startswith("lag 115 ms ·")
            # 100, 115, 115: mean 110, SD 8.66: 4.303·8.66/√3 = 21.5 ms
            assert legacy["set"] == "set 110 ± 22 ms · 3 reps"
            await browser.close()
    finally:
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)
