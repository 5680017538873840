"""writer: metrics from Kafka into storage in batches; offsets committed only after the database acknowledged."""

from __future__ import annotations

import asyncio
import logging

from kinesync.alerts.rule_source import keep_rules_current, rules_in_force
from kinesync.alerts.store import AlertStore
from kinesync.bus.kafka import KafkaBus
from kinesync.runtime.service import run_service
from kinesync.settings import Settings
from kinesync.storage.base import LineStore, open_store
from kinesync.storage.runner import run_writer

log = logging.getLogger("kinesync.writer")


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    store = open_store(settings)
    await store.start()
    log.info("writing metrics to %s", settings.influx_url or f"SQLite file {settings.sqlite_path}")
    # Alert points go beside the windows only in a line-protocol store (the Grafana wall's alerts): by the
    # rules the alerts service sends by, from its state, in the alerts database it shares.
    alerts = None
    if isinstance(store, LineStore):
        try:
            alerts = AlertStore(settings.alerts_db)
        except Exception as exc:  # the windows matter more than the alert points: write them regardless
            log.warning("alert points by the default rules: the alerts database %s cannot be opened (%s)",
                        settings.alerts_db, exc)
    rules, source = await rules_in_force(settings, alerts)
    reload = asyncio.create_task(keep_rules_current(rules, source, stop)) if source is not None else None
    try:
        await run_writer(bus, store, settings, stop, rules)
    finally:
        if reload is not None:
            reload.cancel()
            await asyncio.gather(reload, return_exceptions=True)
        await store.close()
        if alerts is not None:
            alerts.close()


def run() -> None:
    run_service("writer", main)


if __name__ == "__main__":
    run()
