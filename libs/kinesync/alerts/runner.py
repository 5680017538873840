"""The alerts service loop: metrics from Kafka → rule engine → durable outbox → deliveries.

Kafka offsets are committed only after the batch's alerts, the engine state and the consumed
positions are in the outbox database (one transaction). The positions let a restart skip records
that were processed but whose offsets were not yet committed, so no rule counts a rep twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import httpx

from kinesync.alerts.delivery import Dispatcher, GrafanaAnnotate
from kinesync.alerts.engine import SILENCE_TICK_NS, RuleEngine
from kinesync.alerts.rule_source import RULES_CHECK_S, RuleSource
from kinesync.alerts.rules import AlertEvent
from kinesync.alerts.store import GRAFANA, AlertStore
from kinesync.bus.base import Bus, TopicPartition
from kinesync.bus.topics import METRICS
from kinesync.models import WindowMetric
from kinesync.settings import Settings

log = logging.getLogger("kinesync.alerts")
def grafana_annotator(settings: Settings) -> GrafanaAnnotate | None:
    if not settings.alerts_grafana or (settings.grafana_token is None and not settings.grafana_user):
        return None

    async def annotate(e: AlertEvent) -> None:
        from kinesync.dashboards.publish import annotate_alert, connect

        def call() -> None:
            annotate_alert(connect(settings), station=e.station, text=f"[{e.state}] {e.message}",
                           at_ms=e.at_ns // 1_000_000, rule=e.rule, athlete=e.athlete)

        await asyncio.to_thread(call)

    return annotate


@dataclass
class AlertsStats:
    metrics: int = 0
    events: int = 0
    queued: int = 0
    skipped_replays: int = 0


async def run_alerts(bus: Bus, store: AlertStore, settings: Settings, stop: asyncio.Event,
                     *, grafana: GrafanaAnnotate | None = None) -> AlertsStats:
    stats = AlertsStats()
    source = RuleSource(settings, store)
    rules = await source.load()
    engine = RuleEngine(rules)
    state, positions = await store.run(store.load_state)
    engine.restore(state)
    grafana = grafana or grafana_annotator(settings)
    consumer = bus.consumer([METRICS], settings.alerts_group)
    await consumer.start()
    timeout = httpx.Timeout(settings.alerts_timeout_s)
    async with httpx.AsyncClient(timeout=timeout, follow_redirects=False) as client:
        dispatcher = Dispatcher(store, client, settings.alerts_retry_base_s, settings.alerts_retry_max_s,
                                settings.alerts_retry_horizon_s, grafana)
        deliveries = asyncio.create_task(dispatcher.run(stop))
        log.info("alerts: rules %s; %d subscriptions; Grafana annotations %s",
                 ", ".join(f"{r.id} ({r.kind})" for r in rules) or "none",
                 len(await store.run(store.subscriptions)), "on" if grafana else "off")
        next_check = time.monotonic() + RULES_CHECK_S
        last_silence_check = 0
        try:
            while not stop.is_set():
                if deliveries.done():
                    await deliveries  # surfaces a crash of the delivery loop instead of hiding it
                batch = await consumer.getmany(timeout_ms=200, max_records=2000)
                if time.monotonic() >= next_check:
                    next_check = time.monotonic() + RULES_CHECK_S
                    if (changed := await source.changed()) is not None:
                        engine.set_rules(changed)
                        log.info("alerts: rules reloaded: %s", ", ".join(engine.rules))
                now = time.time_ns()
                # Stations that went quiet send nothing: check them on the clock, whatever the others do.
                if now - last_silence_check >= SILENCE_TICK_NS:
                    last_silence_check = now
                    silent = engine.silence(now)
                    if silent and await _record(store, silent, engine, positions, grafana is not None, now):
                        dispatcher.wake.set()
                if not batch:
                    continue
                events: list[AlertEvent] = []
                offsets: dict[TopicPartition, int] = {}
                for msg in batch:
                    name = f"{msg.topic}:{msg.partition}"
                    offsets[(msg.topic, msg.partition)] = msg.offset + 1
                    if msg.offset < positions.get(name, 0):
                        stats.skipped_replays += 1
                        continue
                    positions[name] = msg.offset + 1
                    try:
                        metric = WindowMetric.model_validate_json(msg.value)
                    except ValueError:
                        continue  # the writer dead-letters malformed metrics
                    stats.metrics += 1
                    events.extend(engine.observe(metric, now))
                queued = await _record(store, events, engine, positions, grafana is not None, now)
                stats.events += len(events)
                stats.queued += queued
                if queued:
                    dispatcher.wake.set()
                await consumer.commit(offsets)
        finally:
            await consumer.stop()
            stop.set()
            await deliveries
    return stats


async def _record(store: AlertStore, events: list[AlertEvent], engine: RuleEngine,
                  positions: dict[str, int], grafana: bool, now: int) -> int:
    pairs: list[tuple[AlertEvent, str]] = []
    if events:
        subs = await store.run(store.subscriptions)
        for e in events:
            level = logging.WARNING if e.state == "firing" else logging.INFO
            targets = [s.id for s in subs if s.matches(e)] + ([GRAFANA] if grafana else [])
            log.log(level, "ALERT %s %s [%s] %s → %s", e.state.upper(), e.rule, e.severity, e.message,
                    ", ".join(targets) or "log only")
            pairs.extend((e, t) for t in targets)
    return await store.run(store.record, pairs, engine.snapshot(), dict(positions), now)
