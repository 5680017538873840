"""InfluxV2Store against a real loopback HTTP server that answers like InfluxDB 2 (status codes, gzip)."""

from __future__ import annotations

import gzip
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from kinesync.models import WindowMetric
from kinesync.storage.base import StorageRejected, StorageUnavailable
from kinesync.storage.influx_v2 import InfluxV2Store
from kinesync.storage.lineprotocol import metric_to_line


class FakeInflux2(ThreadingHTTPServer):
    status = 204
    requests: list[dict]


class Handler(BaseHTTPRequestHandler):
    server: FakeInflux2

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(self.server.status)
        payload = b"" if self.server.status == 204 else json.dumps({"code": "x", "message": "nope"}).encode()
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[FakeInflux2]:
    srv = FakeInflux2(("127.0.0.1", 0), Handler)
    srv.requests = []
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()


def _url(srv: FakeInflux2) -> str:
    return f"http://127.0.0.1:{srv.server_address[1]}"


def _metrics(n: int) -> list[WindowMetric]:
    return [WindowMetric(station="s1", window_start_ns=i * 250_000_000, window_end_ns=i * 250_000_000 + 2_000_000_000,
                         lag_ms=90.0) for i in range(n)]


async def test_batches_are_gzip_with_token_bucket_org_and_ns_precision(server: FakeInflux2) -> None:
    metrics = _metrics(12)
    async with InfluxV2Store(_url(server), token="tok-123", org="club", bucket="floor", batch_lines=5) as store:
        await store.write(metrics)
    assert len(server.requests) == 3  # 5 + 5 + 2 lines
    req = server.requests[0]
    assert req["path"].startswith("/api/v2/write?")
    assert "org=club" in req["path"] and "bucket=floor" in req["path"] and "precision=ns" in req["path"]
    assert req["headers"]["Content-Encoding"] == "gzip"
    assert req["headers"]["Authorization"] == "Token tok-123"
    lines = b"\n".join(gzip.decompress(r["body"]) for r in server.requests).decode().splitlines()
    assert lines == [metric_to_line(m) for m in metrics]


@pytest.mark.parametrize(("status", "error"), [
    (500, StorageUnavailable), (503, StorageUnavailable), (429, StorageUnavailable),
    (400, StorageRejected), (401, StorageRejected), (404, StorageRejected), (422, StorageRejected),
])
async def test_status_codes_map_to_retry_or_reject(server: FakeInflux2, status: int, error: type) -> None:
    server.status = status
    async with InfluxV2Store(_url(server), token="t", org="o", bucket="b") as store:
        with pytest.raises(error) as info:
            await store.write(_metrics(1))
    if error is StorageRejected:
        assert info.value.status == status


def test_token_never_in_repr() -> None:
    store = InfluxV2Store("http://db:8086", token="s3cret-token", org="o", bucket="b")
    assert "s3cret" not in repr(store) and "s3cret" not in str(vars(store))
