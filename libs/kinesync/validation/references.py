"""Plain lag estimators to judge the product's lag against, on the same reps (numbers in, numbers out).

Two textbook methods, offline and deliberately simple, so that "better than a plain method" has a
fixed meaning (docs/physiology-sim.md):

- **envelope cross-correlation** (reference 1): the delay at the maximum of the Pearson
  cross-correlation of the pectoral envelope against the leg-drive envelope over the rep;
- **envelope peak-to-peak** (reference 2): the time from the leg-drive envelope's peak to the
  pectoral envelope's peak within the rep.

Both use one set of envelopes: band-pass 20–450 Hz (4th-order Butterworth), full-wave rectification
and a 2nd-order 6 Hz Butterworth low-pass, all zero-phase (``sosfiltfilt``: offline, so no filter
delay to cancel), or a centred moving RMS. Each channel is divided by its own amplitude (its maximum
over the whole recording, the "peak dynamic" normalisation), the leg drive is the mean of the
normalised leg channels and the pectoral envelope the mean of the normalised pectoral channels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal

MIN_LAG_S = -0.100
MAX_LAG_S = 0.400


def _bandpass_rectified(emg: np.ndarray, fs_hz: float, band_hz: tuple[float, float], order: int) -> np.ndarray:
    high = min(band_hz[1], 0.45 * fs_hz)
    sos = signal.butter(order, (band_hz[0], high), btype="bandpass", fs=fs_hz, output="sos")
    return np.abs(signal.sosfiltfilt(sos, np.atleast_2d(np.asarray(emg, dtype=np.float64)), axis=-1))


def linear_envelope(
    emg: np.ndarray, fs_hz: float, *, cutoff_hz: float = 6.0, band_hz: tuple[float, float] = (20.0, 450.0),
    order: int = 4,
) -> np.ndarray:
    """Zero-phase linear envelope of each row of ``emg`` (rows × samples at ``fs_hz`` Hz), same units."""
    rectified = _bandpass_rectified(emg, fs_hz, band_hz, order)
    sos = signal.butter(2, cutoff_hz, btype="lowpass", fs=fs_hz, output="sos")
    return signal.sosfiltfilt(sos, rectified, axis=-1)


def rms_envelope(
    emg: np.ndarray, fs_hz: float, *, window_s: float = 0.1, band_hz: tuple[float, float] = (20.0, 450.0),
    order: int = 4,
) -> np.ndarray:
    """Centred (zero-phase) moving RMS over ``window_s`` of each band-passed row of ``emg``."""
    x = _bandpass_rectified(emg, fs_hz, band_hz, order)
    n = max(1, round(window_s * fs_hz)) | 1  # odd, so the window is centred on its sample
    kernel = np.full(n, 1.0 / n)
    power = np.stack([np.convolve(row * row, kernel, mode="same") for row in x])
    return np.sqrt(np.maximum(power, 0.0))


def drive_envelopes(
    envelopes: np.ndarray, leg_rows: Sequence[int], pec_rows: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """(leg drive, pectoral): means of the listed rows, each divided by its own maximum."""
    amp = envelopes.max(axis=1, keepdims=True)
    norm = envelopes / np.where(amp > 0.0, amp, 1.0)
    return norm[list(leg_rows)].mean(axis=0), norm[list(pec_rows)].mean(axis=0)


def _parabola(y_m: float, y_0: float, y_p: float) -> float:
    den = y_m - 2.0 * y_0 + y_p
    return 0.0 if den == 0.0 else float(np.clip(0.5 * (y_m - y_p) / den, -0.5, 0.5))


def xcorr_lag(
    leg: np.ndarray, pec: np.ndarray, fs_hz: float, start_s: float, stop_s: float,
    min_lag_s: float = MIN_LAG_S, max_lag_s: float = MAX_LAG_S, max_rate_hz: float = 500.0,
) -> float | None:
    """Delay of ``pec`` behind ``leg`` (s) at the maximum Pearson correlation over [start_s, stop_s).

    The leg segment is fixed; at each lag the pectoral segment of the same length starts that much
    later (full overlap, so no lag is favoured). Envelopes are decimated to at most ``max_rate_hz``
    first (they are low-passed at a few Hz) and the maximum is refined by a parabola. None when the
    segment does not fit in the signals, is flat, or the maximum lies on the edge of the lag range.
    """
    q = max(1, math.ceil(fs_hz / max_rate_hz))
    rate = fs_hz / q
    a, b = math.floor(start_s * rate), math.ceil(stop_s * rate)
    k_lo, k_hi = math.floor(min_lag_s * rate), math.ceil(max_lag_s * rate)
    leg_d, pec_d = leg[::q], pec[::q]
    if a + k_lo < 0 or b + k_hi > pec_d.size or b > leg_d.size or b - a < 3:
        return None
    tmpl = leg_d[a:b] - leg_d[a:b].mean()
    t_norm = float(np.linalg.norm(tmpl))
    segs = sliding_window_view(pec_d[a + k_lo : b + k_hi], b - a)  # (lags, length)
    segs = segs - segs.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(segs, axis=1)
    if t_norm == 0.0 or not np.all(norms > 0.0):
        return None
    r = segs @ tmpl / (norms * t_norm)
    i = int(np.argmax(r))
    if i == 0 or i == r.size - 1:
        return None
    return (k_lo + i + _parabola(r[i - 1], r[i], r[i + 1])) / rate


def peak_lag(
    leg: np.ndarray, pec: np.ndarray, fs_hz: float, start_s: float, stop_s: float,
    min_lag_s: float = MIN_LAG_S, max_lag_s: float = MAX_LAG_S,
) -> float | None:
    """Pectoral envelope peak minus leg-drive envelope peak, s.

    The leg peak is the maximum of ``leg`` over [start_s, stop_s); the pectoral peak the maximum of
    ``pec`` from ``min_lag_s`` to ``max_lag_s`` after it; both refined by a parabola. None when a
    span falls outside the signals or a maximum lies on its edge.
    """
    a, b = math.floor(start_s * fs_hz), math.ceil(stop_s * fs_hz)
    if a < 0 or b > leg.size or b - a < 3:
        return None
    i = a + int(np.argmax(leg[a:b]))
    if i in (a, b - 1):
        return None
    t_leg = i + _parabola(leg[i - 1], leg[i], leg[i + 1])
    c, d = i + math.floor(min_lag_s * fs_hz), i + math.ceil(max_lag_s * fs_hz)
    if c < 1 or d >= pec.size:
        return None
    j = c + int(np.argmax(pec[c:d]))
    if j in (c, d - 1):
        return None
    t_pec = j + _parabola(pec[j - 1], pec[j], pec[j + 1])
    return (t_pec - t_leg) / fs_hz


@dataclass(frozen=True)
class ReferenceLags:
    """Per rep, s (NaN where the method gives none)."""

    xcorr_s: np.ndarray
    peak_s: np.ndarray


def reference_lags(
    emg: np.ndarray, fs_hz: float, leg_rows: Sequence[int], pec_rows: Sequence[int],
    spans_s: Sequence[tuple[float, float]], *, envelope: str = "lowpass", cutoff_hz: float = 6.0,
    rms_window_s: float = 0.1, min_lag_s: float = MIN_LAG_S, max_lag_s: float = MAX_LAG_S,
) -> ReferenceLags:
    """Both reference lags for every rep span (start_s, stop_s) in seconds since the first sample.

    ``envelope``: ``lowpass`` (6 Hz linear envelope) or ``rms`` (moving RMS of ``rms_window_s``) for the
    peak-to-peak reference; the cross-correlation reference always uses the linear envelope.
    """
    rows = sorted(set(leg_rows) | set(pec_rows))
    index = {r: i for i, r in enumerate(rows)}
    lin = linear_envelope(emg[rows], fs_hz, cutoff_hz=cutoff_hz)
    legs = [index[r] for r in leg_rows]
    pecs = [index[r] for r in pec_rows]
    leg_lin, pec_lin = drive_envelopes(lin, legs, pecs)
    if envelope == "lowpass":
        leg_pk, pec_pk = leg_lin, pec_lin
    elif envelope == "rms":
        leg_pk, pec_pk = drive_envelopes(rms_envelope(emg[rows], fs_hz, window_s=rms_window_s), legs, pecs)
    else:
        raise ValueError(f"envelope must be 'lowpass' or 'rms', got {envelope!r}")
    xc = np.full(len(spans_s), np.nan)
    pk = np.full(len(spans_s), np.nan)
    for n, (start, stop) in enumerate(spans_s):
        lag = xcorr_lag(leg_lin, pec_lin, fs_hz, start, stop, min_lag_s, max_lag_s)
        xc[n] = np.nan if lag is None else lag
        lag = peak_lag(leg_pk, pec_pk, fs_hz, start, stop, min_lag_s, max_lag_s)
        pk[n] = np.nan if lag is None else lag
    return ReferenceLags(xcorr_s=xc, peak_s=pk)
