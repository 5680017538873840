"""The wall and the station view fit their screens (issue 17, item 7), in Debian's headless Chromium.

For every screen size and station count: no text element is clipped (its scroll width within its
client width, its box inside its tile), none is covered by another element, the tiles do not
overflow, and no text is drawn below the wall's floor (12 px, MIN_FONT_PX in wall.html) or the
station view's (16 px); the wall's base size per station count is asserted as docs/console.md states it.
The data is the worst case a floor produces: long athlete names, a firing alert with its full
message, a set lag, transfer, coupling and bar velocity on every tile.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
import uvicorn

from kinesync.api import LiveState, create_app
from kinesync.models import RepMetric, WindowMetric
from kinesync.runtime.ports import free_port
from tests.unit.test_api_wall_browser import CHROMIUM, CHROMIUM_ARGS, _need_browser

pytestmark = pytest.mark.integration

try:
    from playwright.async_api import async_playwright
except ImportError:  # pragma: no cover - depends on the environment
    async_playwright = None  # type: ignore[assignment]

WALL_MIN_PX = 12  # the wall's absolute floor (MIN_FONT_PX in wall.html; docs/console.md, "Screens")
MIN_FONT_PX = 16  # the station view's smallest text
T0 = 1_700_000_000_000_000_000
NAMES = ["Alexandria Papadopoulou-Smith", "Jo Li", "Maximilian Oberhuber-Kowalczyk", "Siobhán Ní Bhriain",
         "Oluwaseun Adebayo-Okonkwo", "Ana", "Bartholomew Fitzwilliam", "Nguyễn Thị Minh Khai"]
ALERT = "lag out of window in 4 of the last 6 reps (late by 35 ms on average)"

# Everything a tile or the station view shows as text; the check runs over these and their children.
CHECK = """([root, minFont]) => {
  const bad = [];
  const visible = (el) => { const cs = getComputedStyle(el);
    return cs.display !== 'none' && cs.visibility !== 'hidden' && el.getClientRects().length > 0; };
  const hasText = (el) => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  const name = (el) => (el.id ? '#' + el.id : el.className || el.tagName) + ' "' + el.textContent.slice(0, 30) + '"';
  for (const box of document.querySelectorAll(root)) {
    if (box.scrollHeight > box.clientHeight + 1 || box.scrollWidth > box.clientWidth + 1)
      bad.push(`overflowing ${name(box)}: ${box.scrollWidth}x${box.scrollHeight} in `
               + `${box.clientWidth}x${box.clientHeight}`);
    const br = box.getBoundingClientRect();
    for (const el of [box, ...box.querySelectorAll('*')]) {
      if (!visible(el)) continue;
      const cs = getComputedStyle(el);
      if (!cs.display.startsWith('inline') && el.scrollWidth > el.clientWidth + 1)
        bad.push(`clipped ${name(el)}: scrollWidth ${el.scrollWidth} > clientWidth ${el.clientWidth}`);
      if (!hasText(el)) continue;
      const size = parseFloat(cs.fontSize);
      if (size < minFont) bad.push(`small ${name(el)}: ${size}px`);
      const r = el.getBoundingClientRect();
      if (r.left < br.left - 1 || r.right > br.right + 1 || r.top < br.top - 1 || r.bottom > br.bottom + 1)
        bad.push(`outside its box ${name(el)}`);
      // covered: what is on top at the text's centre must be the element itself or inside it
      const top = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
      if (top && top !== el && !el.contains(top)) bad.push(`covered ${name(el)} by ${name(top)}`);
    }
  }
  return bad;
}"""


def metric(station: str, athlete: str, k: int) -> WindowMetric:
    return WindowMetric(station=station, athlete=athlete, session="7", exercise="back_squat",
                        window_start_ns=T0 + k, window_end_ns=T0 + k + 1, lag_ms=187.0, in_window=False,
                        coupling=0.84, alignment=0.25, transfer_index=0.63, mean_concentric_velocity_m_s=1.23)


def rep(station: str, athlete: str, k: int, lag: float) -> RepMetric:
    return RepMetric(station=station, athlete=athlete, session="7", rep_peak_ns=T0 + k * 3_000_000_000,
                     rep_start_ns=T0 + k * 3_000_000_000 - 400_000_000, window_start_ns=T0 + k * 3_000_000_000 - 1,
                     window_end_ns=T0 + k * 3_000_000_000 + 1_000_000_000, lag_ms=lag, lag_se_ms=6.0)


@contextlib.asynccontextmanager
async def serve(app):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.02)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.gather(serving, return_exceptions=True)


async def test_wall_fits_every_screen_and_count() -> None:
    _need_browser()
    assert async_playwright is not None
    state = LiveState()
    app = create_app(state, title="KineSync")
    stations: list[tuple[str, str]] = []

    async def feed() -> None:
        k = 1
        while True:
            for station, athlete in list(stations):
                state.update(metric(station, athlete, k))
            k += 1
            await asyncio.sleep(0.3)

    def floor(n: int) -> None:
        for station, _ in stations:
            state.forget(station)
        stations[:] = [(f"Rack {i + 1}", NAMES[i % len(NAMES)]) for i in range(n)]
        for station, athlete in stations:
            state.update(metric(station, athlete, 0))
            state.note_alert(station, ALERT, "firing")
            for j, lag in enumerate((150.0, 165.0, 187.0)):
                app.state.cues.publish(rep(station, athlete, j, lag))

    feeder = asyncio.create_task(feed())
    results: dict[tuple[int, int, int, bool], float] = {}
    try:
        async with serve(app) as base, async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            cases = [(1600, 900, 8, False), (1600, 900, 8, True)]
            cases += [(1920, 1080, n, kiosk) for n in (8, 16, 32, 64) for kiosk in (False, True)]
            for width, height, n, kiosk in cases:
                floor(n)
                page = await browser.new_page(viewport={"width": width, "height": height})
                await page.goto(f"{base}/{'?kiosk' if kiosk else ''}")
                await page.wait_for_function(
                    f"document.querySelectorAll('.tile:not(.stale)').length === {n} && "
                    f"[...document.querySelectorAll('.tile .setval')].every(e => e.textContent !== '—') && "
                    f"[...document.querySelectorAll('.tile .alert')].every(e => e.textContent.length > 0)")
                await page.wait_for_timeout(300)
                where = f"{width}x{height}, {n} stations{' (kiosk)' if kiosk else ''}"
                problems = await page.evaluate(CHECK, [".tile", WALL_MIN_PX])
                assert not problems, f"{where}: {len(problems)} problems, e.g. {problems[:5]}"
                # every field is there in full on every tile
                texts = await page.locator(".tile").evaluate_all("ts => ts.map(t => t.innerText)")
                for (station, athlete), text in zip(stations, texts, strict=True):
                    for part in (station, athlete, "187", "target 80–120 ms", "Align", "25%", "Transfer", "63%",
                                 "Bar", "1.23 m/s", ALERT):
                        assert part in text.replace("\n", " "), f"{where}: {part!r} missing on {station}: {text!r}"
                font = float(await page.locator("#grid").get_attribute("data-font-px") or 0)
                lag_px = await page.locator(".tile .num").first.evaluate(
                    "e => parseFloat(getComputedStyle(e).fontSize)")
                results[(width, height, n, kiosk)] = font
                assert lag_px >= 2 * font
                await page.close()
            await browser.close()
    finally:
        feeder.cancel()
        await asyncio.gather(feeder, return_exceptions=True)
    print("wall base font px:", {f"{w}x{h}/{n}{'k' if k else ''}": v for (w, h, n, k), v in results.items()})
    # the base size (smallest text; station and lag are larger) per count, as stated in docs/console.md
    floor_px = {8: 26, 16: 20, 32: 16, 64: 12}
    for (width, _, n, kiosk), px in results.items():
        if width == 1920:
            assert px >= floor_px[n], f"{n} stations{' (kiosk)' if kiosk else ''}: base text only {px}px"
    assert results[(1600, 900, 8, False)] >= 24


async def test_station_view_fits_tablets_and_banner_leaves_the_name_alone() -> None:
    _need_browser()
    assert async_playwright is not None
    athlete = "Maximilian Oberhuber-Kowalczyk"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for width, height in ((800, 1280), (1280, 800), (768, 1024), (1024, 768)):
            state = LiveState()
            state.update(WindowMetric(station="station-01", athlete=athlete, session="7", window_start_ns=T0,
                                      window_end_ns=T0 + 1))
            app = create_app(state)
            app.state.cues.publish(rep("station-01", athlete, 0, 245.0))  # late by 125 ms
            where = f"station view {width}x{height}"
            page = await browser.new_page(viewport={"width": width, "height": height})
            async with serve(app) as base:
                await page.goto(f"{base}/station/station-01")
                await page.wait_for_function("document.body.dataset.connected === 'yes'", timeout=10_000)
                await page.wait_for_function(f"document.getElementById('athlete').textContent === {athlete!r}")
                await page.wait_for_function("document.getElementById('verdict').textContent === 'late by 125 ms'")
                await page.wait_for_timeout(300)
                problems = await page.evaluate(CHECK, ["body", MIN_FONT_PX])
                assert not problems, f"{where}: {problems[:5]}"
                verdict_px = await page.locator("#verdict").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
                assert verdict_px >= 60, f"{where}: verdict only {verdict_px}px"
            # the server is gone: the banner shows, and neither covers the name nor clips anything
            await page.wait_for_selector("#conn.show", timeout=10_000)
            await page.wait_for_timeout(300)
            banner = await page.locator("#conn").bounding_box()
            name = await page.locator("#athlete").bounding_box()
            assert banner and name
            apart = (banner["y"] >= name["y"] + name["height"] or name["y"] >= banner["y"] + banner["height"]
                     or banner["x"] >= name["x"] + name["width"] or name["x"] >= banner["x"] + banner["width"])
            assert apart, f"{where}: banner {banner} over the name {name}"
            problems = await page.evaluate(CHECK, ["body", MIN_FONT_PX])
            assert not problems, f"{where} while reconnecting: {problems[:5]}"
            await page.close()
        await browser.close()
