"""Bar velocity from a linear position transducer (or a bar-mounted accelerometer).

Numbers in, numbers out: ``position_m`` is the vertical bar position (m, up positive, any offset),
``fs_hz`` its sampling rate. Velocity is the first derivative of a local quartic fit
(Savitzky–Golay, 80 ms), which differentiates and low-passes in one step without a phase shift; it runs
on a finished rep, so a zero-phase filter is harmless here (unlike EMG onsets).

The concentric phase of a rep runs from the bottom, where the velocity crosses zero upwards (or the
bar leaves rest), to the top, where the velocity is back at zero: the definition of load–velocity
tables. A turn at the bottom is the smoothed velocity's zero crossing, interpolated between
samples; a stop at the top (and a start from rest) is located by fitting the shape of a bar coming
to (or leaving) rest to the raw position, which the smoothing filter would round off (to the
velocity, with an accelerometer). Mean concentric velocity
(MCV) is the rise over the phase divided by its duration (the exact mean of the velocity over it);
peak concentric velocity (PCV) is the largest velocity in it. A jump's phase ends at takeoff, where
the bar starts to fall freely. The propulsive phase runs from the same start to the first instant
the bar's acceleration falls below −g (Sánchez-Medina et al. 2010); its mean is the mean propulsive
velocity (MPV). Definitions and references: docs/metrics.md, "Bar velocity".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.signal import savgol_filter

STANDARD_GRAVITY_M_S2 = 9.80665
_PEAK_SMOOTHING_S = 0.1  # velocity filter for a lift's peak concentric velocity, s


@dataclass(frozen=True)
class ConcentricPhase:
    """One concentric phase; indices are (fractional) sample indices into the position record."""

    start_index: float
    end_index: float
    peak_index: int
    mean_concentric_velocity_m_s: float
    peak_concentric_velocity_m_s: float
    displacement_m: float
    duration_s: float
    propulsive_end_index: float
    mean_propulsive_velocity_m_s: float
    takeoff: bool = False  # the phase ended at a jump's takeoff
    from_rest: bool = False  # the bar left rest (a push from a pause) rather than turning at the bottom


def _window_samples(fs_hz: float, window_s: float, polyorder: int) -> int:
    n = max(polyorder + 2, round(window_s * fs_hz))
    return n if n % 2 == 1 else n + 1


def smooth_position(position_m: np.ndarray, fs_hz: float, window_s: float = 0.08, polyorder: int = 4) -> np.ndarray:
    """Savitzky–Golay smoothed position (m) over ``window_s`` (s); returns the input if too short."""
    x = np.asarray(position_m, dtype=np.float64)
    n = _window_samples(fs_hz, window_s, polyorder)
    if x.size < n:
        return x.copy()
    return savgol_filter(x, n, polyorder, mode="interp")


def bar_velocity(position_m: np.ndarray, fs_hz: float, window_s: float = 0.08, polyorder: int = 4) -> np.ndarray:
    """Vertical bar velocity (m/s) from position (m): Savitzky–Golay first derivative over ``window_s``.

    An 80 ms quartic fit passes the movement (its content lies below ~5 Hz) nearly unchanged, even
    through the sharp turn of a jump's takeoff, and averages sensor noise: at 1000 Hz and 0.2 mm
    position noise the velocity noise is a few mm/s.
    """
    x = np.asarray(position_m, dtype=np.float64)
    n = _window_samples(fs_hz, window_s, polyorder)
    if x.size < n:
        return np.gradient(x, 1.0 / fs_hz) if x.size >= 2 else np.zeros_like(x)
    return savgol_filter(x, n, polyorder, deriv=1, delta=1.0 / fs_hz, mode="interp")


def bar_acceleration(position_m: np.ndarray, fs_hz: float, window_s: float = 0.08, polyorder: int = 4) -> np.ndarray:
    """Vertical bar acceleration (m/s², gravity not included): Savitzky–Golay second derivative."""
    x = np.asarray(position_m, dtype=np.float64)
    n = _window_samples(fs_hz, window_s, polyorder)
    if x.size < n:
        return np.gradient(np.gradient(x, 1.0 / fs_hz), 1.0 / fs_hz) if x.size >= 3 else np.zeros_like(x)
    return savgol_filter(x, n, polyorder, deriv=2, delta=1.0 / fs_hz, mode="interp")


def velocity_from_rest(
    accel_m_s2: np.ndarray,
    fs_hz: float,
    before_index: int,
    *,
    gravity_m_s2: float = STANDARD_GRAVITY_M_S2,
    quiet_m_s2: float = 0.3,
    quiet_s: float = 0.3,
    guard_s: float = 0.1,
    max_before_s: float = 3.0,
) -> tuple[int, np.ndarray] | None:
    """Bar velocity (m/s) from an accelerometer (m/s², +g at rest), integrated from the rest before a rep.

    The rest is the last stretch of at least ``quiet_s`` where |a − g| < ``quiet_m_s2`` that ends
    before ``before_index`` (and at most ``max_before_s`` before it): standing, or a pause at the
    bottom. The accelerometer's bias is the mean of a − g over the rest without its last ``guard_s``
    (a slow start of the movement may hide there), and the velocity is integrated from that point,
    where it is zero, to the record's end. Needs a pause before the rep: a long stretch of steady
    velocity would pass for one.

    Returns:
        (index the velocity starts at, velocity from there on), or None without such a rest.
    """
    a = np.asarray(accel_m_s2, dtype=np.float64) - gravity_m_s2
    hold, guard = max(2, round(quiet_s * fs_hz)), round(guard_s * fs_hz)
    quiet = np.abs(a) < quiet_m_s2
    edges = np.flatnonzero(np.diff(np.concatenate(([0], quiet.astype(np.int8), [0]))))
    lo = before_index - max_before_s * fs_hz
    runs = [(int(s0), int(s1)) for s0, s1 in zip(edges[::2], edges[1::2], strict=True)
            if s1 - s0 >= hold and lo <= s1 <= before_index]
    if not runs:
        return None
    r0, r1 = runs[-1]
    start = r1 - guard
    bias = float(a[r0:start].mean())
    d = a[start:] - bias
    return start, np.concatenate(([0.0], np.cumsum((d[1:] + d[:-1]) * (0.5 / fs_hz))))


def concentric_runs(velocity_m_s: np.ndarray, min_velocity_m_s: float = 0.05) -> list[tuple[int, int]]:
    """[start, stop) sample ranges where the velocity exceeds ``min_velocity_m_s`` (m/s)."""
    up = np.asarray(velocity_m_s) > min_velocity_m_s
    if not up.any():
        return []
    edges = np.flatnonzero(np.diff(up.astype(np.int8)))
    starts = list(edges[~up[edges]] + 1)  # a rise: sample edge is below, edge + 1 above
    stops = list(edges[up[edges]] + 1)
    if up[0]:
        starts.insert(0, 0)
    if up[-1]:
        stops.append(up.size)
    return [(int(a), int(b)) for a, b in zip(starts, stops, strict=True)]


def _crossing(v: np.ndarray, i_below: int, i_above: int, level: float) -> float:
    """Fractional index between two adjacent samples where v crosses ``level``."""
    a, b = float(v[i_below]), float(v[i_above])
    if b == a:
        return float(i_above)
    return i_below + (level - a) / (b - a) * (i_above - i_below)


def _interp(x: np.ndarray, index: float) -> float:
    i = min(max(math.floor(index), 0), x.size - 2)
    f = index - i
    return float(x[i] + f * (x[i + 1] - x[i]))


def concentric_phase(
    position_m: np.ndarray,
    fs_hz: float,
    near_index: int | None = None,
    *,
    min_velocity_m_s: float = 0.05,
    min_displacement_m: float = 0.05,
    search_s: float = 0.5,
    smoothing_s: float = 0.08,
    polyorder: int = 4,
    velocity_m_s: np.ndarray | None = None,
    gravity_m_s2: float = STANDARD_GRAVITY_M_S2,
    rest_exit_index: float | None = None,
) -> ConcentricPhase | None:
    """The concentric phase of a rep in a position record, with its mean, peak and propulsive velocity.

    The phase runs from the bottom, where the velocity crosses zero upwards (or the bar leaves rest),
    to the top, where it is back at zero (or to a jump's takeoff): the definition of load–velocity
    tables. A rise is detected where the velocity exceeds ``min_velocity_m_s`` (noise never does)
    and then extended to the zero crossings on either side, so a sticking region that slows the bar
    below that level stays inside the phase.

    Args:
        position_m: vertical bar position, m (up positive).
        fs_hz: sampling rate, Hz.
        near_index: the rep's reference sample (e.g. its peak drive force); the phase chosen is the
            one containing it, else the nearest within ``search_s``. None: the phase with the
            largest rise.
        min_velocity_m_s: velocity the bar must exceed for a rise to count, m/s.
        min_displacement_m: a phase must raise the bar at least this much (noise never does), m.
        search_s: how far from ``near_index`` a phase may lie, s.
        smoothing_s: Savitzky–Golay window for position, velocity and acceleration, s.
        polyorder: Savitzky–Golay polynomial order.
        velocity_m_s: the velocity, if already known (e.g. integrated from an accelerometer, at rest
            at index 0: the level it settles at after the top is taken for drift and removed as a
            ramp from there); else derived from ``position_m``.
        gravity_m_s2: g, for the propulsive phase and the free fall after a jump's takeoff.
        rest_exit_index: where another sensor saw the bar leave rest (e.g. the force plates under a
            jump from a pause: ``kinesync.dsp.rest_exit.force_leaves_rest``), as a fractional index
            into this record. When the bar leaves rest and this lies within 50 ms of the start the
            position implies, it replaces that extrapolated start.

    Returns:
        The phase, or None if there is no complete one (a phase touching either end of the record
        is incomplete: its true start or end is not in the data).
    """
    x = np.asarray(position_m, dtype=np.float64)
    if x.size < 3:
        return None
    from_position = velocity_m_s is None
    if from_position:
        v = bar_velocity(x, fs_hz, smoothing_s, polyorder)
        y = smooth_position(x, fs_hz, smoothing_s, polyorder)
        acc = bar_acceleration(x, fs_hz, smoothing_s, polyorder)

        def height(index: float) -> float:
            return _interp(y, index)
    else:
        v = np.asarray(velocity_m_s, dtype=np.float64)
        acc = np.gradient(v, 1.0 / fs_hz)
        # Position from the given velocity, so an accelerometer needs no position channel.
        cumulative = np.concatenate(([0.0], np.cumsum((v[1:] + v[:-1]) * (0.5 / fs_hz))))

        def height(index: float) -> float:
            return _integral_to(cumulative, v, index, fs_hz)
    candidates: set[tuple[int, int]] = set()
    for a, b in concentric_runs(v, min_velocity_m_s):
        if a == 0 or b == v.size:
            continue
        # Out to the zero crossings: i0 the last sample at or below zero before, i1 the first after.
        i0 = a - 1
        while i0 > 0 and v[i0] > 0.0:
            i0 -= 1
        # The top, roughly: back below half the detection level (an accelerometer's slowly drifting
        # velocity may never cross zero at rest); the stop itself is located below.
        i1 = b
        while i1 < v.size - 1 and v[i1] > 0.5 * min_velocity_m_s:
            i1 += 1
        if v[i0] > 0.0 or v[i1] > 0.5 * min_velocity_m_s:
            continue
        candidates.add((i0, i1))  # runs split by a sticking region share their crossings
    phases = []
    for i0, i1 in sorted(candidates):
        start = _crossing(v, i0, i0 + 1, 0.0)
        end = _crossing(v, i1 - 1, i1, min(0.5 * min_velocity_m_s, float(v[i1 - 1])))
        rise = height(end) - height(start)
        if rise >= min_displacement_m:
            phases.append((i0 + 1, i1, start, end, rise))
    if not phases:
        return None
    if near_index is None:
        a, b, start, end, rise = max(phases, key=lambda c: c[4])
    else:
        def distance(c: tuple) -> float:
            return max(c[2] - near_index, near_index - c[3], 0.0)

        a, b, start, end, rise = min(phases, key=distance)
        if distance((a, b, start, end, rise)) > search_s * fs_hz:
            return None
    peak = a + int(np.argmax(v[a:b]))
    rest = round(0.1 * fs_hz)
    from_rest = float(v[max(0, a - rest):a].min(initial=0.0)) > -min_velocity_m_s
    if from_rest:
        # The bar leaves rest (a jump from a pause) rather than turning at the bottom: the velocity
        # creeps up from zero, so its crossing is where noise ends, not where the movement starts.
        rise_index = a + int(np.argmax(v[a:peak + 1] > min_velocity_m_s))
        start = _leave_rest(x, v, rise_index, peak, fs_hz, start, position=from_position)
        if rest_exit_index is not None and abs(rest_exit_index - start) <= 0.05 * fs_hz:
            start = float(rest_exit_index)
    takeoff = _takeoff(acc, peak, b, fs_hz, gravity_m_s2)
    if takeoff is not None and not from_position:
        # An accelerometer's acceleration is not smoothed: its corner, where the steep fall of the
        # drive meets the flat free fall, is the takeoff itself (the −0.8 g crossing is a few ms
        # early there), located by the shape of a stop fitted to the acceleration.
        takeoff = _rest_edge(acc, takeoff, fs_hz, (1, 2, 3), reach_s=0.01, span_s=0.04)
    if takeoff is not None:
        end = takeoff
    elif from_position:
        # A lift stops at the top with a finite deceleration and stays there; the smoothing filter
        # rounds that corner, so the shape of a stop is fitted to the raw position instead, pinned
        # by the flat rest after it.
        end = _rest_edge(x, end, fs_hz, (2, 3))
    else:
        # An accelerometer's velocity keeps the corner (it is not smoothed) but drifts slowly, so
        # the same shape, one order down, is fitted to it: the level after the stop is its zero.
        end, level = _rest_edge(v, end, fs_hz, (1, 2, 3), with_level=True)
        # The record starts at rest (velocity zero), so the level after the stop is the drift the
        # integration gathered since: a bias error grows linearly, so it is removed as a ramp.
        if abs(level) < min_velocity_m_s and end > 0:
            v = v - level * np.arange(v.size) / end
            cumulative = np.concatenate(([0.0], np.cumsum((v[1:] + v[:-1]) * (0.5 / fs_hz))))
            i = math.floor(start)
            if 0 <= i < v.size - 1 and v[i] <= 0.0 < v[i + 1]:
                start = _crossing(v, i, i + 1, 0.0)
    rise = height(end) - height(start)
    prop_end = _propulsive_end(acc, start, end, gravity_m_s2)
    prop_rise = height(prop_end) - height(start)
    duration = (end - start) / fs_hz
    peak_velocity = float(v[peak])
    if from_position:
        # The largest of noisy samples reads high; a longer window halves that and still follows
        # the peak of a lift (a jump's peak, at takeoff, is sharper: its window stays as it is).
        wide = bar_velocity(x, fs_hz, max(smoothing_s, _PEAK_SMOOTHING_S), polyorder) if takeoff is None else v
        inside = wide[math.ceil(start):math.floor(end) + 1]
        if inside.size:
            peak_velocity = float(inside.max())
    return ConcentricPhase(
        start_index=start, end_index=end, peak_index=peak, mean_concentric_velocity_m_s=rise / duration,
        peak_concentric_velocity_m_s=peak_velocity, displacement_m=rise, duration_s=duration,
        propulsive_end_index=prop_end,
        mean_propulsive_velocity_m_s=prop_rise / ((prop_end - start) / fs_hz),
        takeoff=takeoff is not None, from_rest=from_rest,
    )


def _least_squares(basis: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least squares of ``y`` (samples) on each candidate's ``basis`` (candidates × samples × terms),
    all candidates in one batched solve; the first term must be the constant. Returns each
    candidate's residual sum of squares and coefficients."""
    mean = float(y.mean())  # the constant term absorbs it: smaller sums, the same fit
    yc = y - mean
    bt = basis.transpose(0, 2, 1)
    gram = bt @ basis
    rhs = bt @ yc
    try:
        coef = np.linalg.solve(gram, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:  # a degenerate candidate: the slow, rank-safe way
        coef = np.stack([np.linalg.lstsq(b, yc, rcond=None)[0] for b in basis])
    resid = yc[None, :] - (basis @ coef[..., None])[..., 0]
    coef[:, 0] += mean
    return (resid * resid).sum(axis=1), coef


def _leave_rest(x: np.ndarray, v: np.ndarray, rise: int, peak: int, fs_hz: float, guess: float, *,
                position: bool) -> float:
    """Where the bar leaves rest; ``rise`` is where the velocity ``v`` first exceeds the detection
    level, ``guess`` the answer if the fit fails.

    The force leaves its resting value at a finite rate, so the velocity grows as d² first for d the
    time since the start. Fitted by least squares from 120 ms before ``rise`` up to where the velocity
    reaches 40 % of its peak (at most 0.5 m/s): with ``position``, the raw position ``x`` as
    c₀ + c₃d³, the leading term only (the smoothed velocity would smear the start, and under an
    LPT's noise higher terms make the start unidentifiable: 5–55 ms early; the leading term is
    stable but biased by how the force's rise steepens, a few ms: docs/metrics.md); else the velocity as
    c₀ + c₁t + c₂d² + c₃d³ + c₄d⁴ (c₀ + c₁t: an integrated accelerometer's slow drift). The start is
    searched on the sample grid in the 80 ms before ``rise`` and refined by a parabola through the
    residuals.
    """
    top = min(0.5, 0.4 * float(v[peak]))
    hi = rise + int(np.argmax(v[rise:peak + 1] > top))
    lo = rise - round(0.12 * fs_hz)
    if lo < 0 or hi - rise < 5:
        return guess
    seg = x[lo:hi] if position else v[lo:hi]
    t = np.arange(lo, hi, dtype=np.float64)
    starts = np.arange(rise - round(0.08 * fs_hz), rise + 1, dtype=np.float64)
    d = np.maximum(t[None, :] - starts[:, None], 0.0) / fs_hz  # (candidates, samples)
    ones = np.ones_like(d)
    if position:
        basis = np.stack((ones, d**3), axis=-1)
    else:
        basis = np.stack((ones, np.broadcast_to(t - rise, d.shape), d * d, d**3, d**4), axis=-1)
    sse, _ = _least_squares(basis, seg)
    k = int(np.argmin(sse))
    if k == 0 or k == starts.size - 1:
        return guess
    den = sse[k - 1] - 2.0 * sse[k] + sse[k + 1]
    return float(starts[k] + (0.5 * (sse[k - 1] - sse[k + 1]) / den if den > 0 else 0.0))


def _rest_edge(x: np.ndarray, guess: float, fs_hz: float, powers: tuple[int, ...], *, reach_s: float = 0.04,
               span_s: float = 0.08, with_level: bool = False):
    """Where the bar comes to rest at the top, near ``guess`` (fractional index); ``guess`` if not found.

    ``x`` is the position (``powers`` (2, 3)) or the velocity ((1, 2)). Model: flat after the stop,
    and before it that level plus Σ kₚ·dᵖ for d the time left to the stop (the velocity reaches zero
    linearly, with any finite deceleration and jerk). The stop is the one of least squared residual over
    ``span_s`` either side, searched within ``reach_s`` of the estimate, which is re-centred until
    the best stop lies inside the search, and refined between samples by a parabola through the
    residuals. With ``with_level``: (stop, the level after it).
    """
    reach, span = round(reach_s * fs_hz), round(span_s * fs_hz)
    centre = round(guess)
    for _ in range(4):
        lo, hi = centre - reach - span, centre + reach + span
        if lo < 0 or hi > x.size:
            return (guess, 0.0) if with_level else guess
        seg = x[lo:hi]
        t = np.arange(lo, hi, dtype=np.float64)
        stops = np.arange(centre - reach, centre + reach + 1, dtype=np.float64)
        d = np.maximum(stops[:, None] - t[None, :], 0.0) / fs_hz  # (candidates, samples)
        basis = np.stack([np.ones_like(d)] + [d**p for p in powers], axis=-1)
        sse, coef = _least_squares(basis, seg)
        levels = coef[:, 0]
        k = int(np.argmin(sse))
        if 0 < k < stops.size - 1:
            den = sse[k - 1] - 2.0 * sse[k] + sse[k + 1]
            stop = float(stops[k] + (0.5 * (sse[k - 1] - sse[k + 1]) / den if den > 0 else 0.0))
            return (stop, float(levels[k])) if with_level else stop
        centre = int(stops[k])
    return (guess, 0.0) if with_level else guess


def _integral_to(cumulative: np.ndarray, v: np.ndarray, index: float, fs_hz: float) -> float:
    """∫v from sample 0 to a fractional index, the velocity linear between samples, m."""
    i = min(max(math.floor(index), 0), v.size - 2)
    f = index - i
    return float(cumulative[i] + (f * v[i] + (v[i + 1] - v[i]) * f * f / 2.0) / fs_hz)


def _takeoff(acc: np.ndarray, peak: int, stop: int, fs_hz: float, g: float,
             flight_s: float = 0.1, tolerance_m_s2: float = 1.0, level_g: float = 0.8) -> float | None:
    """A jump's takeoff after the peak velocity, or None when the bar never flies (a lift).

    Flight: after the acceleration falls below −g/2 it stays at −g (within ``tolerance_m_s2``) for
    ``flight_s``. The takeoff is where it falls through −``level_g``·g: the smoothing filter rounds
    the corner where the force reaches 0 N, and at the force's steep fall there (tens of kN/s) the
    smoothed curve passes −0.8 g within a few ms of the true corner.
    """
    below = np.flatnonzero(acc[peak:stop] < -g / 2.0)
    if below.size == 0:
        return None
    i = peak + int(below[0])
    # Skip the smoothing filter's transition before asking for a steady −g.
    lo, hi = i + round(0.04 * fs_hz), i + round((0.04 + flight_s) * fs_hz)
    if i == 0 or hi > acc.size or abs(float(np.median(acc[lo:hi])) + g) > tolerance_m_s2:
        return None
    j = i + int(np.argmax(acc[i:hi] < -level_g * g))
    return _crossing(acc, j - 1, j, -level_g * g)


def _propulsive_end(acc: np.ndarray, start: float, end: float, g: float) -> float:
    """First instant in (start, end) where the acceleration falls below −g; ``end`` if it never does."""
    i0, i1 = math.floor(start) + 1, math.ceil(end)
    below = np.flatnonzero(acc[i0:i1] < -g)
    if below.size == 0:
        return end
    i = i0 + int(below[0])
    return max(start, min(end, _crossing(acc, i - 1, i, -g)))
