"""analyzer: a consumer-group member that turns a station's EMG, force and bar frames into window metrics."""

from __future__ import annotations

import asyncio
import logging

from kinesync.bus.kafka import KafkaBus
from kinesync.runtime.service import run_service
from kinesync.settings import Settings
from kinesync.streaming.runner import run_analyzer

log = logging.getLogger("kinesync.analyzer")


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    engine = await run_analyzer(bus, settings, stop)
    c = engine.counters
    log.info("stopped: %d frames, %d windows, %d dead letters, %d analysis errors", c.frames, c.windows,
             c.dead_letters, c.analysis_errors)


def run() -> None:
    run_service("analyzer", main)


if __name__ == "__main__":
    run()
