"""Causal EMG conditioning: band-pass, full-wave rectification, linear envelope.

Every filter here is causal (``sosfilt`` with carried state). A zero-phase filter (``filtfilt``)
would look ahead in time: its ringing moves onsets tens of milliseconds early and it cannot run
on a live stream anyway. The delay a causal filter adds is the same on every channel processed
with the same design, so it cancels in any lag measured between two channels.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal

try:
    # The compiled kernel behind signal.sosfilt. On a live stream the filters run on 50 ms frames, where
    # sosfilt's argument handling (axis moves, validation, copies) costs 15× the filtering itself.
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_kernel
except ImportError:  # a SciPy without it: the public function, same numbers, slower
    _sosfilt_kernel = None


def design_emg_bandpass(fs_hz: float, low_hz: float = 20.0, high_hz: float = 450.0, order: int = 4) -> np.ndarray:
    """Butterworth band-pass for surface EMG as second-order sections.

    Args:
        fs_hz: sampling rate of the EMG, Hz (any positive value, e.g. 1925.926).
        low_hz: lower -3 dB edge, Hz (SENIAM / De Luca 1997: 10-20 Hz removes motion artefact).
        high_hz: upper -3 dB edge, Hz; must lie below the Nyquist frequency ``fs_hz / 2``.
        order: Butterworth prototype order (the band-pass has twice this many poles).

    Returns:
        SOS array of shape (order, 6) for ``scipy.signal.sosfilt``.
    """
    _check_rate(fs_hz)
    nyquist_hz = fs_hz / 2.0
    if not 0.0 < low_hz < high_hz:
        raise ValueError(f"band edges must satisfy 0 < low_hz < high_hz, got low_hz={low_hz}, high_hz={high_hz}")
    if high_hz >= nyquist_hz:
        raise ValueError(
            f"high_hz={high_hz} Hz must lie below the Nyquist frequency {nyquist_hz:g} Hz of fs_hz={fs_hz:g} Hz; "
            "lower high_hz or record at a higher rate"
        )
    return _butter(order, (low_hz, high_hz), "bandpass", fs_hz).copy()


def design_envelope_lowpass(fs_hz: float, cutoff_hz: float = 6.0, order: int = 2) -> np.ndarray:
    """Butterworth low-pass that turns the rectified EMG into a linear envelope (SOS).

    Args:
        fs_hz: sampling rate, Hz.
        cutoff_hz: -3 dB cut-off, Hz; must lie below ``fs_hz / 2``.
        order: filter order.
    """
    _check_rate(fs_hz)
    if not 0.0 < cutoff_hz < fs_hz / 2.0:
        raise ValueError(f"cutoff_hz={cutoff_hz} Hz must lie in (0, {fs_hz / 2.0:g}) Hz for fs_hz={fs_hz:g} Hz")
    return _butter(order, cutoff_hz, "lowpass", fs_hz).copy()


@functools.lru_cache(maxsize=64)
def _butter(order: int, cutoff: float | tuple[float, float], btype: str, fs_hz: float) -> np.ndarray:
    # Designing a Butterworth filter costs milliseconds; every rep's quality check asks for the same one.
    return signal.butter(order, list(cutoff) if isinstance(cutoff, tuple) else cutoff, btype=btype, fs=fs_hz,
                         output="sos")


class EnvelopeFilter:
    """Streaming linear envelope of C EMG channels: band-pass, rectify, low-pass, all causal.

    The filter state is carried between calls, so feeding a recording in chunks of any sizes gives
    exactly (bit for bit) the output of one call on the whole recording. The initial state is zero:
    the first ~0.5 s after construction carry the filters' start transient.

    Args:
        fs_hz: sampling rate, Hz.
        n_channels: number of channels C; every channel gets the same filters.
        low_hz, high_hz: band-pass edges, Hz.
        cutoff_hz: envelope low-pass cut-off, Hz.
    """

    def __init__(
        self,
        fs_hz: float,
        n_channels: int,
        low_hz: float = 20.0,
        high_hz: float = 450.0,
        cutoff_hz: float = 6.0,
    ) -> None:
        if n_channels < 1:
            raise ValueError(f"n_channels must be >= 1, got {n_channels}")
        self.fs_hz = float(fs_hz)
        self.n_channels = int(n_channels)
        self._band_sos = design_emg_bandpass(fs_hz, low_hz, high_hz)
        self._low_sos = design_envelope_lowpass(fs_hz, cutoff_hz)
        # State in the kernel's layout, (channels, sections, 2), updated in place by every call.
        self._band_zi = np.zeros((self.n_channels, self._band_sos.shape[0], 2))
        self._low_zi = np.zeros((self.n_channels, self._low_sos.shape[0], 2))
        self._bank: FilterBank | None = None  # the bank whose arrays hold this state, if any

    def reset(self) -> None:
        """Forget the history (e.g. after a gap in the stream)."""
        self._band_zi[...] = 0.0
        self._low_zi[...] = 0.0

    def process(self, x: np.ndarray, overwrite_x: bool = False) -> np.ndarray:
        """Filter the next chunk ``x`` of shape (C, N) (volts); returns the envelope (C, N) float64, volts.

        With ``overwrite_x``, a C-contiguous float64 ``x`` is filtered in place and returned (no copy).
        """
        samples = np.asarray(x, dtype=np.float64)
        if samples.ndim != 2 or samples.shape[0] != self.n_channels:
            raise ValueError(f"expected shape ({self.n_channels}, N), got {samples.shape}")
        if samples.shape[1] == 0:
            return np.empty_like(samples)
        # One buffer through both stages: copied once, filtered, rectified and filtered in place.
        reuse = overwrite_x and samples is x and samples.flags.c_contiguous and samples.flags.writeable
        work = samples if reuse else np.array(samples, dtype=np.float64, order="C")
        self.process_inplace(work)
        return work

    def process_inplace(self, work: np.ndarray) -> None:
        """``process`` of a C-contiguous float64 (C, N) chunk in place, without checking its shape (the
        caller guarantees it: a streaming transform calls this 40 times a second per device)."""
        _sosfilt_inplace(self._band_sos, work, self._band_zi)
        np.abs(work, out=work)
        _sosfilt_inplace(self._low_sos, work, self._low_zi)


class FilterBank:
    """The states of several ``EnvelopeFilter``s of one design stacked in two arrays, for one kernel call
    per stage for all of them. Each filter's own state becomes a view of its rows, so a call of the
    filter alone and a call of the bank advance the same state (the kernel keeps rows apart: each
    channel gets exactly what its own filter's call gives)."""

    def __init__(self, filters: list[EnvelopeFilter]) -> None:
        self.members = tuple(filters)
        self.band_zi = np.concatenate([f._band_zi for f in filters])
        self.low_zi = np.concatenate([f._low_zi for f in filters])
        row = 0
        for f in filters:
            c = f.n_channels
            f._band_zi, f._low_zi, f._bank = self.band_zi[row : row + c], self.low_zi[row : row + c], self
            row += c

    @staticmethod
    def of(filters: list[EnvelopeFilter]) -> FilterBank:
        """The bank holding exactly ``filters`` in this order: the last one's when it still does (the same
        stations in the same order, hop after hop), else a new one taking over their states."""
        bank = filters[0]._bank
        if (bank is not None and len(bank.members) == len(filters)
                and all(a is b and a._bank is bank for a, b in zip(bank.members, filters, strict=True))):
            return bank
        return FilterBank(filters)

    def process_inplace(self, work: np.ndarray) -> None:
        """Every member's ``process_inplace`` on its rows of ``work`` (Σ channels, N), in one call per stage."""
        first = self.members[0]
        _sosfilt_inplace(first._band_sos, work, self.band_zi)
        np.abs(work, out=work)
        _sosfilt_inplace(first._low_sos, work, self.low_zi)


def sosfilt_rows(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``signal.sosfilt(sos, x, axis=-1)`` from rest (zero state) on the rows of 2-D ``x``, as a new
    float64 array: the same numbers, without sosfilt's argument handling (which costs more than
    filtering a 2 s rep window)."""
    out = np.array(x, dtype=np.float64, order="C")
    _sosfilt_inplace(sos, out, np.zeros((out.shape[0], sos.shape[0], 2)))
    return out


def _sosfilt_inplace(sos: np.ndarray, x: np.ndarray, zi: np.ndarray) -> None:
    """Filter the rows of C-contiguous float64 ``x`` in place, carrying state ``zi`` (rows, sections, 2)."""
    if _sosfilt_kernel is not None:
        _sosfilt_kernel(sos, x, zi)
        return
    y, z = signal.sosfilt(sos, x, axis=1, zi=zi.transpose(1, 0, 2))
    x[...] = y
    zi[...] = z.transpose(1, 0, 2)


def emg_envelope(
    x: np.ndarray,
    fs_hz: float,
    low_hz: float = 20.0,
    high_hz: float = 450.0,
    cutoff_hz: float = 6.0,
) -> np.ndarray:
    """Batch linear envelope of ``x`` (shape (N,) or (C, N), volts) with the causal EnvelopeFilter.

    Returns an array of the same shape as ``x`` (float64, volts).
    """
    samples = np.asarray(x, dtype=np.float64)
    single = samples.ndim == 1
    rows = samples[np.newaxis, :] if single else samples
    out = EnvelopeFilter(fs_hz, rows.shape[0], low_hz, high_hz, cutoff_hz).process(rows)
    return out[0] if single else out


def _check_rate(fs_hz: float) -> None:
    if not np.isfinite(fs_hz) or fs_hz <= 0.0:
        raise ValueError(f"fs_hz must be a positive finite sampling rate in Hz, got {fs_hz}")
