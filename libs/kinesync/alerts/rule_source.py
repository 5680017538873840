"""The rule set in force, read where the alerts service reads it: the rules file, then the rules made in
the API (an API rule replaces a file rule of the same id), else the defaults.

The alerts service sends by these rules; the API's wall and the writer's alert points (the Grafana
wall) judge by the same rules from the same state (``rules_in_force``), so a coach sees on the walls
what reaches the webhooks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from kinesync.alerts.config import DEFAULT_RULES, RuleSpec, load_rules_file
from kinesync.alerts.engine import RuleEngine
from kinesync.alerts.store import AlertStore
from kinesync.settings import Settings

log = logging.getLogger("kinesync.alerts")

RULES_CHECK_S = 2.0  # how often a running service looks for changed rules, s


def current_rules(settings: Settings, store: AlertStore) -> list[RuleSpec]:
    """File rules, then API rules (an API rule replaces a file rule of the same id); else defaults."""
    by_id: dict[str, RuleSpec] = {}
    if settings.alert_rules:
        by_id.update((r.id, r) for r in load_rules_file(settings.alert_rules))
    by_id.update((r.id, r) for r in store.rules())
    return list(by_id.values()) if by_id else list(DEFAULT_RULES)


def _fingerprint(settings: Settings, store: AlertStore) -> tuple[object, ...]:
    mtime = None
    if settings.alert_rules:
        try:
            mtime = Path(settings.alert_rules).stat().st_mtime_ns
        except OSError:
            mtime = -1
    return (mtime, store.rules_fingerprint())


class RuleSource:
    """``current_rules`` with change detection: ``load`` once, then ``changed`` every ``RULES_CHECK_S``."""

    def __init__(self, settings: Settings, store: AlertStore) -> None:
        self.settings = settings
        self.store = store
        self._fingerprint: tuple[object, ...] | None = None

    async def load(self) -> list[RuleSpec]:
        self._fingerprint = await self.store.run(_fingerprint, self.settings, self.store)
        return await self.store.run(current_rules, self.settings, self.store)

    async def changed(self) -> list[RuleSpec] | None:
        """The rules, when the file or the API's rules changed since the last ``load``; else None."""
        fp = await self.store.run(_fingerprint, self.settings, self.store)
        if fp == self._fingerprint:
            return None
        return await self.load()


async def rules_in_force(settings: Settings, store: AlertStore | None) -> tuple[RuleEngine, RuleSource | None]:
    """A rule engine for a service that shows alerts (the API's wall, the writer's alert points): the rules
    the alerts service sends by (the defaults without an alerts database, or when the rules cannot be
    read), continuing from the state the alerts service saved with its outbox. After a restart it
    neither fires again what the service already sent nor misses its resolution, and its
    ``last_events`` are each subject's last alert."""
    if store is None:
        return RuleEngine(DEFAULT_RULES), None
    source = RuleSource(settings, store)
    try:
        engine = RuleEngine(await source.load())
    except Exception as exc:  # a broken rules file must not keep the walls from starting
        log.warning("alerts shown by the default rules: the alert rules could not be read (%s)", exc)
        engine = RuleEngine(DEFAULT_RULES)
    try:
        state, _ = await store.run(store.load_state)
        engine.restore(state)
    except Exception as exc:  # the rules then start from nothing, as before the service ran
        log.warning("alert rules start afresh: the alerts service's state could not be read (%s)", exc)
    return engine, source


async def keep_rules_current(engine: RuleEngine, source: RuleSource, stop: asyncio.Event) -> None:
    """Every ``RULES_CHECK_S``, the rules made or changed since (console, API, rules file) into ``engine``."""
    failed = ""  # the last failure, logged once rather than every check
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RULES_CHECK_S)
        try:
            changed = await source.changed()
        except Exception as exc:  # the engine keeps the rules it has
            if str(exc) != failed:
                log.warning("alert rules not reloaded (%s)", exc)
            failed = str(exc)
            continue
        failed = ""
        if changed is not None:
            engine.set_rules(changed)
