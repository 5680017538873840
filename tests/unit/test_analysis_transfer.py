from __future__ import annotations

import math

import numpy as np
import pytest

from kinesync.analysis import force_transfer_index

BW_N, AMP_N, PUSH_S = 800.0, 600.0, 0.6


def _push(fs_hz: float, t0_s: float, onset_s: float) -> np.ndarray:
    t = t0_s + np.arange(round(3.0 * fs_hz)) / fs_hz
    tau = t - onset_s
    return BW_N + np.where((tau >= 0) & (tau <= PUSH_S), AMP_N * np.sin(np.pi * np.clip(tau, 0, PUSH_S) / PUSH_S), 0.0)


@pytest.mark.parametrize(("fs_force", "fs_emg"), [(1000.0, 2000.0), (1111.111, 1925.926)])
@pytest.mark.parametrize("pec_on_share", [0.0, 1 / 3, 0.5, 0.8])
def test_share_of_a_half_sine_push(fs_force: float, fs_emg: float, pec_on_share: float) -> None:
    # Force on its own clock (starts at 100.0 s), EMG on another (starts at 99.7 s): the push starts
    # at 101.0 s; the pectoralis is active from 101.0 + share·T s to 104 s. Known answer:
    # ∫_{aT}^{T} sin(πτ/T) dτ / ∫_0^T sin = (1 + cos(πa)) / 2.
    force_t0, emg_t0, onset = 100.0, 99.7, 101.0
    fz = _push(fs_force, force_t0, onset)
    t_emg = emg_t0 + np.arange(round(5.0 * fs_emg)) / fs_emg
    pec_env = np.where(t_emg >= onset + pec_on_share * PUSH_S, 1e-3, 1e-5)
    share = force_transfer_index(fz, fs_force, BW_N, pec_env, fs_emg, 5e-4, force_t0_s=force_t0, emg_t0_s=emg_t0)
    assert share == pytest.approx((1 + math.cos(math.pi * pec_on_share)) / 2, abs=0.005)


def test_window_none_and_outside_the_emg_record() -> None:
    fs = 1000.0
    fz = _push(fs, 0.0, 1.0)
    env = np.ones(3000)
    assert force_transfer_index(fz, fs, BW_N, env, fs, 0.5) == pytest.approx(1.0)
    assert force_transfer_index(fz, fs, BW_N, env, fs, 2.0) == 0.0  # never active
    assert force_transfer_index(fz, fs, BW_N, env, fs, 0.5, start_s=2.0) is None  # no propulsion there
    assert force_transfer_index(np.full(100, BW_N - 10), fs, BW_N, env, fs, 0.5) is None
    # EMG covering only the second half of the push (starts at 1.3 s): active half → share 1/2.
    half = force_transfer_index(fz, fs, BW_N, np.ones(2000), fs, 0.5, emg_t0_s=1.3)
    assert half == pytest.approx(0.5, abs=0.005)

