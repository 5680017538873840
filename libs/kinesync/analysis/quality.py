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

from kinesync.dsp.filters import design_emg_bandpass

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
    if not np.isfinite(fs_hz) or fs_hz <= 0:
        raise ValueError(f"fs_hz must be a positive sampling rate in Hz, got {fs_hz}")
    n = raw.size
    finite = np.isfinite(raw)
    gap_share = 1.0 - float(finite.mean()) if n else 0.0
    xf = raw[finite]
    if xf.size < 3:
        return ChannelQuality(0.0, 0.0, None, 0.0, 0.0, True, gap_share, n)
    scale = float(np.abs(xf).max()) or 1.0
    flat = _longest_still_run(raw, _FLAT_REL * scale) >= max(1, math.ceil(flat_s * fs_hz - 1e-9))
    centred = xf - xf.mean()
    noise, active = _levels(centred, fs_hz, low_hz, high_hz, window_s, active_s, settle_s)
    snr_db = None
    if noise > 0.0 and active > noise:
        snr_db = 10.0 * math.log10((active * active - noise * noise) / (noise * noise))
    return ChannelQuality(
        noise_floor=noise,
        active_level=active,
        snr_db=snr_db,
        clipping_share=_clipping_share(xf, clip_level, rail_tol, scale),
        hum_share=_hum_share(centred, fs_hz, mains_hz),
        flat=bool(flat),
        gap_share=gap_share,
        n_samples=n,
    )


def _longest_still_run(x: np.ndarray, tol: float) -> int:
    """Length in samples of the longest stretch with |Δx| ≤ tol (NaN breaks a stretch)."""
    still = np.abs(np.diff(x)) <= tol
    if not still.any():
        return 1
    edges = np.diff(np.concatenate(([0], still.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return int((ends - starts).max()) + 1  # k unchanged differences span k + 1 samples


def _levels(x, fs_hz, low_hz, high_hz, window_s, active_s, settle_s) -> tuple[float, float]:
    high = min(high_hz, 0.45 * fs_hz)
    band = x
    if low_hz < high:
        band = signal.sosfilt(design_emg_bandpass(fs_hz, low_hz, high), x)
    settle = round(settle_s * fs_hz)
    if band.size > 4 * settle:
        band = band[settle:]
    c = np.concatenate(([0.0], np.cumsum(band * band)))

    def window_ms(w: int) -> np.ndarray:
        w = min(max(1, w), band.size)
        return np.maximum((c[w:] - c[:-w]) / w, 0.0)

    return float(math.sqrt(window_ms(round(window_s * fs_hz)).min())), float(
        math.sqrt(window_ms(round(active_s * fs_hz)).max())
    )


def _clipping_share(x: np.ndarray, clip_level: float | None, rail_tol: float, scale: float) -> float:
    if clip_level is not None:
        return float(np.mean(np.abs(x) >= clip_level * (1.0 - rail_tol)))
    tol = _FLAT_REL * scale
    if x.max() - x.min() <= tol:
        return 0.0  # a constant signal is flat, not clipped
    at_high = int(np.count_nonzero(x >= x.max() - tol))
    at_low = int(np.count_nonzero(x <= x.min() + tol))
    min_count = max(5, math.ceil(1e-4 * x.size))
    clipped = (at_high if at_high >= min_count else 0) + (at_low if at_low >= min_count else 0)
    return clipped / x.size


def _hum_share(x: np.ndarray, fs_hz: float, mains_hz: float) -> float:
    # 4 s segments give 0.25 Hz bins, so ±1 Hz holds the Hann window's main lobe of a mains line.
    nperseg = min(x.size, round(4.0 * fs_hz))
    if nperseg == x.size:
        # One segment (every rep window): Welch's estimate is the Hann-windowed periodogram. Computed
        # directly, without welch's per-call set-up that costs more than the FFT; the share is a
        # ratio, so the density scale cancels; the one-sided doubling (all bins but DC and an even
        # length's Nyquist bin) does not, so it is kept.
        f = np.fft.rfftfreq(x.size, 1.0 / fs_hz)
        p = np.abs(np.fft.rfft(_hann(x.size) * (x - x.mean()))) ** 2
        p[1 : p.size - (x.size % 2 == 0)] *= 2.0
    else:
        f, p = signal.welch(x, fs=fs_hz, nperseg=nperseg)
    in_band = (f >= 10.0) & (f <= min(500.0, fs_hz / 2.0))
    total = float(p[in_band].sum())
    if total <= 0.0:
        return 0.0
    harmonics = mains_hz * np.arange(1, 5)
    near = (np.abs(f[:, None] - harmonics[None, :]) <= 1.0).any(axis=1)
    return float(p[in_band & near].sum()) / total


@functools.lru_cache(maxsize=16)
def _hann(n: int) -> np.ndarray:
    # welch's default window (periodic Hann), read-only because it is shared between calls.
    w = signal.get_window("hann", n)
    w.flags.writeable = False
    return w
