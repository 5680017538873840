"""What every line-protocol store shares: chunked writes of window and rep records, ``async with``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Self

from kinesync.models import RepMetric, WindowMetric
from kinesync.storage.lineprotocol import metrics_to_lines


class ChunkedLineStore:
    """Base of the InfluxDB stores: subclasses provide ``start``, ``close`` and ``write_lines``."""

    batch_lines: int

    async def start(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        raise NotImplementedError

    async def write_lines(self, lines: Sequence[str]) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def write(self, metrics: Sequence[WindowMetric | RepMetric]) -> None:
        """Write in chunks; on failure earlier chunks stay written, which a retry simply overwrites."""
        lines = metrics_to_lines(metrics)
        for start in range(0, len(lines), self.batch_lines):
            await self.write_lines(lines[start : start + self.batch_lines])
