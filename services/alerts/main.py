"""alerts: rules over live metrics; in the embedded run alerts go to the log."""

from __future__ import annotations

import asyncio
import logging

from kinesync.alerts.rules import LagDriftRule
from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import METRICS
from kinesync.models import WindowMetric
from kinesync.runtime.service import run_service
from kinesync.settings import Settings

log = logging.getLogger("kinesync.alerts")


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    rule = LagDriftRule()
    consumer = bus.consumer([METRICS], "kinesync-alerts")
    await consumer.start()
    log.info("alerts: rule %s (%d of the last %d reps), delivering to the log", rule.name, rule.n, rule.m)
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200)
            for msg in batch:
                try:
                    event = rule.observe(WindowMetric.model_validate_json(msg.value))
                except ValueError:
                    continue  # the writer dead-letters malformed metrics
                if event is not None:
                    level = logging.WARNING if event.state == "firing" else logging.INFO
                    log.log(level, "ALERT %s %s: %s", event.state.upper(), event.rule, event.message)
            if batch:
                await consumer.commit()
    finally:
        await consumer.stop()


def run() -> None:
    run_service("alerts", main)


if __name__ == "__main__":
    run()
