"""writer: metrics from Kafka into storage in batches; offsets committed only after the database acknowledged."""

from __future__ import annotations

import asyncio
import logging

from kinesync.bus.kafka import KafkaBus
from kinesync.runtime.service import run_service
from kinesync.settings import Settings
from kinesync.storage.base import open_store
from kinesync.storage.runner import run_writer

log = logging.getLogger("kinesync.writer")


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    store = open_store(settings)
    await store.start()
    log.info("writing metrics to %s", settings.influx_url or f"SQLite file {settings.sqlite_path}")
    try:
        await run_writer(bus, store, settings, stop)
    finally:
        await store.close()


def run() -> None:
    run_service("writer", main)


if __name__ == "__main__":
    run()
