"""Size, rate and time limits of the API and the gateway's ingest, over real HTTP (uvicorn on loopback).

Each test starts the real app under uvicorn with the options the services use (``uvicorn_options``)
and small limits, provokes the limit, and checks that ordinary use right beside it still works.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
import websockets
from fastapi import FastAPI

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens
from kinesync.api.limits import HttpLimits, TokenBuckets, uvicorn_options
from kinesync.bus.memory import MemoryBus
from kinesync.codec.frame import Frame, SensorKind, encode
from kinesync.facility.registry import Registry
from kinesync.gateway.publisher import BufferLimits, Publisher
from kinesync.ingest import TokenStore, create_gateway_app
from kinesync.runtime.ports import free_port
from kinesync.settings import Settings

ADMIN, VIEWER = "admin-token-for-limits", "viewer-token-for-limits"


@contextlib.asynccontextmanager
async def serve(app: FastAPI, settings: Settings, ws_max_message_bytes: int = 64 * 1024) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off",
                            **uvicorn_options(settings, ws_max_message_bytes))
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


def api_app(tmp_path: Path, settings: Settings) -> FastAPI:
    tokens = ApiTokens.from_settings(Settings(api_admin_token=ADMIN, api_viewer_token=VIEWER))
    app = create_app(LiveState(), tokens=tokens, limits=HttpLimits.for_api(settings))
    app.state.registry = Registry(tmp_path / "registry.db")

    @app.get("/test/slow")
    async def slow(seconds: float = 5.0) -> dict[str, str]:  # a handler stuck on a dependency
        await asyncio.sleep(seconds)
        return {"status": "finally"}

    return app


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_api_body_size_limit(tmp_path: Path) -> None:
    s = Settings(api_max_body_kb=1)
    async with serve(api_app(tmp_path, s), s) as addr, httpx.AsyncClient(base_url=f"http://{addr}") as c:
        ok = await c.post("/api/v1/teams", json={"name": "U18 sprint"}, headers=bearer(ADMIN))
        assert ok.status_code == 201, ok.text
        big = await c.post("/api/v1/teams", json={"name": "x" * 2000}, headers=bearer(ADMIN))
        assert big.status_code == 413 and "at most 1024" in big.json()["detail"]

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
            yield b'{"name": "'
            for _ in range(40):
                yield b"y" * 100
            yield b'"}'

        chunked = await c.post("/api/v1/teams", content=chunks(), headers={**bearer(ADMIN), "content-type":
                                                                           "application/json"})
        assert chunked.status_code == 413 and "at most 1024" in chunked.json()["detail"]
        teams = await c.get("/api/v1/teams", headers=bearer(VIEWER))
        assert [t["name"] for t in teams.json()["items"]] == ["U18 sprint"]


async def test_api_rate_limit_per_token_and_address(tmp_path: Path) -> None:
    s = Settings(api_rate_per_s=2.0, api_rate_burst=5)
    async with serve(api_app(tmp_path, s), s) as addr, httpx.AsyncClient(base_url=f"http://{addr}") as c:
        statuses = [(await c.get("/api/stations", headers=bearer(VIEWER))).status_code for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        limited = await c.get("/api/stations", headers=bearer(VIEWER))
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        assert "2 requests/s" in limited.json()["detail"]
        # Another valid token has its own bucket; made-up tokens share the address's bucket.
        assert (await c.get("/api/stations", headers=bearer(ADMIN))).status_code == 200
        made_up = [(await c.get("/api/stations", headers=bearer(f"guess-{i}"))).status_code for i in range(6)]
        assert made_up == [401] * 5 + [429]
        await asyncio.sleep(0.6)  # 2 tokens per second: one request is allowed again
        assert (await c.get("/api/stations", headers=bearer(VIEWER))).status_code == 200


async def test_api_request_timeout_and_concurrency_cap(tmp_path: Path) -> None:
    s = Settings(api_request_timeout_s=0.5)
    async with serve(api_app(tmp_path, s), s) as addr, httpx.AsyncClient(base_url=f"http://{addr}") as c:
        t0 = time.monotonic()
        r = await c.get("/test/slow", params={"seconds": 5})
        assert r.status_code == 504 and "longer than 0.5 s" in r.json()["detail"]
        assert time.monotonic() - t0 < 3
        assert (await c.get("/test/slow", params={"seconds": 0.05})).json() == {"status": "finally"}

    # Above the concurrency cap (open connections count) the server answers 503 at once.
    s = Settings(http_max_concurrency=2)
    async with serve(api_app(tmp_path, s), s) as addr:
        async with httpx.AsyncClient(base_url=f"http://{addr}") as busy:
            slow = asyncio.create_task(busy.get("/test/slow", params={"seconds": 0.5}))
            await asyncio.sleep(0.2)
            async with httpx.AsyncClient(base_url=f"http://{addr}") as c:
                assert (await c.get("/health")).status_code == 503
            assert (await slow).status_code == 200
        async with httpx.AsyncClient(base_url=f"http://{addr}") as c:
            assert (await c.get("/health")).status_code == 200


async def test_idle_keep_alive_connections_are_closed(tmp_path: Path) -> None:
    s = Settings(http_keep_alive_s=0.3)
    async with serve(api_app(tmp_path, s), s) as addr:
        host, port = addr.split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        t0 = time.monotonic()
        await asyncio.wait_for(reader.read(), 5)  # returns at EOF, when the server closed the connection
        assert reader.at_eof() and time.monotonic() - t0 < 3
        writer.close()


async def test_wall_websocket_message_size_limit(tmp_path: Path) -> None:
    s = Settings(api_ws_max_message_kb=1)
    async with serve(api_app(tmp_path, s), s, 1024) as addr:
        async with websockets.connect(f"ws://{addr}/ws/stations?token={VIEWER}") as ws:
            assert await ws.recv() == "[]"  # the normal push
            await ws.send("x" * 2000)
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == 1009 and "at most 1024" in closed.value.rcvd.reason


# ingest


def frame(seq: int) -> Frame:
    return Frame("rack-1", "trigno-1", SensorKind.EMG, ("quad",), ("V",), 2000.0, 1_800_000_000_000_000_000 + seq,
                 seq, np.ones((1, 100), dtype=np.float32))


def ingest_app(settings: Settings) -> tuple[FastAPI, str, Publisher]:
    store = TokenStore()
    token = store.add("trigno-1", ["rack-1"])
    publisher = Publisher(MemoryBus(), limits=BufferLimits(max_frames=1000))
    app = create_gateway_app(publisher, store, max_body_bytes=settings.gateway_max_body_kb * 1024,
                             limits=HttpLimits.for_gateway(settings))
    return app, token, publisher


async def test_ingest_rate_and_size_limits_are_counted(tmp_path: Path) -> None:
    s = Settings(gateway_rate_per_s=1.0, gateway_rate_burst=3, gateway_max_body_kb=4)
    app, token, publisher = ingest_app(s)
    headers = {**bearer(token), "content-type": "application/octet-stream"}
    async with serve(app, s, 4096) as addr, httpx.AsyncClient(base_url=f"http://{addr}") as c:
        codes = [(await c.post("/v1/frames", content=encode(frame(i)), headers=headers)).status_code for i in range(4)]
        assert codes == [202, 202, 202, 429]
        big = await c.post("/v1/frames", content=b"\0" * 5000, headers={"content-type": "application/octet-stream"})
        assert big.status_code == 413 and "at most 4096" in big.json()["detail"]
        health = (await c.get("/health")).json()
    assert health["rejected"] == {"rate_limited": 1, "too_large": 1}
    assert publisher.stats.frames_in == 3


async def test_ingest_websocket_idle_timeout_and_frame_size_limit(tmp_path: Path) -> None:
    s = Settings(gateway_ws_idle_s=0.5, gateway_max_body_kb=4)
    app, token, publisher = ingest_app(s)
    async with serve(app, s, 4096) as addr:
        url = f"ws://{addr}/v1/stream"
        async with websockets.connect(url, additional_headers=bearer(token)) as ws:
            for seq in range(3):  # a device that keeps sending is never idle
                await asyncio.sleep(0.3 if seq else 0.0)
                await ws.send(encode(frame(seq)))
                assert '"status":202' in (await ws.recv()).replace(" ", "")
            t0 = time.monotonic()
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == 1001 and "idle" in closed.value.rcvd.reason
            assert 0.3 < time.monotonic() - t0 < 2.0
        async with websockets.connect(url, additional_headers=bearer(token), max_size=None) as ws:
            await ws.send(b"\0" * 5000)  # a little too large: answered, socket kept
            assert '"status":413' in (await ws.recv()).replace(" ", "")
            await ws.send(b"\0" * 200_000)  # far too large: the server refuses to buffer it
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == 1009
    assert publisher.stats.frames_in == 3
    assert publisher.stats.rejected["ws_idle"] == 1


def test_token_buckets_refill_at_the_rate() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate_per_s=4.0, burst=2, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.25)
    assert buckets.take("b") == 0.0  # keys are independent
    now[0] = 0.25
    assert buckets.take("a") == 0.0  # one token back after 1/rate


def test_services_get_the_configured_server_limits() -> None:
    s = Settings(http_keep_alive_s=7, http_max_concurrency=11, http_ws_ping_s=9)
    options = uvicorn_options(s, 1024)
    config = uvicorn.Config(FastAPI(), **options)
    assert (config.timeout_keep_alive, config.limit_concurrency, config.ws_ping_interval, config.ws_ping_timeout) == (
        7, 11, 9, 9)
    assert config.ws_max_size == 1024 + 64 * 1024
