"""Force-plate metrics on vertical force (N): body weight, onset, RFD, impulse, peak force.

All functions take the summed vertical force ``fz_n`` (N) as a 1-D array and return plain numbers.
Indices are sample indices into ``fz_n``; an onset may be fractional (it is back-dated in time),
and values between samples are linearly interpolated. Force should be unfiltered or low-passed at
100 Hz or more: heavier smoothing under-reads time-specific force and RFD.
"""

from __future__ import annotations

import math

import numpy as np

_INDEX_TOL = 1e-9


def body_weight(fz_n: np.ndarray, fs_hz: float, window_s: float = 1.0) -> tuple[float, float] | None:
    """Mean and SD (N) of the steadiest ``window_s``-second segment (lowest SD) of ``fz_n``.

    Args:
        fz_n: vertical force, N.
        fs_hz: sampling rate, Hz.
        window_s: segment length, s.

    Returns:
        (body weight in N, SD of that segment in N), or None if the record is shorter than
        ``window_s``.
    """
    f = _as_1d(fz_n)
    w = max(2, round(window_s * fs_hz))
    if f.size < w:
        return None
    # Centring first keeps the cumulative sums small, so the variance by differences stays exact.
    centred = f - f.mean()
    c1 = np.concatenate(([0.0], np.cumsum(centred)))
    c2 = np.concatenate(([0.0], np.cumsum(centred * centred)))
    sums = c1[w:] - c1[:-w]
    var = np.maximum((c2[w:] - c2[:-w]) / w - np.square(sums / w), 0.0)
    best = int(np.argmin(var))
    return float(sums[best] / w + f.mean()), float(math.sqrt(var[best] * w / (w - 1)))


def force_onset(
    fz_n: np.ndarray,
    fs_hz: float,
    bw_n: float,
    sd_n: float,
    k_sd: float = 5.0,
    backdate_s: float = 0.030,
    start: int = 0,
) -> float | None:
    """Movement onset (fractional sample index): first sample at or after ``start`` where
    |F − BW| > ``k_sd``·SD, moved ``backdate_s`` earlier and clipped at ``start`` (Owen et al. 2014).

    Args:
        fz_n: vertical force, N.
        fs_hz: sampling rate, Hz.
        bw_n, sd_n: body weight and its SD during quiet standing, N (see ``body_weight``).
        k_sd: threshold in quiet-standing SDs.
        backdate_s: the threshold is crossed after the true start; the onset is moved this many
            seconds earlier, s.
        start: first index searched.

    Returns:
        The onset index (float), or None if the force never leaves the band.
    """
    f = _as_1d(fz_n)
    start = max(0, int(start))
    hits = np.flatnonzero(np.abs(f[start:] - bw_n) > k_sd * sd_n)
    if hits.size == 0:
        return None
    return max(float(start), float(start + hits[0]) - backdate_s * fs_hz)


def rfd(fz_n: np.ndarray, fs_hz: float, onset_index: float, span_s: float) -> float | None:
    """Mean rate of force development from onset to onset + ``span_s``, N/s (Maffiuletti et al. 2016).

    RFD = (F(onset + span) − F(onset)) / span, with F linearly interpolated at fractional indices.
    None if the span runs past the data.
    """
    f = _as_1d(fz_n)
    if span_s <= 0:
        raise ValueError(f"span_s must be positive, got {span_s}")
    end = onset_index + span_s * fs_hz
    if onset_index < 0 or end > f.size - 1 + _INDEX_TOL:
        return None
    f0, f1 = _interp(f, np.array([onset_index, min(end, f.size - 1)]))
    return float((f1 - f0) / span_s)


def peak_rfd(
    fz_n: np.ndarray,
    fs_hz: float,
    onset_index: float,
    slope_window_s: float = 0.020,
    search_s: float = 0.200,
) -> float | None:
    """Peak RFD, N/s: steepest mean slope over any ``slope_window_s`` window that lies within the
    first ``search_s`` seconds after onset. None if the search span runs past the data.
    """
    f = _as_1d(fz_n)
    if not 0 < slope_window_s <= search_s:
        raise ValueError("need 0 < slope_window_s <= search_s (s)")
    end = onset_index + search_s * fs_hz
    if onset_index < 0 or end > f.size - 1 + _INDEX_TOL:
        return None
    w = slope_window_s * fs_hz
    # Window starts on the onset's own sub-sample grid, plus the last start that still fits.
    starts = onset_index + np.arange(0.0, (search_s * fs_hz - w) + _INDEX_TOL)
    starts = np.append(starts, onset_index + search_s * fs_hz - w)
    ends = np.minimum(starts + w, f.size - 1)
    slopes = (_interp(f, ends) - _interp(f, starts)) / slope_window_s
    return float(slopes.max())


def net_impulse(fz_n: np.ndarray, fs_hz: float, bw_n: float, start: int, stop: int) -> float:
    """Net impulse ∫(F − BW) dt from sample ``start`` to sample ``stop`` (both included), N·s, trapezoid rule."""
    f = _as_1d(fz_n)
    segment = f[_check_range(f, start, stop)] - bw_n
    if segment.size < 2:
        return 0.0
    return float((segment.sum() - 0.5 * (segment[0] + segment[-1])) / fs_hz)


def peak_force(fz_n: np.ndarray, start: int, stop: int) -> float:
    """Largest vertical force from sample ``start`` to sample ``stop`` (both included), N."""
    f = _as_1d(fz_n)
    return float(f[_check_range(f, start, stop)].max())


def _check_range(f: np.ndarray, start: int, stop: int) -> slice:
    if not 0 <= start <= stop < f.size:
        raise ValueError(f"need 0 <= start <= stop < {f.size}, got start={start}, stop={stop}")
    return slice(int(start), int(stop) + 1)


def _interp(f: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return np.interp(idx, np.arange(f.size, dtype=np.float64), f)


def _as_1d(x: np.ndarray) -> np.ndarray:
    f = np.asarray(x, dtype=np.float64)
    if f.ndim != 1:
        raise ValueError(f"force must be 1-D, got shape {f.shape}")
    return f
