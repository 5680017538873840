"""The bar sensor of a station (linear position transducer or bar IMU): its transform and rep metrics.

Channel conventions (``kinesync.streaming.roles.bar_rows``): ``bar_z`` is the bar's vertical
position (m; a unit of mm or cm is scaled here), ``bar_az`` its vertical acceleration (m/s², +g at
rest; a unit of g is scaled). Velocity comes from ``bar_z`` when the device has it (an LPT), else
from ``bar_az`` integrated from the rest before the rep (a bar IMU).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kinesync.analysis.phases import push_start
from kinesync.dsp.velocity import STANDARD_GRAVITY_M_S2, bar_velocity, concentric_phase, velocity_from_rest
from kinesync.streaming.roles import bar_rows

if TYPE_CHECKING:
    from kinesync.streaming.rep import ForceView

NS = 1_000_000_000
_TO_METRES = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}
_TO_M_S2 = {"m/s^2": 1.0, "m/s2": 1.0, "m/s²": 1.0, "g": STANDARD_GRAVITY_M_S2}
# The data a concentric phase needs after its top: the stop is fitted to 0.12 s of rest after it
# (``kinesync.dsp.velocity._rest_edge``: its reach and span), re-centred when its first estimate is off;
# with less, the phase ends at the smoothed estimate, about 10 ms early (MCV up to 1 % high), or is not
# found at all. s.
AFTER_TOP_S = 0.25


@dataclass(frozen=True)
class BarConfig:
    history_s: float = 4.0  # bar position kept before a window's end, s
    min_velocity_m_s: float = 0.05  # a rise is detected above this, then extended to the zero crossings, m/s
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


def bar_metrics(view: BarView | None, peak_ns: int, cfg: BarConfig, fields: dict, flags: list[str],
                load_kg: float | None = None, plates: ForceView | None = None) -> bool:
    """Mean, peak and mean propulsive velocity of the rep at ``peak_ns`` into ``fields`` (and its mean
    concentric power when the external load ``load_kg`` is known), problems into ``flags``.

    ``plates``: the force under the same body (not under a bench). When a position transducer's bar
    leaves rest (a jump from a pause), the plates locate that start far better than the position's
    extrapolation (``kinesync.analysis.phases.push_start``), and the phase is measured from there.

    Returns whether more bar data could change the answer: the bar rose within ``AFTER_TOP_S`` of the
    record's end and no phase was found, or the phase ends within ``AFTER_TOP_S`` of it (the station
    then waits for more, up to ``AnalysisConfig.rep_wait_s``)."""
    if view is None or view.samples.size < 3:
        flags.append("no_bar_data")
        return False
    if view.has_gap:
        flags.append("gap:bar")
        return False
    near = round((peak_ns - view.t0_ns) * view.rate_hz / NS)
    position, velocity = view.samples, None
    if view.acceleration:
        integrated = velocity_from_rest(view.samples, view.rate_hz, near)
        if integrated is None:
            flags.append("no_bar_rest")
            return False
        start, velocity = integrated
        position, near = np.zeros(velocity.size), near - start
    phase = concentric_phase(
        position, view.rate_hz, near, min_velocity_m_s=cfg.min_velocity_m_s,
        min_displacement_m=cfg.min_displacement_m, search_s=cfg.search_s, smoothing_s=cfg.smoothing_s,
        velocity_m_s=velocity,
    )
    edge = max(1, round(AFTER_TOP_S * view.rate_hz))
    if phase is None:
        flags.append("no_concentric_phase")
        v = velocity if velocity is not None else bar_velocity(position, view.rate_hz, cfg.smoothing_s)
        return float(np.max(v[-edge:])) > 0.5 * cfg.min_velocity_m_s  # the top's own level (concentric_phase)
    if phase.from_rest and not view.acceleration and plates is not None and not plates.has_gap:
        exit_index = _plates_rest_exit(plates, view, phase.start_index)
        if exit_index is not None:
            phase = concentric_phase(
                position, view.rate_hz, near, min_velocity_m_s=cfg.min_velocity_m_s,
                min_displacement_m=cfg.min_displacement_m, search_s=cfg.search_s, smoothing_s=cfg.smoothing_s,
                rest_exit_index=exit_index,
            ) or phase
    fields["mean_concentric_velocity_m_s"] = phase.mean_concentric_velocity_m_s
    fields["peak_concentric_velocity_m_s"] = phase.peak_concentric_velocity_m_s
    fields["concentric_displacement_m"] = phase.displacement_m
    fields["mean_propulsive_velocity_m_s"] = phase.mean_propulsive_velocity_m_s
    if load_kg is not None and load_kg > 0.0:
        fields["mean_concentric_power_w"] = mean_concentric_power_w(
            load_kg, phase.displacement_m, phase.duration_s, *_end_velocities(phase, velocity, view, cfg))
    return phase.end_index > position.size - 1 - edge


def _plates_rest_exit(plates: ForceView, view: BarView, start_index: float) -> float | None:
    """The plates' start of the push, as an index into the bar record; ``start_index`` is the bar's
    own estimate (a few ms late at most), so the plates' rest ends 30 ms before it."""
    start_ns = view.t0_ns + start_index * NS / view.rate_hz
    search = round((start_ns - plates.t0_ns) * plates.rate_hz / NS - 0.03 * plates.rate_hz)
    exit_index = push_start(plates.total, plates.rate_hz, search)
    if exit_index is None:
        return None
    return (plates.t0_ns + exit_index * NS / plates.rate_hz - view.t0_ns) * view.rate_hz / NS


