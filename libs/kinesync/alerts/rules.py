"""Alert rules over window metrics. Pure: metrics in, alert events out."""

from __future__ import annotations

import hashlib
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from kinesync.models import WindowMetric

NS = 1_000_000_000


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


@dataclass
class LagDriftRule:
    """Fires when the lag is out of the target window in ``n`` of the last ``m`` reps.

    Resolves when at most ``resolve_below`` of the last ``m`` are out. After a firing, the same
    station stays quiet for ``cooldown_s`` of event time even if it resolves and drifts again.
    """

    n: int = 3
    m: int = 5
    resolve_below: int = 1
    cooldown_s: float = 60.0
    name: str = "lag_out_of_window"
    _recent: dict[str, deque[bool]] = field(default_factory=dict)
    _firing: dict[str, bool] = field(default_factory=dict)
    _last_fired_ns: dict[str, int] = field(default_factory=dict)

    def observe(self, metric: WindowMetric) -> AlertEvent | None:
        if metric.in_window is None or metric.lag_ms is None:
            return None
        recent = self._recent.setdefault(metric.station, deque(maxlen=self.m))
        recent.append(not metric.in_window)
        out_count = sum(recent)
        firing = self._firing.get(metric.station, False)
        t = metric.window_start_ns
        band = f"{metric.target_low_ms:g}-{metric.target_high_ms:g} ms"
        who = metric.athlete or metric.station
        if not firing and len(recent) == self.m and out_count >= self.n:
            last = self._last_fired_ns.get(metric.station)
            if last is not None and t - last < self.cooldown_s * NS:
                return None
            self._firing[metric.station] = True
            self._last_fired_ns[metric.station] = t
            return AlertEvent(
                self.name,
                metric.station,
                metric.athlete,
                "firing",
                f"{who}: lag out of {band} in {out_count} of the last {self.m} reps (latest {metric.lag_ms:.0f} ms)",
                t,
            )
        if firing and out_count <= self.resolve_below:
            self._firing[metric.station] = False
            return AlertEvent(
                self.name,
                metric.station,
                metric.athlete,
                "resolved",
                f"{who}: lag back in {band} (latest {metric.lag_ms:.0f} ms)",
                t,
            )
        return None
