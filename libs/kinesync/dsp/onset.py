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
    runs = np.convolve(above.astype(np.int32), np.ones(hold, dtype=np.int32), mode="valid")
    hits = np.flatnonzero(runs == hold)
    return int(hits[0]) + start if hits.size else None


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
