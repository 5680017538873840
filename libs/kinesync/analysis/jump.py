"""Jump height from vertical force: by flight time and by impulse–momentum (Linthorne 2001).

Flight time: the body leaves the plates with velocity v0 and lands at the same height, so
t_flight = 2·v0/g and h = g·t²/8. Robust, but any change of posture between takeoff and landing
(tucked legs, landing on the heels) biases it.

Impulse–momentum: v0 = ∫(F − BW)/m dt from a moment the body is still to takeoff, h = v0²/(2g).
Exact in principle, but it needs a known starting velocity of 0 — quiet standing before the
movement — and an accurate body weight: an error δBW integrates to δv = δBW·T/m. It is reported
only when quiet standing of at least ``rest_s`` precedes the movement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from kinesync.dsp.force import body_weight

STANDARD_GRAVITY_M_S2 = 9.80665
REST_S = 0.5  # shortest quiet standing that counts as a rest period, s (default of jump_heights)


@dataclass(frozen=True)
class JumpResult:
    """One flight phase. Indices are samples of the force array; times are s from its first sample.

    Attributes:
        takeoff_index: first sample below the flight threshold.
        landing_index: first sample at or above the threshold after the flight.
        takeoff_s, landing_s: threshold crossings, linearly interpolated between samples, s.
        flight_time_s: landing_s − takeoff_s, s.
        height_flight_m: g·t²/8, m.
        movement_start_index: last sample of the quiet standing the impulse method starts from
            (None without such a rest period).
        takeoff_velocity_m_s: v0 by impulse–momentum, m/s (None without a rest period).
        height_impulse_m: v0²/(2g), m (None without a rest period).
        inconsistent: both heights exist and differ by more than ``max_disagreement_m``.
    """

    takeoff_index: int
    landing_index: int
    takeoff_s: float
    landing_s: float
    flight_time_s: float
    height_flight_m: float
    movement_start_index: int | None
    takeoff_velocity_m_s: float | None
    height_impulse_m: float | None
    inconsistent: bool


def jump_heights(
    fz_n: np.ndarray,
    fs_hz: float,
    bw_n: float,
    *,
    flight_threshold_n: float = 20.0,
    min_flight_s: float = 0.100,
    rest_sd_n: float | None = None,
    rest_k_sd: float = 5.0,
    rest_s: float = REST_S,
    max_disagreement_m: float = 0.02,
    g_m_s2: float = STANDARD_GRAVITY_M_S2,
) -> list[JumpResult]:
    """Every flight phase in ``fz_n`` with its jump height by flight time and by impulse–momentum.

    Args:
        fz_n: total vertical force of both plates, N (unfiltered or low-passed at ≥ 100 Hz).
        fs_hz: sampling rate, Hz.
        bw_n: body weight (system weight), N; the mass is m = BW/g.
        flight_threshold_n: force below which the plates are unloaded, N.
        min_flight_s: shortest flight that counts, s (shorter dips are unloading artefacts).
        rest_sd_n: SD of the force in quiet standing, N; None: the SD of the steadiest ``rest_s``.
        rest_k_sd: a sample is quiet when |F − BW| ≤ rest_k_sd·rest_sd_n.
        rest_s: shortest quiet standing that counts as a rest period, s.
        max_disagreement_m: heights differing by more than this are flagged inconsistent, m.
        g_m_s2: gravitational acceleration, m/s².

    The impulse integral runs from the last sample of the last rest period (≥ ``rest_s`` of quiet
    samples) that ends after the previous landing and before this takeoff, to the interpolated
    takeoff crossing (trapezoid rule), the same instant the flight time starts at. Without such a
    rest period the impulse height is None.
    """
    f = np.asarray(fz_n, dtype=np.float64)
    if f.ndim != 1:
        raise ValueError(f"force must be 1-D, got shape {f.shape}")
    if not bw_n > 0.0:
        raise ValueError(f"bw_n must be positive, got {bw_n}")
    flights = _runs(f < flight_threshold_n, max(1, math.ceil(min_flight_s * fs_hz - 1e-9)))
    if not flights:
        return []
    if rest_sd_n is None:
        steady = body_weight(f, fs_hz, window_s=rest_s)
        rest_sd_n = steady[1] if steady is not None else float("nan")
    quiet_runs = _runs(np.abs(f - bw_n) <= rest_k_sd * rest_sd_n, max(1, math.ceil(rest_s * fs_hz - 1e-9)))
    quiet_ends = np.array([stop - 1 for _, stop in quiet_runs], dtype=np.int64)
    mass = bw_n / g_m_s2
    results = []
    previous_landing = -1
    for takeoff, landing in flights:
        t_off = _crossing(f, takeoff, flight_threshold_n) / fs_hz
        t_land = _crossing(f, landing, flight_threshold_n) / fs_hz if landing < f.size else landing / fs_hz
        flight = t_land - t_off
        h_flight = g_m_s2 * flight * flight / 8.0
        candidates = quiet_ends[(quiet_ends > previous_landing) & (quiet_ends < takeoff)]
        start = v0 = h_imp = None
        if candidates.size:
            start = int(candidates[-1])
            v0 = _velocity_at_crossing(f, fs_hz, bw_n, start, takeoff, t_off * fs_hz) / mass
            h_imp = v0 * v0 / (2.0 * g_m_s2) if v0 > 0 else 0.0
        results.append(
            JumpResult(
                takeoff_index=int(takeoff),
                landing_index=int(landing),
                takeoff_s=t_off,
                landing_s=t_land,
                flight_time_s=flight,
                height_flight_m=h_flight,
                movement_start_index=start,
                takeoff_velocity_m_s=v0,
                height_impulse_m=h_imp,
                inconsistent=h_imp is not None and abs(h_imp - h_flight) > max_disagreement_m,
            )
        )
        previous_landing = landing
    return results


def _velocity_at_crossing(f: np.ndarray, fs_hz: float, bw_n: float, start: int, takeoff: int, crossing: float) -> float:
    """∫(F − BW) dt (N·s) from sample ``start`` to the fractional index ``crossing`` in (takeoff − 1, takeoff]."""
    excess = f[start:takeoff] - bw_n  # samples start … takeoff − 1, all still in contact
    whole = (excess.sum() - 0.5 * (excess[0] + excess[-1])) if excess.size > 1 else 0.0
    # The last partial interval runs from sample takeoff − 1 to the crossing, where F = threshold:
    # interpolating F there linearly gives the trapezoid below.
    frac = crossing - (takeoff - 1)
    f_cross = f[takeoff - 1] + frac * (f[takeoff] - f[takeoff - 1])
    partial = 0.5 * (f[takeoff - 1] + f_cross) - bw_n
    return float((whole + frac * partial) / fs_hz)


def _runs(mask: np.ndarray, min_len: int) -> list[tuple[int, int]]:
    """(start, stop) of every run of True at least ``min_len`` long (stop exclusive)."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    keep = (stops - starts) >= min_len
    return list(zip(starts[keep].tolist(), stops[keep].tolist(), strict=True))


def _crossing(f: np.ndarray, i: int, level: float) -> float:
    """Fractional index where F crosses ``level`` between samples i − 1 and i (i if i == 0)."""
    if i <= 0:
        return float(i)
    a, b = f[i - 1], f[i]
    return float(i - 1 + (a - level) / (a - b)) if a != b else float(i)
