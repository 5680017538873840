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
    # max(hi, -lo) or 1.0 per row (the samples are finite, so only a zero is replaced).
    scale = np.maximum(x_max, -x_min)
    scale[scale == 0.0] = 1.0
    run_min = max(1, math.ceil(a.flat_s * fs_hz - 1e-9))
    centred = xf - (np.add.reduce(xf, axis=1) / xf.shape[1])[:, np.newaxis]  # each row minus its mean
    noise, active = _levels(centred, fs_hz, a.low_hz, a.high_hz, a.window_s, a.active_s, a.settle_s)
    hum = _hum_shares(centred, fs_hz, a.mains_hz)
    clipping = _clipping_shares(xf, a.clip_level, a.rail_tol, scale, x_max, x_min)
    flat = _flat_rows(raw, _FLAT_REL * scale, run_min)
    noise, active = noise.tolist(), active.tolist()
    out = []
    for i in range(xf.shape[0]):
        nf, ac = noise[i], active[i]
        snr_db = None
        if nf > 0.0 and ac > nf:
            snr_db = 10.0 * math.log10((ac * ac - nf * nf) / (nf * nf))
        out.append(ChannelQuality(
            noise_floor=nf,
            active_level=ac,
            snr_db=snr_db,
            clipping_share=clipping[i],
            hum_share=hum[i],
            flat=flat[i],
            gap_share=gap_shares[i],
            n_samples=raw.shape[1],
        ))
    return out


def _flat_rows(raw: np.ndarray, tol: np.ndarray, run_min: int) -> list[bool]:
    """Per row of ``raw``: whether its longest still stretch (``_longest_still_run`` with the row's
    ``tol``) is at least ``run_min`` samples long."""
    # One pass over all rows finds those whose every step moves (a live EMG channel); only the others
    # (a still step, or a NaN that makes the minimum NaN) need the run lengths.
    steps = raw[:, 1:] - raw[:, :-1]  # np.diff(raw, axis=1), without its wrapper
    moving = (np.abs(steps, out=steps).min(axis=1, initial=np.inf) > tol).tolist()
    return [(1 if moves else _longest_still_run(raw[i], float(tol[i]))) >= run_min
            for i, moves in enumerate(moving)]


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
    c = _running_sums_of_squares(band)

    def window_sums(w: int) -> tuple[np.ndarray, int]:
        w = min(max(1, w), k)
        return c[:, w:] - c[:, : k + 1 - w], w

    # Dividing by w and clipping at 0 are monotonic in floating point, so they are applied to the
    # extreme window sum only: the same numbers as on every window, at a fraction of the cost.
    quiet, w_quiet = window_sums(round(window_s * fs_hz))
    loud, w_loud = window_sums(round(active_s * fs_hz))
    return (np.sqrt(np.maximum(quiet.min(axis=1) / w_quiet, 0.0)),
            np.sqrt(np.maximum(loud.max(axis=1) / w_loud, 0.0)))


def _running_sums_of_squares(x: np.ndarray) -> np.ndarray:
    """Per row of ``x``, 0.0 followed by the running sum of its squares: ``np.cumsum(np.square(x), axis=1)``
    after a column of zeros, bit for bit.

    A running sum is one chain of dependent additions, so it costs the adder's latency per sample. Two
    rows go through one complex running sum: its real and imaginary parts are added separately (the
    same IEEE additions in the same order), and the two chains share that latency.
    """
    rows, k = x.shape
    out = np.empty((rows, k + 1))
    out[:, 0] = 0.0
    pair = np.empty(k, dtype=np.complex128)
    for i in range(0, rows - 1, 2):
        np.square(x[i], out=pair.real)
        np.square(x[i + 1], out=pair.imag)
        np.cumsum(pair, out=pair)
        out[i, 1:] = pair.real
        out[i + 1, 1:] = pair.imag
    if rows % 2:
        last = out[rows - 1, 1:]
        np.square(x[rows - 1], out=last)
        np.cumsum(last, out=last)
    return out


def _clipping_shares(
    x: np.ndarray, clip_level: float | None, rail_tol: float, scale: np.ndarray, x_max: np.ndarray,
    x_min: np.ndarray,
) -> list[float]:
    """Clipping share of each row of ``x`` (``scale``, ``x_max``, ``x_min``: per row, as in ``_qualities``)."""
    n = x.shape[1]
    if clip_level is not None:
        rail = clip_level * (1.0 - rail_tol)
        return [int(np.count_nonzero(np.abs(row) >= rail)) / n for row in x]
    min_count = max(5, math.ceil(1e-4 * n))
    out = []
    # Row by row against a scalar: faster than one broadcast comparison of the whole array.
    for row, hi, lo, tol in zip(x, x_max.tolist(), x_min.tolist(), (_FLAT_REL * scale).tolist(), strict=True):
        if hi - lo <= tol:
            out.append(0.0)  # a constant signal is flat, not clipped
            continue
        at_high = int(np.count_nonzero(row >= hi - tol))
        at_low = int(np.count_nonzero(row <= lo + tol))
        out.append(((at_high if at_high >= min_count else 0) + (at_low if at_low >= min_count else 0)) / n)
    return out


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
    windowed = x - (np.add.reduce(x, axis=1) / n)[:, np.newaxis]  # detrended
    windowed *= _hann(n)
    p = np.abs(np.fft.rfft(windowed, axis=1))
    np.square(p, out=p)
    p[:, 1 : p.shape[1] - (n % 2 == 0)] *= 2.0
    band, hum = _hum_bins(n, fs_hz, mains_hz)
    hum_p = p[:, hum]
    out = []
    for i in range(p.shape[0]):
        # Row by row, as _share adds: a sum along the rows of a 2-D array adds in another order.
        total = float(p[i, band].sum())
        out.append(0.0 if total <= 0.0 else float(hum_p[i].sum()) / total)
    return out


def _share(p: np.ndarray, in_band: np.ndarray, hum: np.ndarray) -> float:
    # Row by row: a masked sum over a 2-D array adds in another order than over one row.
    total = float(p[in_band].sum())
    if total <= 0.0:
        return 0.0
    return float(p[hum].sum()) / total


@functools.lru_cache(maxsize=16)
def _hum_bins(n: int, fs_hz: float, mains_hz: float) -> tuple[slice, np.ndarray]:
    """``_bins_of`` for a length-``n`` periodogram: the band as a slice (its frequencies rise, so it is one
    run of bins), the hum bins as indices. A row's sums through them see the values of the masked rows
    in the same order, at a lower cost than boolean masks."""
    in_band, hum = _bins_of(np.fft.rfftfreq(n, 1.0 / fs_hz), fs_hz, mains_hz)
    idx = np.flatnonzero(in_band)
    band = slice(int(idx[0]), int(idx[-1]) + 1) if idx.size else slice(0, 0)
    hum_idx = np.flatnonzero(hum)
    hum_idx.flags.writeable = False  # shared by every rep window of this length
    return band, hum_idx


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
