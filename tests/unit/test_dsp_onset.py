from __future__ import annotations

import numpy as np
import pytest

from kinesync.dsp.onset import teager_kaiser, threshold_onset


@pytest.mark.parametrize("fs_hz", [1000.0, 1925.926, 2148.148])
def test_threshold_onset_finds_step(fs_hz: float) -> None:
    rng = np.random.default_rng(0)
    n, true_onset = int(2 * fs_hz), int(1.2 * fs_hz)
    x = 1.0 + 0.05 * rng.standard_normal(n)
    x[true_onset:] += 1.0
    base = x[: int(fs_hz)]
    onset = threshold_onset(x, fs_hz, base.mean(), base.std())
    assert onset == true_onset


def test_short_excursions_are_ignored_by_the_hold_time() -> None:
    fs = 1000.0
    x = np.zeros(2000)
    x[300:310] = 10.0  # 10 ms spike, shorter than the 25 ms hold
    x[1000:1025] = 10.0  # exactly 25 ms: counts
    assert threshold_onset(x, fs, 0.0, 1.0, h=3.0, hold_s=0.025) == 1000
    assert threshold_onset(x, fs, 0.0, 1.0, hold_s=0.026) is None
    assert threshold_onset(x, fs, 0.0, 1.0, start=1001, hold_s=0.020) == 1001
    assert threshold_onset(x[:5], fs, 0.0, 1.0) is None


def test_teager_kaiser_of_a_sine_is_constant() -> None:
    # For A·sin(Ωn + φ), ψ = A²·sin²(Ω): a constant that grows with amplitude and frequency.
    fs, f, amp = 2000.0, 80.0, 3.0
    n = np.arange(1000)
    omega = 2 * np.pi * f / fs
    psi = teager_kaiser(amp * np.sin(omega * n + 0.3))
    assert psi[0] == 0.0 and psi[-1] == 0.0
    np.testing.assert_allclose(psi[1:-1], amp**2 * np.sin(omega) ** 2, rtol=1e-9, atol=1e-12)
    assert teager_kaiser(np.array([1.0, 2.0])).tolist() == [0.0, 0.0]
