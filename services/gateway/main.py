"""gateway: reads a source (sim, c3d, csv, lsl, http), stamps facility time, publishes frames.

Composition only: the loops in ``kinesync.gateway.runner``, sources in ``kinesync.sources``, the health
and ingest HTTP server in ``kinesync.ingest``.
"""

from __future__ import annotations

import asyncio

from kinesync.bus.kafka import KafkaBus
from kinesync.gateway.runner import serve_gateway
from kinesync.runtime.service import run_service
from kinesync.settings import Settings


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    await serve_gateway(bus, settings, stop)


def run(settings: Settings | None = None) -> None:
    """The process entry point of ``python -m kinesync_services.gateway`` and ``kinesync gateway``."""
    run_service("gateway", main, settings)


if __name__ == "__main__":
    run()
