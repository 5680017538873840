"""The last hop of the cue path: rep end → cue painted on a station view in headless Chromium.

During a pipeline run the API service runs in its own process (as deployed: it follows
``kinesync.reps`` and pushes each rep's cue to the station views over WebSockets), and headless
Chromium opens the station view of up to ``MAX_VIEWS`` stations. Each view records, for every live
cue, the wall-clock time of the next animation frame after the cue changed the page
(``window.__cues``: ``shown_ms``); latency = that time − the rep's window end, the same origin as
the bench's rep end → metric figure. Same machine, same clock.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from typing import Any

import httpx
from pydantic import SecretStr

from kinesync.runtime.ports import free_port
from kinesync.settings import Settings

CHROMIUM = os.environ.get("KINESYNC_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
# Views opened at most: each is a renderer process, and they share the machine with the pipeline.
MAX_VIEWS = 16
VIEWER_TOKEN = "bench-viewer"  # a throw-away token for the bench's own API process


def browser_missing() -> str | None:
    """Why the painter cannot run here (None: it can)."""
    missing = []
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        missing.append("the Python package playwright (pip install playwright)")
    if not shutil.which(CHROMIUM):
        missing.append(f"{CHROMIUM} (apt-get install chromium, or set KINESYNC_CHROMIUM)")
    return ("needs " + " and ".join(missing)) if missing else None


def api_settings(settings: Settings, workdir: str) -> dict[str, Any]:
    """The API process's settings: the run's broker, its own port, registry and viewer token."""
    return settings.model_copy(update={
        "api_host": "127.0.0.1", "api_port": free_port(), "api_viewer_token": SecretStr(VIEWER_TOKEN),
        "registry_db": f"{workdir}/bench-registry.db", "alerts_db": f"{workdir}/bench-alerts.db",
    }).model_dump(mode="python")


def api_child(settings: dict[str, Any], stop_flag: Any, queue: Any) -> None:
    """The API service, in a process of its own, until ``stop_flag`` is set."""
    import logging

    from kinesync_services.api.main import main

    logging.basicConfig(level=logging.WARNING)
    for name in ("kinesync", "aiokafka", "uvicorn"):
        logging.getLogger(name).setLevel(logging.ERROR)

    async def run() -> None:
        stop = asyncio.Event()

        async def watch() -> None:
            while not stop_flag.is_set():  # noqa: ASYNC110 - a multiprocessing event cannot be awaited
                await asyncio.sleep(0.05)
            stop.set()

        watcher = asyncio.create_task(watch())
        await main(Settings(**settings), stop)
        await watcher

    try:
        asyncio.run(run())
        queue.put(("ok", None))
    except BaseException as exc:
        queue.put(("error", f"api: {type(exc).__name__}: {exc}"))


async def wait_healthy(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2.0) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the bench API did not answer on port {port} within {timeout_s:g} s")


class Painter:
    """Headless Chromium with one station view per station, connected before the reps start."""

    def __init__(self, port: int, stations: list[str]) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.stations = stations
        self._pw: Any = None
        self._browser: Any = None
        self.pages: dict[str, Any] = {}

    async def open(self) -> None:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        self._browser = await self._pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await self._browser.new_context(viewport={"width": 800, "height": 600})
        for name in self.stations:
            page = await context.new_page()
            await page.goto(f"{self.base}/station/{name}?kiosk&token={VIEWER_TOKEN}")
            self.pages[name] = page
        for page in self.pages.values():
            await page.wait_for_function("document.body.dataset.connected === 'yes'", timeout=30_000)

    async def painted(self) -> dict[str, float]:
        """Per cue id (``station|rep_peak_ns``), the wall-clock time it was painted, ms."""
        out: dict[str, float] = {}
        for page in self.pages.values():
            for cue in await page.evaluate("window.__cues"):
                out.setdefault(cue["id"], float(cue["shown_ms"]))
        return out

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._pw is not None:
            await self._pw.stop()
