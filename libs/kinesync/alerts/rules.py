"""Alert events: what a rule of the engine (``kinesync.alerts.engine``) says when its condition starts or
stops holding."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

Severity = Literal["info", "warning", "critical"]
SEVERITY_ORDER: dict[str, int] = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True)
class AlertEvent:
    """One change of an alert: it started firing, or its condition cleared (``resolved``).

    ``fired_at_ns`` is the event time the episode started; with rule, subject and state it makes
    the idempotency key, so replaying the same metrics yields the same keys (see ``key``).
    """

    rule: str
    station: str
    athlete: str | None
    state: Literal["firing", "resolved"]
    message: str
    at_ns: int
    severity: Severity = "warning"
    kind: str = "lag_out_of_window"
    team: str | None = None
    exercise: str | None = None
    value: float | None = None
    fired_at_ns: int | None = None

    @property
    def subject(self) -> str:
        """Who the alert is about: cooldowns are per rule and athlete (the station without one)."""
        return self.athlete or self.station

    @property
    def key(self) -> str:
        """Idempotency key: the same alert (rule, subject, episode, state) always gets the same key."""
        episode = self.fired_at_ns if self.fired_at_ns is not None else self.at_ns
        raw = f"{self.rule}|{self.subject}|{episode}|{self.state}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]
