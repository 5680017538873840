"""InfluxV1Store's HTTP behaviour against a mock transport; the real server is in tests/integration."""

from __future__ import annotations

import gzip
import logging
from collections.abc import Callable

import httpx
import pytest

from kinesync.storage import StorageRejected, StorageUnavailable
from kinesync.storage.influx_v1 import InfluxV1Store
from tests.unit.test_storage_sqlite import make_metrics

Handler = Callable[[httpx.Request], httpx.Response]


def store_with(handler: Handler, **kwargs: object) -> InfluxV1Store:
    return InfluxV1Store("http://influx.test:8086", "kdb", transport=httpx.MockTransport(handler), **kwargs)


async def test_write_is_chunked_and_gzipped() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(204)

    store = store_with(handler, retention_policy="autogen")
    metrics = make_metrics(3, 4000)  # 12 000 lines
    await store.write(metrics)
    await store.close()

    assert len(requests) == 3
    total = 0
    for r in requests:
        assert r.method == "POST" and r.url.path == "/write"
        assert dict(r.url.params) == {"db": "kdb", "precision": "ns", "rp": "autogen"}
        assert r.headers["content-encoding"] == "gzip"
        lines = gzip.decompress(r.content).decode().splitlines()
        assert 0 < len(lines) <= 5000
        total += len(lines)
    assert total == 12_000


async def test_batch_size_is_capped_at_5000() -> None:
    assert InfluxV1Store("http://x", "d", batch_lines=50_000).batch_lines == 5000
    assert InfluxV1Store("http://x", "d", batch_lines=100).batch_lines == 100


@pytest.mark.parametrize("status", [500, 502, 503, 429, 408])
async def test_server_trouble_is_unavailable(status: int) -> None:
    store = store_with(lambda r: httpx.Response(status, json={"error": "overloaded"}))
    with pytest.raises(StorageUnavailable, match="overloaded"):
        await store.write(make_metrics(1, 2))


@pytest.mark.parametrize(
    "exc", [httpx.ConnectError("refused"), httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("eof")]
)
async def test_transport_errors_are_unavailable(exc: Exception) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    with pytest.raises(StorageUnavailable):
        await store_with(handler).write(make_metrics(1, 2))


async def test_bad_data_is_rejected_with_influx_message() -> None:
    message = 'partial write: field type conflict: input field "lag_ms" is type integer, already float'
    store = store_with(lambda r: httpx.Response(400, json={"error": message}))
    with pytest.raises(StorageRejected, match="field type conflict") as info:
        await store.write(make_metrics(1, 2))
    assert isinstance(info.value, ValueError)
    assert not isinstance(info.value, StorageUnavailable)


async def test_credentials_go_in_header_never_in_url_or_logs(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/query":
            return httpx.Response(200, json={"results": [{"statement_id": 0}]})
        return httpx.Response(204)

    caplog.set_level(logging.DEBUG)
    store = InfluxV1Store(
        "http://admin:s3cr3t-url@influx.test:8086/",
        "kdb",
        transport=httpx.MockTransport(handler),
    )
    await store.start()
    await store.write(make_metrics(1, 1))
    await store.close()
    assert store.url == "http://influx.test:8086"
    for r in seen:
        assert "s3cr3t" not in str(r.url)
        assert r.headers["authorization"] == httpx.BasicAuth("admin", "s3cr3t-url")._auth_header
    assert "s3cr3t" not in caplog.text
    assert "s3cr3t" not in repr(store)


async def test_start_creates_database_and_query_reports_errors() -> None:
    bodies: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if b"CREATE" in request.content:
            return httpx.Response(200, json={"results": [{"statement_id": 0}]})
        return httpx.Response(200, json={"results": [{"statement_id": 0, "error": "database not found: kdb"}]})

    store = store_with(handler)
    await store.start()
    assert b"q=CREATE+DATABASE+%22kdb%22" in bodies[0]
    with pytest.raises(StorageRejected, match="database not found"):
        await store.query("SELECT * FROM window_metrics")


async def test_start_survives_missing_admin_rights() -> None:
    store = store_with(lambda r: httpx.Response(403, json={"error": "requires admin privilege"}))
    await store.start()  # logs, does not raise: the database may exist already
