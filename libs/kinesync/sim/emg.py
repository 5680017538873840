"""Random surface-EMG carriers with a realistic power spectrum.

The carrier is Gaussian noise shaped in the frequency domain to the Shwedyk et al. (1977) model of
the surface-EMG power spectrum

    P(f) ∝ f_h⁴ f² / ((f² + f_l²)(f² + f_h²)²)

which peaks near 80-100 Hz for f_l ≈ 60 Hz, f_h ≈ 120 Hz, confined to the band the electrodes and
amplifiers pass (default 10-500 Hz). Multiplying it by an activation profile gives the amplitude-
modulated Gaussian process that is the standard model of interference-pattern EMG.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np
import scipy.fft


def shwedyk_psd(f_hz: np.ndarray, f_low_hz: float = 60.0, f_high_hz: float = 120.0) -> np.ndarray:
    """Shwedyk (1977) surface-EMG power spectral density at frequencies ``f_hz`` (Hz), peak-normalised shape."""
    f2 = np.square(np.asarray(f_hz, dtype=np.float64))
    return f_high_hz**4 * f2 / ((f2 + f_low_hz**2) * np.square(f2 + f_high_hz**2))


def emg_carrier(
    n: int,
    fs_hz: float,
    rng: np.random.Generator,
    f_low_hz: float = 60.0,
    f_high_hz: float = 120.0,
    band_hz: tuple[float, float] = (10.0, 500.0),
) -> np.ndarray:
    """``n`` samples at ``fs_hz`` (Hz) of unit-variance Gaussian noise with the Shwedyk EMG spectrum.

    Args:
        n: number of samples.
        fs_hz: sampling rate, Hz.
        rng: source of randomness (the caller seeds it; same state, same carrier).
        f_low_hz, f_high_hz: Shwedyk model corner frequencies, Hz.
        band_hz: pass band outside which the spectrum is set to zero, Hz (clipped at Nyquist).

    Returns:
        float64 array of length ``n`` with sample variance exactly 1 (mean 0).
    """
    return _shaped_noise(n, fs_hz, rng, band_hz, _ShwedykShape(f_low_hz, f_high_hz))


@dataclasses.dataclass(frozen=True)
class _ShwedykShape:
    f_low_hz: float
    f_high_hz: float

    def __call__(self, f_hz: np.ndarray) -> np.ndarray:
        return shwedyk_psd(f_hz, self.f_low_hz, self.f_high_hz)


def _flat(f_hz: np.ndarray) -> np.ndarray:
    return np.ones_like(f_hz)


def band_noise(n: int, fs_hz: float, rng: np.random.Generator, band_hz: tuple[float, float]) -> np.ndarray:
    """``n`` samples of unit-variance Gaussian noise, flat within ``band_hz`` (Hz) and zero outside."""
    return _shaped_noise(n, fs_hz, rng, band_hz, _flat)


def _shaped_noise(n, fs_hz, rng, band_hz, psd) -> np.ndarray:
    if n <= 0:
        return np.zeros(0)
    # Lengths with large prime factors make FFTs slow; synthesise a fast length and keep n samples.
    n_fft = scipy.fft.next_fast_len(n, real=True)
    amplitude = _amplitude(n_fft, float(fs_hz), (float(band_hz[0]), float(band_hz[1])), psd)
    # The DFT of white Gaussian noise has independent complex Gaussian bins, so drawing the bins
    # directly and shaping them gives the exact target spectrum with no filter start transient
    # (and saves the forward FFT).
    draws = rng.standard_normal((2, amplitude.size))
    x = scipy.fft.irfft((draws[0] + 1j * draws[1]) * amplitude, n_fft)[:n]
    x -= x.mean()
    sd = x.std()
    return x / sd if sd > 0.0 else x


@functools.lru_cache(maxsize=64)
def _amplitude(n: int, fs_hz: float, band_hz: tuple[float, float], psd) -> np.ndarray:
    f_hz = np.fft.rfftfreq(n, d=1.0 / fs_hz)
    amplitude = np.sqrt(psd(f_hz))
    amplitude[(f_hz < band_hz[0]) | (f_hz > min(band_hz[1], fs_hz / 2.0))] = 0.0
    amplitude.setflags(write=False)
    return amplitude
