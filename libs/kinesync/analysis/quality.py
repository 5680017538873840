"""Per-channel signal quality: noise floor, SNR, clipping, mains hum, flat line, gaps.

Pure and vectorised; works on EMG (V) or any other channel (the levels come back in the unit of the
input). Definitions and thresholds: docs/metrics.md, "Signal quality".
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import signal

from kinesync.dsp.filters import design_emg_bandpass, sosfilt_rows

# Flag thresholds (documented in docs/metrics.md); overridable per call of ChannelQuality.flags.
MIN_SNR_DB = 10.0
MAX_HUM_SHARE = 0.2
MAX_CLIPPING_SHARE = 0.001
MAX_GAP_SHARE = 0.0
_FLAT_REL = 1e-9


@dataclass(frozen=True)
class ChannelQuality:
    """Quality figures of one channel over one stretch of signal.

    Attributes:
        noise_floor: RMS of the quietest ``window_s`` window of the band-passed signal (unit of x).
        active_level: RMS of the loudest ``active_s`` window of the band-passed signal (unit of x).
        snr_db: 10·log10((active² − noise²)/noise²): the signal-only power of the loudest window
            against the noise floor, dB. None when the noise floor is 0 or nothing rises above it.
        clipping_share: share (0–1) of samples at the rails.
        hum_share: share (0–1) of the 10–500 Hz power within ±1 Hz of the mains frequency and its
            harmonics 2–4 (Welch spectrum).
        flat: True if the signal does not change (|Δx| ≤ 1e-9·max|x|) for at least ``flat_s``.
        gap_share: share (0–1) of samples that are NaN (missing).
        n_samples: number of samples examined.
    """

    noise_floor: float
    active_level: float
    snr_db: float | None
    clipping_share: float
    hum_share: float
    flat: bool
    gap_share: float
    n_samples: int

    def flags(
        self,
        *,
        min_snr_db: float = MIN_SNR_DB,
        max_hum_share: float = MAX_HUM_SHARE,
        max_clipping_share: float = MAX_CLIPPING_SHARE,
        max_gap_share: float = MAX_GAP_SHARE,
    ) -> list[str]:
        """Names of the problems found, in a fixed order: ``flat``, ``gap``, ``clipping``, ``hum``,
        ``low_snr`` (empty list: the channel looks fine). ``low_snr`` is not raised for a flat
        channel (``flat`` says more)."""
        out = []
        if self.flat:
            out.append("flat")
        if self.gap_share > max_gap_share:
            out.append("gap")
        if self.clipping_share > max_clipping_share:
            out.append("clipping")
        if self.hum_share > max_hum_share:
            out.append("hum")
        if not self.flat and (self.snr_db is None or self.snr_db < min_snr_db):
            out.append("low_snr")
        return out


def channel_quality(
    x: np.ndarray,
    fs_hz: float,
    *,
    mains_hz: float = 50.0,
    clip_level: float | None = None,
    window_s: float = 0.25,
    active_s: float = 0.15,
    flat_s: float = 0.1,
    low_hz: float = 20.0,
    high_hz: float = 450.0,
    settle_s: float = 0.1,
    rail_tol: float = 1e-3,
) -> ChannelQuality:
    """Quality of one channel ``x`` sampled at ``fs_hz`` (Hz).

    Args:
        x: 1-D signal (any unit; NaN marks missing samples).
        fs_hz: sampling rate, Hz.
        mains_hz: mains frequency, Hz (50 or 60).
        clip_level: rail level in the unit of x (samples with |x| ≥ clip_level·(1 − rail_tol) count
            as clipped). None: the rails are the signal's own extremes, and a rail counts only when
            at least max(5, 0.01 % of the samples) sit exactly on it (a clean signal reaches its
            maximum once).
        window_s: window for the noise floor, s (250 ms).
        active_s: window for the active level, s (150 ms: about a burst's full width at half maximum).
        flat_s: shortest unchanging run that counts as flat, s.
        low_hz, high_hz: band-pass edges for the levels, Hz (high edge capped at 0.45·fs).
        settle_s: leading part of the band-passed signal left out of the levels (the causal
            filter's start transient), s.
        rail_tol: relative tolerance of "at the rail" when ``clip_level`` is given.
    """
    raw = np.asarray(x, dtype=np.float64)
    if raw.ndim != 1:
        raise ValueError(f"x must be 1-D, got shape {raw.shape}")
    return channel_qualities(
        raw[np.newaxis, :], fs_hz, mains_hz=mains_hz, clip_level=clip_level, window_s=window_s,
        active_s=active_s, flat_s=flat_s, low_hz=low_hz, high_hz=high_hz, settle_s=settle_s, rail_tol=rail_tol,
    )[0]


def channel_qualities(
    x: np.ndarray,
    fs_hz: float,
    *,
    mains_hz: float = 50.0,
    clip_level: float | None = None,
    window_s: float = 0.25,
    active_s: float = 0.15,
    flat_s: float = 0.1,
    low_hz: float = 20.0,
    high_hz: float = 450.0,
    settle_s: float = 0.1,
    rail_tol: float = 1e-3,
) -> list[ChannelQuality]:
    """``channel_quality`` of every row of the 2-D ``x`` (channels, samples), with the same arguments.

    The same numbers as one call per row; rows without missing samples go through the filters, the
    FFT and the running sums together (a rep's check of its role channels is then one pass of array
    calls instead of one per channel).
    """
    rows = np.asarray(x, dtype=np.float64)
    if rows.ndim != 2:
        raise ValueError(f"x must be 2-D (channels, samples), got shape {rows.shape}")
    if not np.isfinite(fs_hz) or fs_hz <= 0:
        raise ValueError(f"fs_hz must be a positive sampling rate in Hz, got {fs_hz}")
    args = _Args(mains_hz, clip_level, window_s, active_s, flat_s, low_hz, high_hz, settle_s, rail_tol)
    n = rows.shape[1]
    # One sum finds any NaN/Inf (they propagate): only then are masks and copies needed.
    if n >= 3 and rows.shape[0] and math.isfinite(float(np.add.reduce(rows, axis=None))):
        clean = np.ascontiguousarray(rows)
        return _qualities(clean, clean, fs_hz, [0.0] * rows.shape[0], args)
    out = []
    for raw in rows:
        finite = np.isfinite(raw)
        gap_share = 1.0 - int(np.count_nonzero(finite)) / n if n else 0.0
        xf = raw[finite]
        if xf.size < 3:
            out.append(ChannelQuality(0.0, 0.0, None, 0.0, 0.0, True, gap_share, n))
        else:
            out.extend(_qualities(xf[np.newaxis, :], raw[np.newaxis, :], fs_hz, [gap_share], args))
    return out


@dataclass(frozen=True)
class _Args:
    mains_hz: float
    clip_level: float | None
    window_s: float
    active_s: float
    flat_s: float
    low_hz: float
    high_hz: float
    settle_s: float
    rail_tol: float


def _qualities(
    xf: np.ndarray, raw: np.ndarray, fs_hz: float, gap_shares: list[float], a: _Args
) -> list[ChannelQuality]:
    """Quality of the rows of ``xf`` (C-contiguous, finite samples only; ``raw``: the rows as given)."""
    x_max, x_min = xf.max(axis=1), xf.min(axis=1)
    run_min = max(1, math.ceil(a.flat_s * fs_hz - 1e-9))
    centred = xf - (np.add.reduce(xf, axis=1) / xf.shape[1])[:, np.newaxis]  # each row minus its mean
    noise, active = _levels(centred, fs_hz, a.low_hz, a.high_hz, a.window_s, a.active_s, a.settle_s)
    hum = _hum_shares(centred, fs_hz, a.mains_hz)
    out = []
    for i in range(xf.shape[0]):
        hi, lo = float(x_max[i]), float(x_min[i])
        scale = max(hi, -lo) or 1.0
        nf, ac = float(noise[i]), float(active[i])
        snr_db = None
        if nf > 0.0 and ac > nf:
            snr_db = 10.0 * math.log10((ac * ac - nf * nf) / (nf * nf))
        out.append(ChannelQuality(
            noise_floor=nf,
            active_level=ac,
            snr_db=snr_db,
            clipping_share=_clipping_share(xf[i], a.clip_level, a.rail_tol, scale, hi, lo),
            hum_share=hum[i],
            flat=bool(_longest_still_run(raw[i], _FLAT_REL * scale) >= run_min),
            gap_share=gap_shares[i],
            n_samples=raw.shape[1],
        ))
    return out


def _longest_still_run(x: np.ndarray, tol: float) -> int:
    """Length in samples of the longest stretch with |Δx| ≤ tol (NaN breaks a stretch)."""
    still = np.abs(np.diff(x)) <= tol
    if not still.any():
        return 1
    edges = np.diff(np.concatenate(([0], still.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) + 1  # k unchanged differences span k + 1 samples


def _levels(x, fs_hz, low_hz, high_hz, window_s, active_s, settle_s) -> tuple[np.ndarray, np.ndarray]:
    """Noise floor and active level (RMS of the quietest and the loudest window) of each row of ``x``."""
    high = min(high_hz, 0.45 * fs_hz)
    band = x
    if low_hz < high:
        band = sosfilt_rows(design_emg_bandpass(fs_hz, low_hz, high), x)
    settle = round(settle_s * fs_hz)
    if band.shape[1] > 4 * settle:
        band = band[:, settle:]
    k = band.shape[1]
    c = np.zeros((band.shape[0], k + 1))
    np.cumsum(np.square(band), axis=1, out=c[:, 1:])

    def window_sums(w: int) -> tuple[np.ndarray, int]:
        w = min(max(1, w), k)
        return c[:, w:] - c[:, : k + 1 - w], w

    # Dividing by w and clipping at 0 are monotonic in floating point, so they are applied to the
    # extreme window sum only: the same numbers as on every window, at a fraction of the cost.
    quiet, w_quiet = window_sums(round(window_s * fs_hz))
    loud, w_loud = window_sums(round(active_s * fs_hz))
    return (np.sqrt(np.maximum(quiet.min(axis=1) / w_quiet, 0.0)),
            np.sqrt(np.maximum(loud.max(axis=1) / w_loud, 0.0)))


def _clipping_share(
    x: np.ndarray, clip_level: float | None, rail_tol: float, scale: float, x_max: float, x_min: float
) -> float:
    if clip_level is not None:
        return float(np.mean(np.abs(x) >= clip_level * (1.0 - rail_tol)))
    tol = _FLAT_REL * scale
    if x_max - x_min <= tol:
        return 0.0  # a constant signal is flat, not clipped
    at_high = int(np.count_nonzero(x >= x_max - tol))
    at_low = int(np.count_nonzero(x <= x_min + tol))
    min_count = max(5, math.ceil(1e-4 * x.size))
    clipped = (at_high if at_high >= min_count else 0) + (at_low if at_low >= min_count else 0)
    return clipped / x.size


def _hum_shares(x: np.ndarray, fs_hz: float, mains_hz: float) -> list[float]:
    """Mains-hum share of each row of ``x``."""
    n = x.shape[1]
    # 4 s segments give 0.25 Hz bins, so ±1 Hz holds the Hann window's main lobe of a mains line.
    nperseg = min(n, round(4.0 * fs_hz))
    if nperseg != n:
        out = []
        for row in x:
            f, p = signal.welch(row, fs=fs_hz, nperseg=nperseg)
            out.append(_share(p, *_bins_of(f, fs_hz, mains_hz)))
        return out
    # One segment (every rep window): Welch's estimate is the Hann-windowed periodogram. Computed
    # directly, without welch's per-call set-up that costs more than the FFT; the share is a ratio, so
    # the density scale cancels; the one-sided doubling (all bins but DC and an even length's Nyquist
    # bin) does not, so it is kept.
    detrended = x - (np.add.reduce(x, axis=1) / n)[:, np.newaxis]
    p = np.abs(np.fft.rfft(_hann(n) * detrended, axis=1)) ** 2
    p[:, 1 : p.shape[1] - (n % 2 == 0)] *= 2.0
    in_band, hum = _hum_bins(n, fs_hz, mains_hz)
    return [_share(row, in_band, hum) for row in p]


def _share(p: np.ndarray, in_band: np.ndarray, hum: np.ndarray) -> float:
    # Row by row: a masked sum over a 2-D array adds in another order than over one row.
    total = float(p[in_band].sum())
    if total <= 0.0:
        return 0.0
    return float(p[hum].sum()) / total


@functools.lru_cache(maxsize=16)
def _hum_bins(n: int, fs_hz: float, mains_hz: float) -> tuple[np.ndarray, np.ndarray]:
    # The same bins for every rep window of a given length; read-only because they are shared.
    masks = _bins_of(np.fft.rfftfreq(n, 1.0 / fs_hz), fs_hz, mains_hz)
    for m in masks:
        m.flags.writeable = False
    return masks


def _bins_of(f: np.ndarray, fs_hz: float, mains_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """The 10–500 Hz bins and those of them within ±1 Hz of the mains frequency or harmonics 2–4."""
    in_band = (f >= 10.0) & (f <= min(500.0, fs_hz / 2.0))
    harmonics = mains_hz * np.arange(1, 5)
    near = (np.abs(f[:, None] - harmonics[None, :]) <= 1.0).any(axis=1)
    return in_band, in_band & near


@functools.lru_cache(maxsize=16)
def _hann(n: int) -> np.ndarray:
    # welch's default window (periodic Hann), read-only because it is shared between calls.
    w = signal.get_window("hann", n)
    w.flags.writeable = False
    return w
