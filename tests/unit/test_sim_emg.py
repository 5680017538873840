from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from kinesync.sim.emg import band_noise, emg_carrier, shwedyk_psd


def _median_frequency_hz(x: np.ndarray, fs_hz: float) -> float:
    f, p = signal.welch(x, fs=fs_hz, nperseg=1024)
    cumulative = np.cumsum(p)
    return float(f[np.searchsorted(cumulative, cumulative[-1] / 2)])


@pytest.mark.parametrize("fs_hz", [1925.926, 2000.0, 2148.148, 1000.0])
def test_carrier_has_unit_variance_and_emg_median_frequency(fs_hz: float) -> None:
    x = emg_carrier(60_000, fs_hz, np.random.default_rng(0))
    assert x.mean() == pytest.approx(0.0, abs=1e-12)
    assert x.var() == pytest.approx(1.0, rel=1e-9)
    assert 60.0 <= _median_frequency_hz(x, fs_hz) <= 130.0


def test_carrier_power_is_confined_to_the_band() -> None:
    fs = 2000.0
    f, p = signal.welch(emg_carrier(100_000, fs, np.random.default_rng(1)), fs=fs, nperseg=2048)
    inside = (f >= 10.0) & (f <= 500.0)
    assert p[~inside].sum() / p.sum() < 0.01


def test_shwedyk_shape_peaks_between_the_corners() -> None:
    f = np.linspace(1.0, 500.0, 5000)
    peak_hz = f[np.argmax(shwedyk_psd(f))]
    assert 60.0 < peak_hz < 120.0


def test_carrier_is_reproducible_and_gaussian() -> None:
    a = emg_carrier(5000, 2000.0, np.random.default_rng(5))
    b = emg_carrier(5000, 2000.0, np.random.default_rng(5))
    assert np.array_equal(a, b)
    kurtosis = np.mean(a**4) / np.mean(a**2) ** 2
    assert kurtosis == pytest.approx(3.0, abs=0.3)
    assert emg_carrier(0, 2000.0, np.random.default_rng(5)).size == 0


def test_band_noise_is_flat_in_band() -> None:
    fs = 2000.0
    f, p = signal.welch(band_noise(200_000, fs, np.random.default_rng(2), (10.0, 500.0)), fs=fs, nperseg=1024)
    in_band = p[(f > 30) & (f < 480)]
    assert in_band.std() / in_band.mean() < 0.15
