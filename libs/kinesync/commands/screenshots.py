"""``kinesync screenshots``: the coach console's screenshots for docs/console.md, from a live run.

Starts the whole system in this process on an embedded broker (``kinesync.runtime.live_pipeline``:
simulated athletes in real time, analyzer, writer, alerts, the API with the console; every file in a
temporary folder, nothing on the network beyond 127.0.0.1), fills the registry through the REST API
(teams, athletes, stations, plans, a target window, an alert subscription to a local receiver),
starts a session on every station, lets them run, then signs in to the console in headless
Chromium (Playwright) and saves one PNG per page and screen size: ``<page>-<size>.png``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinesync.runtime.browser import browser_missing

DEFAULT_OUT = Path("docs/img/console")
SIZES: dict[str, dict[str, Any]] = {
    # Viewport screenshots at device scale 1 keep the PNGs small enough to commit.
    "laptop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 360, "height": 740}, "is_mobile": True, "has_touch": True},
}
PAGES = ("floor", "athletes", "athlete", "session", "teams", "stations", "plans", "alerts")
# Pages whose point is below their forms: the screen is scrolled to this heading first (not with --full-page).
FOCUS = {"athlete": "main h2:text-is('Sessions')", "alerts": "main h2:text-is(\"Each athlete's latest alert\")"}
MAX_STATIONS = 8
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]

# Made-up people; the first one's stopped session is the session page's.
ATHLETES = (("Maya Okafor", 0), ("Jonas Lindqvist", 0), ("Priya Raman", 0), ("Tomás Herrera", 1),
            ("Lena Fischer", 0), ("Kwame Mensah", 1), ("Sofia Rossi", 0), ("Aiko Tanaka", 1))
TEAMS = ("First team", "Academy")
PLANS = (
    ("Priming + strength", [
        {"kind": "priming", "exercise": "back_squat", "sets": 1, "reps_per_set": 2, "rest_s": 60, "load_kg": 60},
        {"kind": "working", "exercise": "back_squat", "sets": 3, "reps_per_set": 3, "rest_s": 90, "load_kg": 100},
    ]),
    ("Strength 3×5", [
        {"kind": "working", "exercise": "back_squat", "sets": 3, "reps_per_set": 5, "rest_s": 120, "load_kg": 90},
    ]),
)


def positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 5.0 <= value <= 600.0:
        raise argparse.ArgumentTypeError("between 5 and 600 seconds")
    return value


def station_count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not 1 <= value <= MAX_STATIONS:
        raise argparse.ArgumentTypeError(f"between 1 and {MAX_STATIONS}")
    return value


def _choices(text: str, allowed: dict[str, Any] | tuple[str, ...], what: str) -> list[str]:
    """The comma-separated names of ``text``, each one of ``allowed``, in order, once."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in names if s not in allowed]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"comma-separated {what} out of {', '.join(allowed)}"
                                         + (f" (unknown: {', '.join(unknown)})" if unknown else ""))
    return list(dict.fromkeys(names))


def size_list(text: str) -> list[str]:
    return _choices(text, SIZES, "sizes")


def page_list(text: str) -> list[str]:
    return _choices(text, PAGES, "pages")


@dataclass
class Seeded:
    athletes: list[dict[str, Any]]
    sessions: dict[str, dict[str, Any]]  # by station


async def _seed(p: Any) -> Seeded:
    teams = [await p.rest("POST", "/api/v1/teams", {"name": name}) for name in TEAMS]
    athletes = [await p.rest("POST", "/api/v1/athletes", {"name": name, "team_id": teams[t]["id"]})
                for name, t in ATHLETES]
    for i, station in enumerate(p.station_ids(), 1):
        await p.rest("POST", "/api/v1/stations", {"id": station, "label": f"Rack {i}", "bar_sensor": True})
    plans = [await p.rest("POST", "/api/v1/plans", {"name": name, "plan": {"blocks": blocks}})
             for name, blocks in PLANS]
    # one athlete with a window of their own
    await p.rest("PUT", f"/api/v1/athletes/{athletes[0]['id']}/targets/back_squat", {"low_ms": 55, "high_ms": 95})
    await p.rest("POST", "/api/alerts/subscriptions",
                 {"url": p.webhook_url, "name": "Coaches' channel (local receiver)"})
    sessions = {}
    for i, station in enumerate(p.station_ids()):
        body = {"station_id": station, "athlete_id": athletes[i]["id"], "exercise": "back_squat",
                "plan_id": plans[i % 2]["id"] if i % 3 != 2 else None}
        sessions[station] = await p.rest("POST", "/api/v1/sessions", body)
    return Seeded(athletes, sessions)


async def _sign_in(page: Any, base: str, token: str) -> None:
    await page.goto(f"{base}/console/login")
    await page.fill("#token", token)
    await page.click("button[type=submit].primary")
    await page.wait_for_url("**/console/floor")


async def _shoot(page: Any, out: Path, name: str, size: str, full_page: bool) -> Path:
    path = out / f"{name}-{size}.png"
    focus = page.locator(FOCUS[name]).first if name in FOCUS and not full_page else None
    if focus is not None and await focus.count():
        await focus.evaluate("e => window.scrollTo(0, e.getBoundingClientRect().top + window.scrollY - 16)")
    else:
        await page.evaluate("window.scrollTo(0, 0)")
    await page.screenshot(path=str(path), full_page=full_page, animations="disabled", caret="hide")
    return path


