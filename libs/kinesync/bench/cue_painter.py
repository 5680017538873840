"""The last hop of the cue path: rep end → cue painted on a station view in headless Chromium.

During a pipeline run the API service runs as its own process (as deployed, ``python -m
kinesync_services.api``: it follows ``kinesync.reps`` and pushes each rep's cue to the station views
over WebSockets), and headless Chromium opens the station view of up to ``MAX_VIEWS`` stations. Each
view records, for every live cue, the wall-clock time of the next animation frame after the cue
changed the page (``window.__cues``: ``shown_ms``, and ``received_ms`` when its WebSocket message
came); latency = that time − the rep's window end, the same origin as the bench's rep end → metric
figure. Same machine, same clock.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from kinesync.runtime.browser import browser_missing as find_browser
from kinesync.runtime.browser import find_chromium
from kinesync.runtime.ports import free_port
from kinesync.runtime.process import child_preexec, settings_env
from kinesync.runtime.supervisor import service_command
from kinesync.settings import Settings

CHROMIUM = find_chromium() or "chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
# Views opened at most: each is a renderer process, and they share the machine with the pipeline.
MAX_VIEWS = 16
VIEWER_TOKEN = "bench-viewer"  # a throw-away token for the bench's own API process


def browser_missing() -> str | None:
    """Why the painter cannot run here (None: it can)."""
    _, missing = find_browser(CHROMIUM)
    return ("needs " + " and ".join(missing)) if missing else None


def api_settings(settings: Settings, workdir: str) -> Settings:
    """The API process's settings: the run's broker, its own port, registry and viewer token."""
    return settings.model_copy(update={
        "api_host": "127.0.0.1", "api_port": free_port(), "api_viewer_token": SecretStr(VIEWER_TOKEN),
        "registry_db": f"{workdir}/bench-registry.db", "alerts_db": f"{workdir}/bench-alerts.db",
    })


async def start_api(settings: Settings, log_path: Path) -> asyncio.subprocess.Process:
    """The API service as its own process, its errors in ``log_path``; it ends with this process."""
    env = {**os.environ, **settings_env(settings), "KINESYNC_LOG_LEVEL": "ERROR"}
    log = await asyncio.to_thread(log_path.open, "ab")
    with log:  # the child has its own copy of the descriptor
        return await asyncio.create_subprocess_exec(
            *service_command("api"), env=env, stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=child_preexec,
        )


async def stop_api(proc: asyncio.subprocess.Process, timeout_s: float = 10.0) -> None:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(proc.wait(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()


async def wait_healthy(port: int, proc: asyncio.subprocess.Process, log_path: Path, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=2.0) as client:
        while time.monotonic() < deadline:
            if proc.returncode is not None:
                raise RuntimeError(f"the bench API exited with code {proc.returncode}; see {log_path}")
            try:
                if (await client.get("/health")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError(f"the bench API did not answer on port {port} within {timeout_s:g} s; see {log_path}")


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
        for name in self.stations:
            # A context of its own per view, as each view is a tablet of its own: pages of one context
            # share renderer processes, and there a cue waited up to a second for its animation frame
            # behind the other views' (p99 1.1 s at 16 stations, 2026-12-05; under 50 ms apart).
            context = await self._browser.new_context(viewport={"width": 800, "height": 600})
            page = await context.new_page()
            await page.goto(f"{self.base}/station/{name}?kiosk&token={VIEWER_TOKEN}")
            self.pages[name] = page
        for page in self.pages.values():
            await page.wait_for_function("document.body.dataset.connected === 'yes'", timeout=30_000)

    async def painted(self) -> dict[str, tuple[float, float]]:
        """Per cue id (``station|rep_peak_ns``), the wall-clock times the view received it and painted it, ms."""
        out: dict[str, tuple[float, float]] = {}
        for page in self.pages.values():
            for cue in await page.evaluate("window.__cues"):
                out.setdefault(cue["id"], (float(cue["received_ms"]), float(cue["shown_ms"])))
        return out

    async def close(self) -> None:
        if self._browser is not None:
            await self._browser.close()
        if self._pw is not None:
            await self._pw.stop()
