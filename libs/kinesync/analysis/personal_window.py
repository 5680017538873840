"""Personal target window: the lag band of an athlete's own best reps, learned rep by rep.

Pure: numbers in, a window out. The estimate after ``n`` reps uses only those reps, so the window
that judges rep ``n + 1`` never saw it (a rep is judged first, then learned from).

Estimate: among the last ``history_reps`` reps with a lag and an outcome, take the best reps: of
the ``top_k`` with the highest outcome, those within ``near_best_share`` of the best one (at least
``min_best``, so a lucky single rep never sets the window alone, and no rep clearly below the
best). The outcome is the first of ``outcome_fields`` that every rep in the history carries: mean
concentric bar velocity, else the propulsive impulse (∫(F − BW) dt over the drive = m·Δv, the force
plate's measure of how fast the system left the bottom: higher is better by definition), else the
peak RFD (from the start of propulsion, or the onset of a movement from rest).
Centre = the median of their lags; half-width = half the range of
their lags, clipped to [``min_half_width_ms``, ``max_half_width_ms``]. The window is then kept
inside [``bound_low_ms``, ``bound_high_ms``]: the centre is clamped so that a full minimum-width
window fits, and each edge is clipped to its bound. Until ``min_reps`` reps were seen, the seed
(the last learned window, published by the API so a restart continues) or else the fixed window
judges. A locked window is frozen: it judges and nothing is learned until it is unlocked.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

TargetSource = Literal["fixed", "personal", "locked"]


@dataclass(frozen=True)
class PersonalWindowConfig:
    bound_low_ms: float = 60.0
    bound_high_ms: float = 160.0
    history_reps: int = 20
    top_k: int = 5
    near_best_share: float = 0.01
    min_best: int = 2
    min_reps: int = 6
    min_half_width_ms: float = 8.0
    max_half_width_ms: float = 30.0
    outcome_fields: tuple[str, ...] = ("mean_concentric_velocity_m_s", "propulsive_impulse_n_s", "peak_rfd_n_per_s")

    def __post_init__(self) -> None:
        if not self.bound_low_ms < self.bound_high_ms:
            raise ValueError("bound_low_ms must be below bound_high_ms")
        if not 0.0 < self.min_half_width_ms <= self.max_half_width_ms:
            raise ValueError("need 0 < min_half_width_ms <= max_half_width_ms")
        if 2.0 * self.min_half_width_ms > self.bound_high_ms - self.bound_low_ms:
            raise ValueError("the bounds must hold a window of the minimum width")
        if not 1 <= self.top_k <= self.history_reps or self.min_reps < 1:
            raise ValueError("need 1 <= top_k <= history_reps and min_reps >= 1")


@dataclass(frozen=True)
class TargetWindow:
    """The window that judges a rep, and where it came from."""

    low_ms: float
    high_ms: float
    source: TargetSource

    def contains(self, lag_ms: float) -> bool:
        return self.low_ms <= lag_ms <= self.high_ms


@dataclass(frozen=True)
class _Rep:
    lag_ms: float
    outcomes: dict[str, float]


def estimate_window(
    lags_ms: list[float], outcomes: list[float], config: PersonalWindowConfig
) -> tuple[float, float] | None:
    """(low_ms, high_ms) from the lags of the ``top_k`` best outcomes; None with no reps."""
    if not lags_ms:
        return None
    order = sorted(range(len(lags_ms)), key=lambda i: outcomes[i], reverse=True)
    top = outcomes[order[0]]
    near = [i for i in order[: config.top_k] if outcomes[i] >= top - config.near_best_share * abs(top)]
    best = sorted(lags_ms[i] for i in (near if len(near) >= config.min_best else order[: config.min_best]))
    n = len(best)
    centre = best[n // 2] if n % 2 else 0.5 * (best[n // 2 - 1] + best[n // 2])
    half = min(max(0.5 * (best[-1] - best[0]), config.min_half_width_ms), config.max_half_width_ms)
    centre = min(max(centre, config.bound_low_ms + config.min_half_width_ms),
                 config.bound_high_ms - config.min_half_width_ms)
    return max(centre - half, config.bound_low_ms), min(centre + half, config.bound_high_ms)


class PersonalWindow:
    """Rolling estimate for one athlete and exercise."""

    def __init__(
        self,
        config: PersonalWindowConfig,
        fixed: tuple[float, float],
        *,
        seed: tuple[float, float] | None = None,
        locked: bool = False,
    ) -> None:
        self.config = config
        self.fixed = fixed
        self._reps: deque[_Rep] = deque(maxlen=config.history_reps)
        self.seen = 0
        self._estimate = self._bounded(seed) if seed is not None else None
        self.locked = locked and self._estimate is not None

    def _bounded(self, window: tuple[float, float]) -> tuple[float, float]:
        c = self.config
        low = min(max(window[0], c.bound_low_ms), c.bound_high_ms)
        high = min(max(window[1], c.bound_low_ms), c.bound_high_ms)
        return (low, high) if low < high else (c.bound_low_ms, c.bound_high_ms)

    def current(self) -> TargetWindow:
        if self._estimate is None:
            return TargetWindow(self.fixed[0], self.fixed[1], "fixed")
        return TargetWindow(*self._estimate, "locked" if self.locked else "personal")

    def lock(self, window: tuple[float, float] | None = None) -> None:
        """Freeze ``window`` (the one the coach saw), or else the current estimate."""
        if window is not None:
            self._estimate = self._bounded(window)
        if self._estimate is None:
            self._estimate = self._bounded(self.fixed)
        self.locked = True

    def unlock(self) -> None:
        self.locked = False

    def observe(self, lag_ms: float | None, outcomes: Mapping[str, object]) -> None:
        """Learn from a judged rep (``outcomes``: its analysed fields); without a lag or any outcome
        field it teaches nothing."""
        have = {k: float(v) for k in self.config.outcome_fields
                if isinstance(v := outcomes.get(k), int | float) and math.isfinite(v)}
        if self.locked or lag_ms is None or not math.isfinite(lag_ms) or not have:
            return
        self._reps.append(_Rep(float(lag_ms), have))
        self.seen += 1
        if len(self._reps) < self.config.min_reps:
            return
        key = next((k for k in self.config.outcome_fields if all(k in r.outcomes for r in self._reps)), None)
        if key is None:  # the history mixes outcome kinds: rank on the best kind most reps carry
            key = max(self.config.outcome_fields, key=lambda k: sum(k in r.outcomes for r in self._reps))
        reps = [r for r in self._reps if key in r.outcomes]
        estimate = estimate_window([r.lag_ms for r in reps], [r.outcomes[key] for r in reps], self.config)
        if estimate is not None:
            self._estimate = estimate