async def make_screenshots(args: argparse.Namespace, chromium: str) -> list[Path]:
    from playwright.async_api import async_playwright

    from kinesync.runtime.live_pipeline import LivePipeline

    out = Path(args.out)
    written: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="kinesync-screenshots-") as tmp:
        async with LivePipeline(Path(tmp), stations=args.stations, seed=args.seed, title="KineSync",
                                webhook_receiver=True) as p:
            print(f"pipeline up on {p.base} with {args.stations} simulated stations")
            seeded = await _seed(p)
            first = p.station_ids()[0]
            print(f"sessions started; letting them run {args.warm:g} s ...")
            await asyncio.sleep(args.warm)
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
                pages: dict[str, Any] = {}
                for size in args.sizes:
                    context = await browser.new_context(**SIZES[size], color_scheme="light")
                    pages[size] = await context.new_page()
                    await _sign_in(pages[size], p.base, p.admin_token)
                # the floor while every session runs: wait for each card's lag
                if "floor" in args.pages:
                    for size, page in pages.items():
                        await page.goto(f"{p.base}/console/floor")
                        await page.wait_for_function(
                            "n => [...document.querySelectorAll('.card .live dd.lag')]"
                            ".filter(e => /\\d+ ms/.test(e.textContent)).length >= n",
                            arg=len(seeded.sessions), timeout=30_000)
                        written.append(await _shoot(page, out, "floor", size, args.full_page))
                # the first athlete's session, stopped: their athlete and session pages
                session = seeded.sessions[first]
                await p.rest("POST", f"/api/v1/sessions/{session['id']}/stop")
                await asyncio.sleep(1.0)  # the writer's last batch
                athlete = seeded.athletes[0]["id"]
                c = f"{p.base}/console"
                urls = {"athletes": f"{c}/athletes", "athlete": f"{c}/athletes/{athlete}",
                        "session": f"{c}/athletes/{athlete}/sessions/{session['id']}", "teams": f"{c}/teams",
                        "stations": f"{c}/stations", "plans": f"{c}/plans", "alerts": f"{c}/alerts"}
                for size, page in pages.items():
                    for name in args.pages:
                        if name == "floor":
                            continue
                        await page.goto(urls[name])
                        await page.wait_for_load_state("networkidle")
                        written.append(await _shoot(page, out, name, size, args.full_page))
                await browser.close()
    return written


def cmd_screenshots(args: argparse.Namespace) -> int:
    chromium, missing = browser_missing(args.chromium)
    if missing:
        print("kinesync screenshots needs " + " and ".join(missing) + ".", file=sys.stderr)
        return 2
    assert chromium is not None
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:
        # alerts firing, consumer rebalances: the run's own chatter, not the command's result
        for name in ("kinesync", "aiokafka", "uvicorn"):
            logging.getLogger(name).setLevel(logging.ERROR)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    written = asyncio.run(make_screenshots(args, chromium))
    for path in written:
        print(f"  {path} ({path.stat().st_size // 1024} kB)")
    print(f"{len(written)} screenshots in {args.out} ({time.monotonic() - started:.0f} s)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    shots = sub.add_parser(
        "screenshots", help="make the coach console's screenshots for docs/console.md from a live simulated run",
        description="Start the whole system in this process on an embedded broker with simulated athletes "
        "(nothing leaves 127.0.0.1; every file goes to a temporary folder), register teams, athletes, stations, "
        "plans and an alert subscription, start a session on every station, let them run, then sign in to the "
        "console in headless Chromium and save one PNG per page and screen size as OUT/<page>-<size>.png. "
        "Needs the Python package playwright and a Chromium (Debian: apt-get install chromium). "
        f"Pages: {', '.join(PAGES)}. Sizes: laptop (1280×800), phone (360×740, touch).",
        epilog="Example: kinesync screenshots --out docs/img/console (what `make screenshots` runs; about a "
        "minute). Run it from the repository root after changing a console page, and commit the PNGs.",
    )
    shots.add_argument("--out", type=Path, default=DEFAULT_OUT,
                       help="folder for the PNG files, created if missing (default: %(default)s)")
    shots.add_argument("--stations", type=station_count, default=4,
                       help=f"simulated stations, each with a running session, 1-{MAX_STATIONS} "
                       "(default: %(default)s)")
    shots.add_argument("--warm", type=positive_seconds, default=30.0,
                       help="seconds the sessions run (in real time) before the first screenshot, 5-600 "
                       "(default: %(default)s)")
    shots.add_argument("--sizes", type=size_list, default=",".join(SIZES), metavar="SIZE[,SIZE]",
                       help=f"screen sizes, comma-separated, out of {', '.join(SIZES)} (default: all)")
    shots.add_argument("--pages", type=page_list, default=",".join(PAGES), metavar="PAGE[,PAGE...]",
                       help="pages, comma-separated, out of those above (default: all)")
    shots.add_argument("--full-page", action="store_true", help="the whole scrolled page instead of the screen")
    shots.add_argument("--seed", type=int, default=7, help="seed of the simulated athletes (default: %(default)s)")
    shots.add_argument("--chromium", default=None,
                       help="Chromium executable (default: KINESYNC_CHROMIUM, else chromium on the PATH)")
    shots.add_argument("--verbose", action="store_true", help="show the pipeline's warnings (alerts firing, ...)")
    shots.set_defaults(func=cmd_screenshots)
