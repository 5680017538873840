"""Lag–outcome coupling for simulated athletes: timing that moves the bar.

A real athlete drives hardest when the chest fires in phase with the legs; the simulator models
that with a per-rep drive gain that depends on the rep's realised lag. Inside the athlete's best
band [``best_low_ms``, ``best_high_ms``] the gain is 1; outside it falls linearly with the distance
to the band, reaching ``floor_gain`` ``falloff_ms`` away, and stays there.

The gain scales the force curve's departure from the resting force, F = F_rest + g·(F₀ − F_rest):
for a squat that is the centre-of-mass acceleration scaled by g (a shallower, equally long
movement), so impulse–momentum still holds exactly, and RFD, peak force above rest and impulses
all scale by g. A squat jump is not coupled (its flight phase is not a departure that scales).
Because the band is flat on top, the best band is exactly the set of lags with the highest
outcome: the ground truth a personal target window has to find.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

UNCOUPLED_EXERCISES = frozenset({"squat_jump"})


@dataclass(frozen=True)
class LagOutcome:
    best_low_ms: float
    best_high_ms: float
    falloff_ms: float = 50.0
    floor_gain: float = 0.75

    def __post_init__(self) -> None:
        if not self.best_low_ms < self.best_high_ms:
            raise ValueError("best_low_ms must be below best_high_ms")
        if not self.falloff_ms > 0.0 or not 0.0 < self.floor_gain <= 1.0:
            raise ValueError("need falloff_ms > 0 and 0 < floor_gain <= 1")

    def gain(self, lag_ms: float) -> float:
        """Drive gain of a rep with this realised lag (1 inside the best band)."""
        off_ms = max(self.best_low_ms - lag_ms, lag_ms - self.best_high_ms, 0.0)
        return 1.0 - (1.0 - self.floor_gain) * min(1.0, off_ms / self.falloff_ms)

    @property
    def best_band_ms(self) -> tuple[float, float]:
        return self.best_low_ms, self.best_high_ms


def couple_force(total_n: np.ndarray, rest_n: float, gain: float) -> np.ndarray:
    """The coupled force curve: the departure from the resting force scaled by ``gain``, N."""
    if gain == 1.0:
        return total_n
    return rest_n + gain * (total_n - rest_n)


def couple_truth(truth, gain: float):
    """A RepTruth with the force quantities that scale with the drive multiplied by ``gain``."""
    if gain == 1.0:
        return truth

    def scaled(value: float | None) -> float | None:
        return None if value is None else gain * value

    return dataclasses.replace(
        truth,
        peak_force_n=truth.body_weight_n + gain * (truth.peak_force_n - truth.body_weight_n),
        net_impulse_n_s=gain * truth.net_impulse_n_s,
        propulsive_impulse_n_s=gain * truth.propulsive_impulse_n_s,
        rfd_0_50_n_s=scaled(truth.rfd_0_50_n_s),
        rfd_0_100_n_s=scaled(truth.rfd_0_100_n_s),
        rfd_0_200_n_s=scaled(truth.rfd_0_200_n_s),
        peak_rfd_n_s=scaled(truth.peak_rfd_n_s),
    )
