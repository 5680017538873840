"""The whole system in one process on an embedded broker: for ``kinesync screenshots`` and browser tests.

Embedded broker (memory), the simulated gateway in real time, the analyzer, the writer (SQLite), the
alerts service and the API with the console — wired as the services wire themselves (the API with
its own lifespan, as ``services/api`` serves it), but as tasks of one event loop, with every file
(SQLite metrics, registry, alerts) in one working folder, fresh consumer groups, and the API on a
free loopback port. Nothing here listens beyond 127.0.0.1. The settings that decide where things go
(broker, files, InfluxDB off, ports, tokens, Grafana off, the simulator) are passed explicitly; the
rest (target window, analysis) come from ``KINESYNC_*`` as for the services.

::

    async with LivePipeline(workdir, stations=2) as p:
        p.base        # http://127.0.0.1:<port>
        await p.rest("POST", "/api/v1/athletes", {"name": "Ada"})   # admin bearer token
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from pydantic import SecretStr

from kinesync.runtime.broker import EmbeddedBroker
from kinesync.runtime.ports import free_port
from kinesync.settings import Settings

log = logging.getLogger("kinesync.live_pipeline")

JOIN_S = 1.0  # consumers join their groups before the gateway announces its sessions


class LivePipeline:
    """Start with ``async with``; everything stops (and the broker's data is gone) on exit."""

    def __init__(self, workdir: Path, *, stations: int = 2, admin_token: str | None = None,
                 viewer_token: str | None = None, seed: int = 7, title: str = "KineSync",
                 alerts: bool = True, webhook_receiver: bool = False,
                 sim_lags_ms: list[float] | None = None) -> None:
        self.workdir = Path(workdir)
        self.stations = stations
        self.sim_lags_ms = sim_lags_ms  # the simulated athletes' true lags, taken in turn (None: the default)
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.viewer_token = viewer_token or secrets.token_urlsafe(24)
        self.seed = seed
        self.title = title
        self.alerts = alerts
        self.webhook_receiver = webhook_receiver
        self.webhook_url: str | None = None  # a local receiver answering 204, when asked for
        self.webhook_calls = 0
        self.app: Any = None  # the FastAPI app, once started
        self.settings: Settings | None = None
        self.port = 0
        self._broker: EmbeddedBroker | None = None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[Any]] = []
        self._servers: list[Any] = []
        self._closers: list[Any] = []

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def station_ids(self) -> list[str]:
        return [f"station-{i:02d}" for i in range(1, self.stations + 1)]

    async def __aenter__(self) -> LivePipeline:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, et: type[BaseException] | None, e: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.close()

    async def start(self) -> None:
        # The service loops, imported here: a caller that only wants --help needs none of them.
        from kinesync.api import LiveState, create_app
        from kinesync.api.auth import ApiTokens
        from kinesync.api.limits import HttpLimits, uvicorn_options
        from kinesync.bus.kafka import KafkaBus
        from kinesync.gateway.runner import run_sim_gateway
        from kinesync.storage.base import open_store
        from kinesync.storage.runner import run_writer
        from kinesync.streaming.runner import run_analyzer

        await asyncio.to_thread(self.workdir.mkdir, parents=True, exist_ok=True)
        self._broker = await asyncio.to_thread(EmbeddedBroker(log_path=self.workdir / "broker.log").start)
        tag = uuid.uuid4().hex[:8]
        self.port = free_port()
        settings = self.settings = Settings(
            bootstrap_servers=self._broker.bootstrap, partitions=4,
            analyzer_group=f"analyzer-{tag}", writer_group=f"writer-{tag}", alerts_group=f"alerts-{tag}",
            sqlite_path=str(self.workdir / "kinesync.db"), influx_url=None,
            registry_db=str(self.workdir / "registry.db"), alerts_db=str(self.workdir / "alerts.db"),
            sim_stations=self.stations, sim_realtime=True, sim_seed=self.seed, sim_duration_s=None,
            api_host="127.0.0.1", api_port=self.port,
            api_admin_token=SecretStr(self.admin_token), api_viewer_token=SecretStr(self.viewer_token),
            api_admin_token_sha256=None, api_viewer_token_sha256=None, console_secret=None,
            alerts_grafana=False, grafana_token=None,
            **({"sim_lags_ms": self.sim_lags_ms} if self.sim_lags_ms is not None else {}),
        )
        bus = KafkaBus(settings)
        await bus.ensure_topics()
        stop = self._stop

        # writer: metrics and reps into SQLite (the API's rep store reads the same file)
        store = open_store(settings)
        await store.start()
        self._closers.append(store.close)
        self._tasks.append(asyncio.create_task(run_writer(bus, store, settings, stop), name="writer"))
        # analyzer
        self._tasks.append(asyncio.create_task(run_analyzer(bus, settings, stop), name="analyzer"))
        # alerts: rules over the metrics → outbox → webhooks (the console's alerts page lists them)
        if self.alerts:
            from kinesync.alerts.runner import run_alerts
            from kinesync.alerts.store import AlertStore

            alert_store = AlertStore(settings.alerts_db)
            self._closers.append(alert_store.close)
            self._tasks.append(asyncio.create_task(run_alerts(bus, alert_store, settings, stop), name="alerts"))
        if self.webhook_receiver:
            await self._start_receiver()

        # API, as services/api/main.py serves it: its lifespan opens the registry, the session publisher,
        # the rep store and the alerts database from the settings and runs its Kafka workers
        limits = HttpLimits.for_api(settings)
        self.app = create_app(LiveState(), title=self.title, tokens=ApiTokens.from_settings(settings), limits=limits,
                              settings=settings, bus=bus)
        await self._serve(self.app, self.port, lifespan="on",
                          **uvicorn_options(settings, limits.ws_max_message_bytes or 0))
        await asyncio.sleep(JOIN_S)
        self._tasks.append(asyncio.create_task(run_sim_gateway(bus, settings, stop), name="gateway"))

    async def _serve(self, app: Any, port: int, **options: Any) -> None:
        import uvicorn

        options.setdefault("lifespan", "off")
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", **options))
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the caller owns signals
        self._servers.append(server)
        self._tasks.append(asyncio.create_task(server.serve(), name=f"http-{port}"))
        for _ in range(200):
            if server.started:
                return
            failed = self._tasks[-1]
            if failed.done():
                failed.result()  # raises what stopped it
                raise RuntimeError(f"the HTTP server on 127.0.0.1:{port} stopped at start")
            await asyncio.sleep(0.05)
        raise TimeoutError(f"the HTTP server on 127.0.0.1:{port} did not start within 10 s")

    async def _start_receiver(self) -> None:
        """A webhook receiver on loopback that takes every POST with 204 (alerts show as delivered)."""

        async def receiver(scope: dict[str, Any], receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return
            more = True
            while more:
                more = (await receive()).get("more_body", False)
            self.webhook_calls += 1
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        port = free_port()
        self.webhook_url = f"http://127.0.0.1:{port}/kinesync-alerts"
        await self._serve(receiver, port)

    async def rest(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> Any:
        """One REST call with the admin token (or ``token``); the JSON answer, raising on an HTTP error."""
        async with httpx.AsyncClient(base_url=self.base, timeout=30.0) as client:
            r = await client.request(method, path, json=body,
                                     headers={"Authorization": f"Bearer {token or self.admin_token}"})
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {path}: HTTP {r.status_code} {r.text[:300]}")
        return r.json() if r.content else None

    async def stations_live(self) -> dict[str, dict[str, Any]]:
        """``GET /api/stations`` (the wall's data) by station id."""
        rows = await self.rest("GET", "/api/stations", token=self.viewer_token)
        return {r["station"]: r for r in rows}

    async def close(self) -> None:
        self._stop.set()
        for server in self._servers:
            server.should_exit = True
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=15.0)
            for t in pending:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    log.warning("%s ended with %r", t.get_name(), t.exception())
        self._tasks.clear()
        for close in reversed(self._closers):
            with contextlib.suppress(Exception):
                result = close()
                if asyncio.iscoroutine(result):
                    await result
        self._closers.clear()
        if self._broker is not None:
            await asyncio.to_thread(self._broker.stop)
            self._broker = None
