"""alerts: rules over live metrics → durable outbox → coach webhooks (and the log). See docs/alerts.md."""

from __future__ import annotations

import asyncio
import logging

from kinesync.alerts.runner import run_alerts
from kinesync.alerts.store import AlertStore
from kinesync.bus.kafka import KafkaBus
from kinesync.runtime.service import run_service
from kinesync.settings import Settings

log = logging.getLogger("kinesync.alerts")


async def main(settings: Settings, stop: asyncio.Event) -> None:
    # httpx logs every request URL at INFO; Slack and Teams webhook URLs are credentials.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    store = AlertStore(settings.alerts_db)
    try:
        stats = await run_alerts(bus, store, settings, stop)
        log.info("stopped: %d metrics, %d alert events, %d deliveries queued", stats.metrics, stats.events,
                 stats.queued)
    finally:
        store.close()


def run() -> None:
    run_service("alerts", main)


if __name__ == "__main__":
    run()
