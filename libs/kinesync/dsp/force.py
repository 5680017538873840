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


def body_weight(
    fz_n: np.ndarray, fs_hz: float, window_s: float = 1.0, *, min_load_n: float | None = None,
    max_load_n: float | None = None, flight_threshold_n: float | None = None,
) -> tuple[float, float] | None:
    """Mean and SD (N) of the steadiest ``window_s``-second segment (lowest SD) of ``fz_n``.

    Args:
        fz_n: vertical force, N.
        fs_hz: sampling rate, Hz.
        window_s: segment length, s.
        min_load_n: plausibility rule: only segments whose mean is at least this load count, N. An
            empty plate, a plate zeroed under the athlete or a flight is steadier than anyone standing
            on it, so without the rule it would win. None: every segment counts.
        max_load_n: plausibility rule: segments whose mean exceeds this load (a saturated or
            mis-scaled channel) do not count, N. None: no upper bound.
        flight_threshold_n: plausibility rule: a segment holding any sample below this force (an
            unloaded plate, a flight) does not count, N. None: no such rule.

    Returns:
        (body weight in N, SD of that segment in N), or None if the record is shorter than
        ``window_s`` or no segment passes the plausibility rules.
    """
    return body_weights(fz_n, fs_hz, (window_s,), min_load_n=min_load_n, max_load_n=max_load_n,
                        flight_threshold_n=flight_threshold_n)[0]


def body_weights(
    fz_n: np.ndarray, fs_hz: float, windows_s: tuple[float, ...], *, min_load_n: float | None = None,
    max_load_n: float | None = None, flight_threshold_n: float | None = None,
) -> list[tuple[float, float] | None]:
    """``body_weight`` for several segment lengths (s) at once: the running sums are computed once."""
    f = _as_1d(fz_n)
    if all(f.size < max(2, round(w * fs_hz)) for w in windows_s):
        return [None] * len(windows_s)
    # Centring first keeps the cumulative sums small, so the variance by differences stays exact.
    mean = f.mean()
    centred = f - mean
    c1 = np.zeros(f.size + 1)
    c2 = np.zeros(f.size + 1)
    np.cumsum(centred, out=c1[1:])
    np.multiply(centred, centred, out=centred)
    np.cumsum(centred, out=c2[1:])
    unloaded = None
    if flight_threshold_n is not None:
        low = f < flight_threshold_n
        if low.any():  # the usual case is a loaded plate: no running count needed
            unloaded = np.zeros(f.size + 1, dtype=np.int64)
            np.cumsum(low, out=unloaded[1:])
    out: list[tuple[float, float] | None] = []
    for window_s in windows_s:
        w = max(2, round(window_s * fs_hz))
        if f.size < w:
            out.append(None)
            continue
        # var = max((Σx² window)/w − (Σx window / w)², 0), in place: 8 s of force at 1 kHz per rep.
        sums = c1[w:] - c1[: c1.size - w]
        var = c2[w:] - c2[: c2.size - w]
        var /= w
        mean_sq = sums / w
        np.multiply(mean_sq, mean_sq, out=mean_sq)
        var -= mean_sq
        np.maximum(var, 0.0, out=var)
        if min_load_n is not None or max_load_n is not None:
            level = sums / w + mean
            if min_load_n is not None:
                var[level < min_load_n] = np.inf
            if max_load_n is not None:
                var[level > max_load_n] = np.inf
        if unloaded is not None:
            var[(unloaded[w:] - unloaded[: unloaded.size - w]) > 0] = np.inf
        best = int(np.argmin(var))
        if not math.isfinite(var[best]):
            out.append(None)
            continue
        out.append((float(sums[best] / w + mean), float(math.sqrt(var[best] * w / (w - 1)))))
    return out


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
    return rfds(fz_n, fs_hz, onset_index, (span_s,))[0]


def rfds(fz_n: np.ndarray, fs_hz: float, onset_index: float, spans_s: tuple[float, ...]) -> list[float | None]:
    """``rfd`` for several spans (s) from one onset, with one interpolation call."""
    f = _as_1d(fz_n)
    for span_s in spans_s:
        if span_s <= 0:
            raise ValueError(f"span_s must be positive, got {span_s}")
    ends = [onset_index + span_s * fs_hz for span_s in spans_s]
    fits = [onset_index >= 0 and end <= f.size - 1 + _INDEX_TOL for end in ends]
    if not any(fits):
        return [None] * len(spans_s)
    values = _interp(f, np.array([onset_index] + [min(e, f.size - 1) for e, ok in zip(ends, fits, strict=True) if ok]))
    out: list[float | None] = []
    k = 1
    for span_s, ok in zip(spans_s, fits, strict=True):
        if ok:
            out.append(float((values[k] - values[0]) / span_s))
            k += 1
        else:
            out.append(None)
    return out


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
    both = _interp(f, np.concatenate((ends, starts)))
    slopes = (both[: ends.size] - both[ends.size :]) / slope_window_s
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
    # Only the stretch of f around idx: np.interp computes each value from its two neighbours alone,
    # so the numbers are those of the whole record without an index array as long as the history.
    first, last = float(idx.min()), float(idx.max())
    if not (math.isfinite(first) and math.isfinite(last)):
        return np.interp(idx, np.arange(f.size, dtype=np.float64), f)
    lo = min(max(0, math.floor(first) - 1), f.size)
    hi = max(min(f.size, math.ceil(last) + 2), lo)
    return np.interp(idx, np.arange(lo, hi, dtype=np.float64), f[lo:hi])


def _as_1d(x: np.ndarray) -> np.ndarray:
    f = np.asarray(x, dtype=np.float64)
    if f.ndim != 1:
        raise ValueError(f"force must be 1-D, got shape {f.shape}")
    return f
