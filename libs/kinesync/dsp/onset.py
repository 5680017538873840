"""Muscle-activity onset detection on a single channel (envelope or TKEO-conditioned EMG)."""

from __future__ import annotations

import math

import numpy as np


def threshold_onset(
    x: np.ndarray,
    fs_hz: float,
    baseline_mean: float,
    baseline_sd: float,
    h: float = 3.0,
    hold_s: float = 0.025,
    start: int = 0,
) -> int | None:
    """First sample index ≥ ``start`` from which ``x`` stays above ``baseline_mean + h·baseline_sd``
    for at least ``hold_s`` seconds (Hodges & Bui 1996).

    Args:
        x: 1-D signal, usually a linear envelope (same unit as the baseline values).
        fs_hz: sampling rate, Hz.
        baseline_mean, baseline_sd: mean and SD of ``x`` during rest.
        h: threshold in baseline SDs above the mean.
        hold_s: time the signal must stay above threshold, s (at least one sample).
        start: first index searched.

    Returns:
        The onset index, or None if no run of the required length exists.
    """
    sig = np.asarray(x, dtype=np.float64)
    if sig.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {sig.shape}")
    hold = max(1, math.ceil(hold_s * fs_hz - 1e-9))
    start = max(0, int(start))
    above = sig[start:] > baseline_mean + h * baseline_sd
    if above.size < hold:
        return None
    # A window sum of `hold` over the boolean series equals `hold` exactly where a full run starts.
    hits = np.flatnonzero(window_counts(above, hold) == hold)
    return int(hits[0]) + start if hits.size else None


def window_counts(mask: np.ndarray, n: int) -> np.ndarray:
    """Number of True values in every length-``n`` window of the boolean ``mask`` (``mode="valid"``).

    Integer running sums: exact, like ``np.convolve(mask, ones(n), "valid")``, but O(len) instead of
    O(len·n) (a 100-sample hold on 8 s of force was a third of a rep's analysis). Empty when the
    mask is shorter than ``n`` (where np.convolve would swap its arguments instead).
    """
    if n > mask.size:
        return np.zeros(0, dtype=np.int64)  # no full window
    c = np.zeros(mask.size + 1, dtype=np.int64)
    # Accumulating the bytes of the bool array as int64 skips cumsum's slow bool cast (2-3x faster).
    np.add.accumulate(np.asarray(mask, dtype=bool).view(np.uint8), dtype=np.int64, out=c[1:])
    return c[n:] - c[: c.size - n]


def teager_kaiser(x: np.ndarray) -> np.ndarray:
    """Teager–Kaiser energy operator ψ[n] = x[n]² − x[n−1]·x[n+1]; same length, edges 0 (Solnik 2010).

    Applied to band-passed EMG before rectification it emphasises the instantaneous amplitude and
    frequency rise of an activation, sharpening threshold onsets.
    """
    sig = np.asarray(x, dtype=np.float64)
    out = np.zeros_like(sig)
    if sig.size >= 3:
        out[1:-1] = sig[1:-1] * sig[1:-1] - sig[:-2] * sig[2:]
    return out


def double_threshold_onset(
    x: np.ndarray,
    fs_hz: float,
    baseline_sd: float,
    *,
    zeta: float = 9.0,
    m: int | None = None,
    n: int | None = None,
    window_s: float = 0.025,
    min_share: float = 0.5,
    start: int = 0,
) -> int | None:
    """Double-threshold onset detector (Bonato, D'Alessio & Knaflitz 1998).

    First threshold: a sample is "above" when its power relative to the baseline noise,
    x[k]² / baseline_sd², exceeds ``zeta`` (under noise alone this is χ² with one degree of freedom:
    ζ = 9, i.e. |x| > 3 SD, has a false-alarm probability of 0.27 % per sample). Second threshold: at
    least ``m`` of ``n`` successive samples must be above. The onset is the first above-threshold
    sample of the first such window. Requiring m of n instead of n of n (as a hold time does) keeps
    the detector robust to the zero crossings of the raw EMG carrier.

    Args:
        x: 1-D zero-mean signal, usually band-passed EMG (the detector works on the raw carrier, not
            an envelope, so it adds no smoothing delay), or its Teager–Kaiser output.
        fs_hz: sampling rate, Hz (sets the default window).
        baseline_sd: SD of ``x`` at rest (same unit as ``x``).
        zeta: first threshold on x²/baseline_sd² (dimensionless).
        m: number of above-threshold samples needed per window (default ``ceil(min_share·n)``).
        n: window length in samples (default ``window_s·fs_hz`` rounded, at least 1).
        window_s: default window length, s (25 ms).
        min_share: default m as a share of n.
        start: first index searched.

    Returns:
        The onset index, or None if no window qualifies.
    """
    sig = np.asarray(x, dtype=np.float64)
    if sig.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {sig.shape}")
    if not baseline_sd > 0.0:
        raise ValueError(f"baseline_sd must be positive, got {baseline_sd}")
    n_win = int(n) if n is not None else max(1, round(window_s * fs_hz))
    m_req = int(m) if m is not None else max(1, math.ceil(min_share * n_win - 1e-9))
    if not 1 <= m_req <= n_win:
        raise ValueError(f"need 1 <= m <= n, got m={m_req}, n={n_win}")
    start = max(0, int(start))
    above = np.square(sig[start:] / baseline_sd) > zeta
    if above.size < n_win:
        return None
    counts = window_counts(above, n_win)
    windows = np.flatnonzero(counts >= m_req)
    if windows.size == 0:
        return None
    w0 = int(windows[0])
    # The first qualifying window's own first sample need not be above threshold (m of n, not n of
    # n): the onset is the first above-threshold sample inside it.
    return start + w0 + int(np.argmax(above[w0 : w0 + n_win]))
