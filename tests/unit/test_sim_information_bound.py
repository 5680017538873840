"""The information limit of the simulated lag (``kinesync.sim.information_bound``)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kinesync.sim.information_bound import (
    BAND_HZ,
    EXPONENTS_KNOWN,
    lag_bounds,
    set_share_bound,
    whittle_information,
)
from kinesync.sim.physiology import PhysiologySpec, simulate_session

B_HZ = BAND_HZ[1] - BAND_HZ[0]


def _band(n_freq: int = 2000) -> tuple[np.ndarray, float]:
    df = B_HZ / n_freq
    return BAND_HZ[0] + (np.arange(n_freq) + 0.5) * df, df


def test_without_noise_every_frequency_of_the_band_counts_whatever_the_carrier_spectrum() -> None:
    f, df = _band()
    t = np.arange(0.0, 1.0, 1e-3)
    a = 0.05 + np.exp(-(((t - 0.5) / 0.1) ** 2))
    d_power = np.vstack([2 * a * np.exp(-(((t - 0.5) / 0.1) ** 2)) * 2 * (t - 0.5) / 0.01])  # d(a²)/d t_peak
    flat = np.full_like(f, 1.0 / B_HZ)
    peaked = np.exp(-(((f - 100.0) / 40.0) ** 2))
    peaked /= peaked.sum() * df
    expected = B_HZ * float(np.sum((d_power[0] / a**2) ** 2) * 1e-3)  # B ∫ (∂ log a²)² dt
    for carrier in (flat, peaked):
        info = whittle_information(d_power, a, 1e-3, 1.0, 0.0, carrier, flat, df)
        assert info[0, 0] == pytest.approx(expected, rel=1e-9)
    # noise takes information away, more where the carrier is weak
    noisy = whittle_information(d_power, a, 1e-3, 1.0, 0.1, peaked, flat, df)
    assert noisy[0, 0] < expected


def test_the_bound_on_an_amplitude_is_what_repeated_measurement_gives() -> None:
    """Monte Carlo: the RMS of band-limited Gaussian noise over 1 s, 400 draws. Its scatter is the
    bound's (the sample RMS is efficient for a constant amplitude), which checks the information's scale."""
    fs, n, h = 2000.0, 2000, 1.0
    f, df = _band()
    flat = np.full_like(f, 1.0 / B_HZ)
    info = whittle_information(np.full((1, n), 2.0 * h), np.full(n, h), 1.0 / fs, 1.0, 0.0, flat, flat, df)
    bound_sd = 1.0 / math.sqrt(info[0, 0])
    rng = np.random.default_rng(1)
    freqs = np.fft.rfftfreq(n, 1.0 / fs)
    inside = (freqs >= BAND_HZ[0]) & (freqs <= BAND_HZ[1])
    draws = []
    for _ in range(400):
        bins = (rng.standard_normal(freqs.size) + 1j * rng.standard_normal(freqs.size)) * inside
        draws.append(np.fft.irfft(bins, n))
    x = np.array(draws)
    x *= h / math.sqrt(np.mean(x * x))  # one scale for all draws: amplitude h on average, not in each
    rms = np.sqrt(np.mean(x * x, axis=1))
    assert np.std(rms) == pytest.approx(bound_sd, rel=0.12)


def test_bounds_on_simulated_reps_grow_with_what_is_unknown() -> None:
    spec = PhysiologySpec(exercise="back_squat", seed=3, lag_ms=120.0)
    truth = simulate_session(spec, n_reps=2).reps
    peak_only = lag_bounds(spec, 2, ("peak",))
    widths = lag_bounds(spec, 2, EXPONENTS_KNOWN)
    everything = lag_bounds(spec, 2, ("peak", "height", "rise", "fall", "rise_exponent", "fall_exponent"))
    for t, a, b, c in zip(truth, peak_only, widths, everything, strict=True):
        assert a.lag_ms == pytest.approx(t.lag_ms, abs=1e-6)  # the simulator's own truth
        assert 0.0 < a.lag_sd_ms < b.lag_sd_ms < c.lag_sd_ms < 500.0
        assert b.lag_sd_ms == pytest.approx(math.hypot(b.leg_sd_ms, b.pec_sd_ms))


def test_the_set_share_bound_is_the_normal_probability_of_the_set_mean() -> None:
    assert set_share_bound([7.73] * 10, 10, 4.0) == pytest.approx(0.90, abs=0.005)
    assert set_share_bound([13.0] * 10, 10, 4.0) < 0.7
    assert set_share_bound([0.0], 10, 4.0) == 1.0
