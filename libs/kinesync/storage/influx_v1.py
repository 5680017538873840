"""InfluxDB 1.x over HTTP: ``/write`` for points, ``/query`` for InfluxQL.

Debian ships 1.6, whose server has no ``/api/v2`` endpoints, so this talks the 1.x API directly with
httpx instead of going through influxdb-client.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import Sequence
from typing import Any

import httpx
from pydantic import SecretStr

from kinesync.storage.base import StorageRejected, StorageUnavailable
from kinesync.storage.chunked import ChunkedLineStore

log = logging.getLogger(__name__)

MAX_BATCH_LINES = 5000
# Below this gzip takes well under a millisecond; above it, hand it to a thread.
_INLINE_GZIP_BYTES = 64 * 1024
# 408 and 429 are the server saying "not now", like a 5xx.
_RETRYABLE_4XX = frozenset({408, 429})


def _quote_ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _server_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:500] or response.reason_phrase
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return response.text.strip()[:500]


class InfluxV1Store(ChunkedLineStore):
    """MetricStore on an InfluxDB 1.x database (also InfluxDB 2/3 through their 1.x compatibility API)."""

    def __init__(
        self,
        url: str,
        database: str,
        retention_policy: str | None = None,
        username: str | None = None,
        password: str | SecretStr | None = None,
        *,
        token: str | SecretStr | None = None,
        batch_lines: int = MAX_BATCH_LINES,
        timeout_s: float = 10.0,
        gzip_level: int = 5,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        parsed = httpx.URL(url)
        # Credentials in the URL would be printed wherever the URL is (httpx logs request URLs at
        # INFO): move them to the Authorization header and keep a clean URL.
        if parsed.username and username is None:
            username = parsed.username
            password = parsed.password or password
        self.url = str(parsed.copy_with(username=None, password=None)).rstrip("/")
        self.database = database
        self.retention_policy = retention_policy or None
        self.batch_lines = max(1, min(batch_lines, MAX_BATCH_LINES))
        self._timeout = httpx.Timeout(timeout_s)
        self._gzip_level = gzip_level
        secret = password.get_secret_value() if isinstance(password, SecretStr) else password
        self._auth = httpx.BasicAuth(username, secret or "") if username else None
        # InfluxDB 2/3 answer the 1.x API (/query, /write) with an API token in this header.
        token_value = token.get_secret_value() if isinstance(token, SecretStr) else token
        self._headers = {"Authorization": f"Token {token_value}"} if token_value else None
        self._transport = transport  # tests inject httpx.MockTransport
        self._client: httpx.AsyncClient | None = None

    def __repr__(self) -> str:
        # No credentials, ever: this ends up in logs and tracebacks.
        return f"InfluxV1Store(url={self.url!r}, database={self.database!r}, rp={self.retention_policy!r})"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.url, auth=self._auth, headers=self._headers, timeout=self._timeout,
                transport=self._transport,
            )
        return self._client

    async def _post(self, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._http().post(path, **kwargs)
        except httpx.TransportError as exc:  # connect, read, write, pool timeouts, protocol errors
            raise StorageUnavailable(f"InfluxDB at {self.url} unreachable: {type(exc).__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code in _RETRYABLE_4XX:
            raise StorageUnavailable(
                f"InfluxDB at {self.url} answered {response.status_code}: {_server_message(response)}"
            )
        if response.status_code >= 400:
            raise StorageRejected(
                f"InfluxDB at {self.url} rejected {path} ({response.status_code}): {_server_message(response)}",
                status=response.status_code,
            )
        return response

    # lifecycle

    async def start(self) -> None:
        try:
            await self.query(f"CREATE DATABASE {_quote_ident(self.database)}")
        except StorageRejected as exc:
            # A write-only user may not create databases; the database may well exist. If it does not,
            # the first write fails with "database not found", which says it plainly.
            log.warning("could not create database %r on %s: %s", self.database, self.url, exc)
        log.info("InfluxDB store ready: %s db=%s rp=%s", self.url, self.database, self.retention_policy)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()

    async def write_lines(self, lines: Sequence[str]) -> None:
        """Post up to ``batch_lines`` ready-made lines (ns precision) as one gzip request."""
        if not lines:
            return
        if len(lines) > self.batch_lines:
            raise ValueError(f"{len(lines)} lines in one request, at most {self.batch_lines}")
        body = ("\n".join(lines) + "\n").encode()
        if len(body) > _INLINE_GZIP_BYTES:
            payload = await asyncio.to_thread(gzip.compress, body, self._gzip_level)
        else:
            payload = gzip.compress(body, self._gzip_level)
        params = {"db": self.database, "precision": "ns"}
        if self.retention_policy:
            params["rp"] = self.retention_policy
        await self._post(
            "/write",
            params=params,
            content=payload,
            headers={"Content-Encoding": "gzip", "Content-Type": "text/plain; charset=utf-8"},
        )

    # reads

    async def query(self, influxql: str, *, database: str | None = None, epoch: str | None = "ns") -> dict:
        """Run InfluxQL against ``database`` (default: this store's) and return InfluxDB's JSON.

        Times come back as integers in ``epoch`` units. A statement error raises StorageRejected with
        InfluxDB's message.
        """
        # POST with a form body: allowed for every statement, and keeps query text out of URLs and logs.
        data = {"q": influxql, "db": database or self.database}
        if self.retention_policy and database is None:
            data["rp"] = self.retention_policy
        if epoch:
            data["epoch"] = epoch
        response = await self._post("/query", data=data)
        body = response.json()
        for result in body.get("results", []):
            if "error" in result:
                raise StorageRejected(f"InfluxDB query failed: {result['error']}")
        if "error" in body:
            raise StorageRejected(f"InfluxDB query failed: {body['error']}")
        return body

    async def query_chunks(self, influxql: str, *, chunk_size: int = 10_000) -> list[dict]:
        """Run one SELECT with ``chunked=true``: InfluxDB's JSON chunks, each at most ``chunk_size`` rows.

        Chunked answers are not cut at the server's ``max-row-limit``, which silently truncates a plain
        answer. Times are integers in ns. A statement error raises StorageRejected.
        """
        data = {"q": influxql, "db": self.database, "epoch": "ns", "chunked": "true", "chunk_size": str(chunk_size)}
        if self.retention_policy:
            data["rp"] = self.retention_policy
        response = await self._post("/query", data=data)
        chunks = [json.loads(line) for line in response.text.splitlines() if line.strip()]
        for chunk in chunks:
            errors = [chunk.get("error"), *(r.get("error") for r in chunk.get("results", []))]
            if error := next((e for e in errors if e), None):
                raise StorageRejected(f"InfluxDB query failed: {error}")
        return chunks

    async def ping(self) -> bool:
        try:
            response = await self._http().get("/ping")
        except httpx.TransportError:
            return False
        return response.status_code == 204