def _end_velocities(phase, velocity: np.ndarray | None, view: BarView, cfg: BarConfig) -> tuple[float, float]:
    """Velocity at the phase's start and end, m/s: zero (the bottom's turn, the stop at the top or
    leaving rest), except at a jump's takeoff."""
    if not phase.takeoff:
        return 0.0, 0.0
    if velocity is None:
        velocity = bar_velocity(view.samples, view.rate_hz, cfg.smoothing_s)
    i = min(max(int(phase.end_index), 0), velocity.size - 2)
    f = phase.end_index - i
    return 0.0, float(velocity[i] + f * (velocity[i + 1] - velocity[i]))


def mean_concentric_power_w(load_kg: float, rise_m: float, duration_s: float, v_start_m_s: float,
                            v_end_m_s: float) -> float:
    """Mean of m·(g + a)·v over the concentric phase, W: the work against gravity plus the kinetic
    energy gained, over the duration (∫(g + a)·v dt = g·rise + (v_end² − v_start²)/2, exactly)."""
    work = load_kg * (STANDARD_GRAVITY_M_S2 * rise_m + (v_end_m_s**2 - v_start_m_s**2) / 2.0)
    return work / duration_s


class VelocityLoss:
    """Per-set velocity loss of a station's reps: (reference MCV − rep MCV) / reference · 100.

    The reference is the best MCV of the set's first two reps (the fastest rep of a set is usually
    the first or the second: Sánchez-Medina & González-Badillo 2011); the first rep is judged
    against itself. A set is the plan's set when the station follows a plan, else reps separated
    by at most ``set_gap_s``; another athlete starts a new set.
    """

    def __init__(self, set_gap_s: float) -> None:
        self._gap_ns = round(set_gap_s * NS)
        self._key: object = None
        self._last_ns: int | None = None
        self._first: list[float] = []

    def observe(self, rep_ns: int, mcv_m_s: float | None, athlete: str | None, position: dict) -> float | None:
        """The loss of a rep at ``rep_ns`` (reps in time order), %; None without its MCV."""
        if position:
            key: object = (athlete, position.get("block_index"), position.get("set_index"))
            new = key != self._key
        else:
            key = (athlete, None)
            new = key != self._key or self._last_ns is None or rep_ns - self._last_ns > self._gap_ns
        self._last_ns = rep_ns
        if new:
            self._key, self._first = key, []
        if mcv_m_s is None or not mcv_m_s > 0.0:
            return None
        if len(self._first) < 2:
            self._first.append(mcv_m_s)
        reference = max(self._first)
        return (reference - mcv_m_s) / reference * 100.0
