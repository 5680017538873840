"""InfluxDB 2.x and 3.x through ``influxdb-client``'s asyncio API (``/api/v2/write``).

The asyncio client neither batches nor retries: the writer service does both. This store only cuts a
batch into requests of at most ``batch_lines`` lines, sends them gzip-compressed, and translates the
client's failures into the two storage errors the writer understands.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import aiohttp
from pydantic import SecretStr

from kinesync.storage.base import StorageRejected, StorageUnavailable
from kinesync.storage.chunked import ChunkedLineStore

if TYPE_CHECKING:
    from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

log = logging.getLogger(__name__)

MAX_BATCH_LINES = 5000
# 408 and 429 are the server saying "not now", like a 5xx.
_RETRYABLE_4XX = frozenset({408, 429})


def _api_error(exc: Exception, url: str) -> Exception:
    """Map an influxdb-client ApiException to StorageUnavailable or StorageRejected."""
    status = getattr(exc, "status", None)
    # The server's message is in the body; the reason phrase alone ("Bad Request") says little.
    message = getattr(exc, "message", None) or getattr(exc, "body", None) or getattr(exc, "reason", None) or str(exc)
    message = str(message).strip()[:500]
    if status is None or status >= 500 or status in _RETRYABLE_4XX:
        return StorageUnavailable(f"InfluxDB at {url} answered {status}: {message}")
    return StorageRejected(f"InfluxDB at {url} rejected the write ({status}): {message}", status=status)


class InfluxV2Store(ChunkedLineStore):
    """MetricStore on an InfluxDB 2 bucket or an InfluxDB 3 database (token auth)."""

    def __init__(
        self,
        url: str,
        *,
        token: str | SecretStr | None,
        org: str,
        bucket: str,
        batch_lines: int = MAX_BATCH_LINES,
        timeout_s: float = 10.0,
    ) -> None:
        self.url = url.rstrip("/")
        self.org = org
        self.bucket = bucket
        self.batch_lines = max(1, min(batch_lines, MAX_BATCH_LINES))
        self._timeout_ms = int(timeout_s * 1000)
        # Kept wrapped until the client is made, so the token never shows in a repr or a traceback.
        self._token = token if isinstance(token, SecretStr) or token is None else SecretStr(token)
        self._client: InfluxDBClientAsync | None = None

    def __repr__(self) -> str:
        return f"InfluxV2Store(url={self.url!r}, org={self.org!r}, bucket={self.bucket!r})"

    # lifecycle

    async def start(self) -> None:
        """Create the client. It must be made inside a coroutine: it binds an aiohttp session to the loop."""
        if self._client is not None:
            return
        from influxdb_client.client.influxdb_client_async import InfluxDBClientAsync

        token = self._token.get_secret_value() if self._token is not None else ""
        self._client = InfluxDBClientAsync(
            url=self.url, token=token, org=self.org, enable_gzip=True, timeout=self._timeout_ms
        )
        # No bucket creation here: a write token normally may not, and influxd's init creates it.
        log.info("InfluxDB v2 store ready: %s org=%s bucket=%s", self.url, self.org, self.bucket)

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()

    async def write_lines(self, lines: Sequence[str]) -> None:
        """Post up to ``batch_lines`` ready-made lines (ns precision) as one gzip request."""
        if not lines:
            return
        if len(lines) > self.batch_lines:
            raise ValueError(f"{len(lines)} lines in one request, at most {self.batch_lines}")
        from influxdb_client import WritePrecision
        from influxdb_client.rest import ApiException

        if self._client is None:
            await self.start()
        assert self._client is not None
        body = "\n".join(lines)
        try:
            await self._client.write_api().write(
                bucket=self.bucket, org=self.org, record=body, write_precision=WritePrecision.NS
            )
        except ApiException as exc:
            raise _api_error(exc, self.url) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # Refused, reset, DNS, timeout: the database may take it later.
            raise StorageUnavailable(f"InfluxDB at {self.url} unreachable: {type(exc).__name__}: {exc}") from exc
