"""The API's Kafka side: what it consumes and what it keeps published, as tasks beside the HTTP server.

- ``seed_from_store``: the last minute of stored windows → the wall's live state, and the last minutes of
  stored reps → the cue hub's sets and recent cues, once at start.
- ``follow_metrics``: ``kinesync.metrics`` → the wall's live state (and its "last alert", by the alert
  rules in force, kept current by ``kinesync.alerts.rule_source.keep_rules_current``).
- ``run_cues``: ``kinesync.reps`` → the cue hub (station views, cue WebSockets), the learned personal
  windows kept for restarts, and the cue latency reported to a line store.
- ``keep_sessions_published``: the registry's running sessions → ``kinesync.sessions``, republished.

The app's lifespan starts them (``running_workers``) when it was given a bus; consumers have no group,
so every API instance sees every station.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import AsyncIterator

from kinesync.alerts.config import DEFAULT_RULES
from kinesync.alerts.engine import RuleEngine
from kinesync.alerts.rule_source import RuleSource, keep_rules_current
from kinesync.api.cue_hub import CueHub, cue_stats_line
from kinesync.api.sessions_out import ProducerSessionSink, PublishError, SessionSink
from kinesync.api.state import LiveState
from kinesync.bus.base import Bus
from kinesync.bus.follow import follow
from kinesync.bus.topics import METRICS, REPS
from kinesync.facility.personal import PersonalStore
from kinesync.facility.registry import NotFound, Registry, assignment_of
from kinesync.models import RepMetric, WindowMetric
from kinesync.settings import Settings
from kinesync.storage.base import LineStore, StorageRejected, StorageUnavailable, open_store
from kinesync.storage.readers import RecentReader

log = logging.getLogger("kinesync.api")

REPUBLISH_EVERY_S = 30.0
REMEMBER_EVERY_S = 10.0
SEED_S = 60.0  # the wall starts from this much of the stored windows
# ... and the sets and cues from this much of the stored reps: a set ends at a pause of SET_GAP_S (60 s),
# so five minutes hold the whole of all but the longest sets.
SEED_REPS_S = 300.0
# A stored alert older than this goes back on no tile: the same athlete on the same station in a later
# run or on another day (no session to tell them apart) is not told of an old episode.
SEED_ALERTS_S = 1800.0
SEED_TIMEOUT_S = 5.0

# the wall


async def seed_from_store(
    live: LiveState, hub: CueHub | None, store: object, *, seconds: float = SEED_S, rep_seconds: float = SEED_REPS_S,
) -> tuple[int, int]:
    """The wall's tiles from the last ``seconds`` of stored windows, then the stations' current sets and
    recent cues from the last ``rep_seconds`` of stored reps, when ``store`` can read them back (a
    ``RecentReader``: the embedded SQLite file, InfluxDB), before the live records take over; returns the
    windows and the reps taken.

    The followers start at the end of their topics, so without this a restarted API showed an empty wall
    until each station's next window, a lag of "—" until its next rep, no set lag until the next rep of
    a set, and a station view without its last cues: after every restart of ``kinesync run``'s embedded
    broker, and after every deploy. A store that cannot answer in time leaves the wall and the cues to
    fill from the live records, as before.
    """
    if not isinstance(store, RecentReader):
        return 0, 0
    now = time.time_ns()
    try:
        windows = await asyncio.wait_for(store.recent_windows(now - round(seconds * 1e9)), SEED_TIMEOUT_S)
    except Exception as exc:  # any store failure: the wall fills from the live windows instead
        log.warning("the wall starts empty: the stored windows could not be read (%s)", exc)
        return 0, 0
    taken = live.seed(windows)
    log.info("the wall starts from %d stored windows of %d stations", taken, len(live))
    if hub is None:
        return taken, 0
    try:
        reps = await asyncio.wait_for(store.recent_reps(now - round(rep_seconds * 1e9)), SEED_TIMEOUT_S)
    except Exception as exc:  # the sets and cues fill from the live reps instead
        log.warning("set lags and cues start empty: the stored reps could not be read (%s)", exc)
        return taken, 0
    seeded = hub.seed(reps)
    log.info("set lags and cues start from %d stored reps", seeded)
    return taken, seeded


async def follow_metrics(bus: Bus, state: LiveState, stop: asyncio.Event, rules: RuleEngine | None = None) -> None:
    # Starting at the end is enough because a station's status is its newest window.
    def take(metric: WindowMetric) -> None:
        state.update(metric)
        # The wall's "last alert": the alerts service's rule engine on its rules, evaluated here so the
        # tile needs no extra topic.
        for event in rules.observe(metric, time.time_ns()) if rules is not None else ():
            state.note_alert(event.station, event.message, event.state)

    await follow(bus, METRICS, WindowMetric, take, stop, poll_ms=200)


def seed_wall_alerts(live: LiveState, engine: RuleEngine, *, seconds: float = SEED_ALERTS_S) -> int:
    """Each tile's last alert from the engine's state, where the tile still shows that athlete's session
    (``LiveState.seed_alert``) and the event is at most ``seconds`` old, dated when it happened. Returns
    the tiles given one."""
    since_ns = time.time_ns() - round(seconds * 1e9)
    shown = {e.station for e, session in engine.last_events() if e.at_ns >= since_ns
             and live.seed_alert(e.station, e.athlete, session, e.message, e.state, e.at_ns / 1e9)}
    if shown:
        log.info("the last alerts of %d stations are back on the wall", len(shown))
    return len(shown)


# cues


async def follow_reps(bus: Bus, hub: CueHub, stop: asyncio.Event, poll_ms: int = 50) -> None:
    """Cue every rep on ``kinesync.reps`` as soon as it arrives."""
    await follow(bus, REPS, RepMetric, hub.publish, stop, poll_ms=poll_ms)


async def report_cue_latency(hub: CueHub, store: LineStore, stop: asyncio.Event, *, instance: str,
                             every_s: float = 10.0) -> None:
    """Every ``every_s``, the interval's cue latency as a ``pipeline`` point through a line store."""
    since = time.time_ns()
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every_s)
        now = time.time_ns()
        line = cue_stats_line(hub.stats(since), instance=instance, at_ns=now)
        since = now
        if line is None:
            continue
        try:
            await store.write_lines([line])
        except (StorageUnavailable, StorageRejected, ValueError) as exc:
            log.warning("cue latency not written: %s", exc)


