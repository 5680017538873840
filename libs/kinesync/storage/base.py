"""The storage boundary: what the writer and the API need from any database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from kinesync.models import RepMetric, WindowMetric

if TYPE_CHECKING:
    from kinesync.settings import Settings
    from kinesync.storage.readers import RepReader


class StorageUnavailable(Exception):
    """The database could not take the write now (down, timeout, overloaded).

    Transient: the writer retries with backoff and must not commit Kafka offsets meanwhile.
    """


class StorageRejected(ValueError):
    """The database refused the data itself (bad line, type conflict, unknown database, auth).

    Permanent for this data: retrying the same batch gives the same answer. ``status`` is the HTTP
    status when there is one: 400 is bad data, 401/403/404 a configuration problem.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@runtime_checkable
class MetricStore(Protocol):
    async def start(self) -> None:
        """Connect and create what is missing (database, table). Idempotent."""
        ...

    async def write(self, metrics: Sequence[WindowMetric | RepMetric]) -> None:
        """Store all of ``metrics`` (windows and reps) or raise; writing the same again overwrites them.

        Raises StorageUnavailable (retry later) or StorageRejected (do not retry as-is).
        """
        ...

    async def close(self) -> None: ...


@runtime_checkable
class LineStore(Protocol):
    """A store that takes raw line protocol too (the InfluxDB stores): pipeline statistics and alerts."""

    async def write_lines(self, lines: Sequence[str]) -> None: ...


def open_rep_reader(settings: Settings) -> RepReader:
    """Where the session report, the priming effect and the trends read reps: the store ``open_store`` opens."""
    from kinesync.storage.readers import open_rep_reader as _open

    return _open(settings)


def open_store(settings: Settings) -> MetricStore:
    """InfluxDB when a URL is configured (1.x or 2/3 by ``influx_version``), else the embedded SQLite file."""
    if settings.influx_url and settings.influx_version == "2":
        from kinesync.storage.influx_v2 import InfluxV2Store

        return InfluxV2Store(
            settings.influx_url,
            token=settings.influx_token,
            org=settings.influx_org,
            bucket=settings.influx_bucket,
            batch_lines=settings.batch_size,
        )
    if settings.influx_url:
        from kinesync.storage.influx_v1 import InfluxV1Store

        return InfluxV1Store(
            settings.influx_url,
            settings.influx_database,
            retention_policy=settings.influx_retention_policy,
            username=settings.influx_username,
            password=settings.influx_password,
            batch_lines=settings.batch_size,
        )
    from kinesync.storage.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)
