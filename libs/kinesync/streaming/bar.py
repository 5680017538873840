"""The bar sensor of a station (linear position transducer or bar IMU): its transform and rep metrics.

Channel conventions (``kinesync.streaming.roles.bar_rows``): ``bar_z`` is the bar's vertical
position (m; a unit of mm or cm is scaled here), ``bar_az`` its vertical acceleration (m/s², +g at
rest; a unit of g is scaled). Velocity comes from ``bar_z`` when the device has it (an LPT), else
from ``bar_az`` integrated from the rest before the rep (a bar IMU).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from kinesync.dsp.velocity import STANDARD_GRAVITY_M_S2, concentric_phase, velocity_from_rest
from kinesync.streaming.roles import bar_rows

NS = 1_000_000_000
_TO_METRES = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}
_TO_M_S2 = {"m/s^2": 1.0, "m/s2": 1.0, "m/s²": 1.0, "g": STANDARD_GRAVITY_M_S2}


@dataclass(frozen=True)
class BarConfig:
    history_s: float = 4.0  # bar position kept before a window's end, s
    min_velocity_m_s: float = 0.05  # the bar counts as rising above this, m/s
    min_displacement_m: float = 0.05  # a concentric phase raises the bar at least this much, m
    search_s: float = 0.5  # the phase lies at most this far from the rep's peak, s
    smoothing_s: float = 0.08  # Savitzky–Golay window of position and velocity, s


class BarTransform:
    """Bar channels → [position (m)] for an LPT, or [vertical acceleration (m/s², +g at rest)] for an IMU."""

    n_out = 1

    def __init__(self, channels: tuple[str, ...], units: tuple[str, ...]) -> None:
        rows = bar_rows(channels)
        self.position_row = rows.get("position")
        self.accel_row = rows.get("acceleration")
        self.acceleration = self.position_row is None and self.accel_row is not None
        self._row = self.accel_row if self.acceleration else self.position_row
        unit = ""
        if self._row is not None:
            unit = units[self._row] if len(units) == len(channels) else (units[0] if units else "")
        table = _TO_M_S2 if self.acceleration else _TO_METRES
        self._scale = table.get(unit.strip().lower(), 1.0)

    @property
    def usable(self) -> bool:
        return self._row is not None

    def __call__(self, block: np.ndarray) -> np.ndarray:
        if self._row is None:
            return np.zeros((1, block.shape[1]))
        # A NaN gap marker has no value; the stream's gap bookkeeping flags the rep instead.
        return np.nan_to_num(block[self._row : self._row + 1] * self._scale, nan=0.0)


@dataclass(frozen=True)
class BarView:
    """Bar history up to the owning window's end: sample 0 is at ``t0_ns``; ``samples`` is the position
    (m), or the vertical acceleration (m/s², +g at rest) when ``acceleration``."""

    rate_hz: float
    t0_ns: int
    samples: np.ndarray
    has_gap: bool
    acceleration: bool = False


def bar_metrics(view: BarView | None, peak_ns: int, cfg: BarConfig, fields: dict, flags: list[str]) -> None:
    """Mean and peak concentric velocity of the rep at ``peak_ns`` into ``fields``, problems into ``flags``."""
    if view is None or view.samples.size < 3:
        flags.append("no_bar_data")
        return
    if view.has_gap:
        flags.append("gap:bar")
        return
    near = round((peak_ns - view.t0_ns) * view.rate_hz / NS)
    position, velocity = view.samples, None
    if view.acceleration:
        integrated = velocity_from_rest(view.samples, view.rate_hz, near)
        if integrated is None:
            flags.append("no_bar_rest")
            return
        start, velocity = integrated
        position, near = np.zeros(velocity.size), near - start
    phase = concentric_phase(
        position, view.rate_hz, near, min_velocity_m_s=cfg.min_velocity_m_s,
        min_displacement_m=cfg.min_displacement_m, search_s=cfg.search_s, smoothing_s=cfg.smoothing_s,
        velocity_m_s=velocity,
    )
    if phase is None:
        flags.append("no_concentric_phase")
        return
    fields["mean_velocity_m_s"] = phase.mean_velocity_m_s
    fields["peak_velocity_m_s"] = phase.peak_velocity_m_s
    fields["concentric_displacement_m"] = phase.displacement_m