async def remember_learned(hub: CueHub, registry: Registry, store: PersonalStore) -> int:
    """Keep each running session's last learned window, so a restarted analyzer starts from it."""
    saved = 0
    for cues in hub.recent.values():
        last = cues[-1] if cues else None
        if last is None or last.target_source != "personal" or not (last.session or "").isdigit():
            continue
        try:
            s = await registry.get_session(int(last.session or 0))
        except NotFound:
            continue
        state = await store.get(s.athlete_id, s.exercise.value)
        if state.mode == "personal" and not state.locked and (state.low_ms, state.high_ms) != (
                last.target_low_ms, last.target_high_ms):
            await store.put(s.athlete_id, s.exercise.value,
                            state.model_copy(update={"low_ms": last.target_low_ms, "high_ms": last.target_high_ms}))
            saved += 1
    return saved


async def run_cues(hub: CueHub, bus: Bus, settings: Settings, stop: asyncio.Event, *,
                   registry: Registry | None = None, personal_store: PersonalStore | None = None,
                   every_s: float = REMEMBER_EVERY_S) -> None:
    """The API service's cue side: cue every rep, keep learned windows, report cue latency.

    Cue latency goes into the ``pipeline`` measurement (service=api) when the store takes line
    protocol (InfluxDB); the embedded SQLite store has no ``pipeline`` measurement, so there the
    figures are only at ``/api/v1/cues/latency``.
    """
    hub.window_s = settings.window_s
    tasks = [asyncio.create_task(follow_reps(bus, hub, stop))]
    store = open_store(settings) if settings.influx_url else None
    if store is not None and isinstance(store, LineStore):
        await store.start()
        tasks.append(asyncio.create_task(report_cue_latency(hub, store, stop, instance=socket.gethostname())))

    async def learned() -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)
            if registry is not None and personal_store is not None:
                await remember_learned(hub, registry, personal_store)

    tasks.append(asyncio.create_task(learned()))
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if store is not None:
            await store.close()


# sessions


async def publish_running(registry: Registry, sink: ProducerSessionSink) -> None:
    # A compacted topic makes this idempotent; it restores the analyzers' view after a broker that
    # lost its data (the embedded one keeps nothing across restarts) or a sim gateway that
    # announced its own athletes on a station a coach has since taken over.
    for s in await registry.active_sessions():
        with contextlib.suppress(PublishError):
            await sink.publish(assignment_of(s))


async def keep_sessions_published(
    registry: Registry, sink: ProducerSessionSink, stop: asyncio.Event, every_s: float = REPUBLISH_EVERY_S
) -> None:
    """Republish running sessions now and every ``every_s``; retry failed sends in between."""
    await publish_running(registry, sink)
    waited = 0.0
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 2.0)
        waited += 2.0
        if sink.pending:
            await sink.retry_pending()
        if waited >= every_s:
            waited = 0.0
            await publish_running(registry, sink)


# all of them


@contextlib.asynccontextmanager
async def running_workers(
    bus: Bus, settings: Settings, *, live: LiveState, hub: CueHub, registry: Registry, sink: SessionSink,
    personal_store: PersonalStore, rules: tuple[RuleEngine, RuleSource | None] | None = None,
) -> AsyncIterator[None]:
    """The workers as tasks for the body of the ``async with``; cancelled when it ends.

    The sessions republisher needs a sink that retries (``ProducerSessionSink``, or one wrapping it);
    a sink without ``retry_pending`` (a test's) goes without it. ``rules``: the wall's alert rules and
    where they come from (``kinesync.alerts.rule_source.rules_in_force``); the default rules without.
    """
    stop = asyncio.Event()
    engine, source = rules or (RuleEngine(DEFAULT_RULES), None)
    tasks = [
        asyncio.create_task(follow_metrics(bus, live, stop, engine), name="api-metrics"),
        asyncio.create_task(run_cues(hub, bus, settings, stop, registry=registry, personal_store=personal_store),
                            name="api-cues"),
    ]
    if source is not None:
        tasks.append(asyncio.create_task(keep_rules_current(engine, source, stop), name="api-alert-rules"))
    if hasattr(sink, "retry_pending"):
        tasks.append(asyncio.create_task(keep_sessions_published(registry, sink, stop),  # type: ignore[arg-type]
                                         name="api-sessions"))
    try:
        yield
    finally:
        stop.set()
        for t in tasks:
            t.cancel()
        for t, outcome in zip(tasks, await asyncio.gather(*tasks, return_exceptions=True), strict=True):
            if isinstance(outcome, Exception):
                log.error("%s had stopped: %r", t.get_name(), outcome)
