"""The rule set in force, read where the alerts service reads it: the rules file, then the rules made in
the API (an API rule replaces a file rule of the same id), else the defaults.

The alerts service sends by these rules, and the API's wall shows the alerts of the same rules, so a
coach sees on the wall what reaches the webhooks.
"""

from __future__ import annotations

from pathlib import Path

from kinesync.alerts.config import DEFAULT_RULES, RuleSpec, load_rules_file
from kinesync.alerts.store import AlertStore
from kinesync.settings import Settings

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
