"""Offset between two devices' clocks from a sync pulse both recorded (cross-correlation).

Both recordings are put on one fine common grid (linear interpolation at ``grid_hz``), normalised,
and cross-correlated; the lag of the maximum, refined by parabolic interpolation, is the offset.
The uncertainty comes from the pulses themselves: each pulse is cross-correlated on its own
around the global estimate, and the standard error of those per-pulse offsets (with the grid's
quantisation as a floor) is reported. A single pulse only gets the quantisation floor.

Sign: ``offset_s`` > 0 means B's clock reads later than A's for the same event
(``t_B = t_A + offset_s``); configure it as B's latency (``KINESYNC_GATEWAY_LATENCY_MS``) with A
as the reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import signal


@dataclass(frozen=True)
class OffsetEstimate:
    offset_s: float
    uncertainty_s: float  # one standard error
    pulses: int
    peak_correlation: float  # 0..1

    @property
    def offset_ms(self) -> float:
        return self.offset_s * 1e3

    @property
    def uncertainty_ms(self) -> float:
        return self.uncertainty_s * 1e3


def _normalise(x: np.ndarray) -> np.ndarray:
    """Centre a pulse train on the midpoint of its two levels and scale it to unit step height.

    Two-level clustering (iterated midpoint of the low and high means), so a short duty cycle
    (10 ms pulses every few seconds) still finds its high level.
    """
    lo_p, hi_p = np.percentile(x, [0.1, 99.9])
    thr = (lo_p + hi_p) / 2
    lo = hi = thr
    for _ in range(20):
        low, high = x[x < thr], x[x >= thr]
        if low.size == 0 or high.size == 0:
            break
        lo, hi = float(low.mean()), float(high.mean())
        new = (lo + hi) / 2
        if new == thr:
            break
        thr = new
    if not np.isfinite(hi - lo) or hi - lo <= 0:
        raise ValueError("the sync channel is flat: no pulse to align on")
    return (x - thr) / (hi - lo)


def _parabolic(c: np.ndarray, k: int) -> float:
    if 0 < k < len(c) - 1:
        y0, y1, y2 = c[k - 1], c[k], c[k + 1]
        den = y0 - 2 * y1 + y2
        if den < 0:
            return k + 0.5 * (y0 - y2) / den
    return float(k)


def _pulse_edges(x: np.ndarray, hysteresis: float = 0.25) -> np.ndarray:
    """Indices of rising edges of a normalised pulse train, with hysteresis so noise is no edge."""
    state = np.where(x > hysteresis, 1, np.where(x < -hysteresis, -1, 0))
    idx = np.where(state != 0, np.arange(x.size), 0)
    np.maximum.accumulate(idx, out=idx)
    held = state[idx]  # the last decided state (forward fill of the dead band)
    return np.flatnonzero((held[:-1] == -1) & (held[1:] == 1)) + 1


def estimate_offset(
    a: np.ndarray,
    rate_a_hz: float,
    b: np.ndarray,
    rate_b_hz: float,
    *,
    t0_a_s: float = 0.0,
    t0_b_s: float = 0.0,
    max_offset_s: float = 1.0,
    grid_hz: float | None = None,
) -> OffsetEstimate:
    """Clock offset of B relative to A from a pulse train recorded by both.

    ``a``/``b``: the sync channel of each device, sampled at ``rate_*_hz`` from ``t0_*_s`` on
    that device's own clock (s). ``max_offset_s`` bounds the search (±). ``grid_hz``: common
    grid rate, default 10× the faster device (sub-sample resolution before interpolation).
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 4 or b.size < 4:
        raise ValueError("each recording needs at least 4 samples")
    if rate_a_hz <= 0 or rate_b_hz <= 0:
        raise ValueError("sample rates must be positive (Hz)")
    fs = grid_hz or 10.0 * max(rate_a_hz, rate_b_hz)
    ta = t0_a_s + np.arange(a.size) / rate_a_hz
    tb = t0_b_s + np.arange(b.size) / rate_b_hz
    # One grid spanning both recordings on their own clocks; outside a recording its signal is 0 (mid-level).
    start = min(ta[0], tb[0])
    stop = max(ta[-1], tb[-1])
    n = math.floor((stop - start) * fs) + 1
    grid = start + np.arange(n) / fs
    xa = np.interp(grid, ta, _normalise(a), left=0.0, right=0.0)
    xb = np.interp(grid, tb, _normalise(b), left=0.0, right=0.0)
    max_lag = math.ceil(max_offset_s * fs)
    corr = signal.correlate(xb, xa, mode="full", method="fft")
    lags = signal.correlation_lags(xb.size, xa.size, mode="full")
    sel = np.abs(lags) <= max_lag
    corr, lags = corr[sel], lags[sel]
    k = int(np.argmax(corr))
    lag = lags[0] + _parabolic(corr, k)
    offset = lag / fs
    peak = float(corr[k] / math.sqrt(float(np.dot(xa, xa) * np.dot(xb, xb)) or 1.0))

    # Per-pulse estimates around the global one: the scatter gives the uncertainty.
    edges = _pulse_edges(xa)
    per_pulse: list[float] = []
    if edges.size:
        spacing = np.diff(edges)
        half = int(min(np.median(spacing) // 2, 5 * fs / min(rate_a_hz, rate_b_hz) + 0.5 * fs)) if spacing.size \
            else int(0.5 * fs)
        search = math.ceil(3 * fs / min(rate_a_hz, rate_b_hz)) + 2
        base = round(lag)
        for e in edges:
            lo, hi = e - half, e + half
            if lo - search < 0 or hi + base + search > xb.size or lo + base - search < 0:
                continue
            seg = xa[lo:hi]
            cs = np.array([np.dot(seg, xb[lo + base + s : hi + base + s]) for s in range(-search, search + 1)])
            j = int(np.argmax(cs))
            per_pulse.append((base - search + _parabolic(cs, j)) / fs)
    floor = 1.0 / (max(rate_a_hz, rate_b_hz) * math.sqrt(12.0))
    if len(per_pulse) >= 2:
        spread = float(np.std(per_pulse, ddof=1)) / math.sqrt(len(per_pulse))
        floor /= math.sqrt(len(per_pulse))
        uncertainty = math.hypot(spread, floor)
    else:
        uncertainty = floor
    return OffsetEstimate(float(offset), float(uncertainty), max(len(per_pulse), 1), peak)
