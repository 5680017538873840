"""Force transfer index: how much of the leg drive's propulsive impulse arrives while the chest works."""

from __future__ import annotations

import math

import numpy as np


def force_transfer_index(
    fz_n: np.ndarray,
    fs_force_hz: float,
    bw_n: float,
    pec_env: np.ndarray,
    fs_emg_hz: float,
    pec_threshold: float,
    *,
    force_t0_s: float = 0.0,
    emg_t0_s: float = 0.0,
    start_s: float | None = None,
    stop_s: float | None = None,
) -> float | None:
    """Share (0–1) of the rep's propulsive impulse ∫max(F − BW, 0) dt delivered while the pectoral
    envelope is above its onset threshold.

    High when the chest engages while the legs still drive; 0 when the pectoralis only fires after
    the drive is over.

    Args:
        fz_n: total vertical force, N, sampled at ``fs_force_hz`` (Hz); sample j is at
            ``force_t0_s + j / fs_force_hz`` s.
        bw_n: body weight (force at rest), N.
        pec_env: pectoral linear envelope (V), sampled at ``fs_emg_hz`` (Hz); sample i is at
            ``emg_t0_s + i / fs_emg_hz`` s. Both t0 arguments are on one clock (facility time).
        pec_threshold: envelope level above which the pectoralis counts as active (V), e.g.
            baseline mean + 3 SD as for its onset.
        start_s, stop_s: the rep, in the same clock (both ends included); None = the whole record.

    The envelope is linearly interpolated onto the force time base; force samples outside the EMG
    record count as inactive. Sums are rectangle-rule (the dt cancels in the share).

    Returns:
        The share, or None when the rep has no propulsive impulse (or no samples).
    """
    f = np.asarray(fz_n, dtype=np.float64)
    env = np.asarray(pec_env, dtype=np.float64)
    if f.ndim != 1 or env.ndim != 1:
        raise ValueError("fz_n and pec_env must be 1-D")
    if not (fs_force_hz > 0 and fs_emg_hz > 0):
        raise ValueError("sampling rates must be positive (Hz)")
    # Only the force samples near [start_s, stop_s] get a time stamp (a rep in 8 s of history): two
    # samples of margin either side, so rounding cannot drop one the whole record would keep.
    j0, j1 = 0, f.size
    if start_s is not None and math.isfinite(start_s):
        j0 = min(max(0, math.floor((start_s - force_t0_s) * fs_force_hz) - 2), f.size)
    if stop_s is not None and math.isfinite(stop_s):
        j1 = max(min(f.size, math.ceil((stop_s - force_t0_s) * fs_force_hz) + 3), j0)
    t_force = force_t0_s + np.arange(j0, j1) / fs_force_hz
    keep = np.ones(t_force.size, dtype=bool)
    if start_s is not None:
        keep &= t_force >= start_s
    if stop_s is not None:
        keep &= t_force <= stop_s
    if env.size == 0 or not keep.any():
        return None
    t_query = t_force[keep]
    # Only the EMG samples around the rep get a time stamp too (see _emg_span).
    lo, hi = _emg_span(float(t_query[0]), float(t_query[-1]), emg_t0_s, fs_emg_hz, env.size)
    t_emg = emg_t0_s + np.arange(lo, hi) / fs_emg_hz
    if hi - lo < 2 or (lo > 0 and not t_emg[0] <= t_query[0]) or (hi < env.size and not t_query[-1] < t_emg[-1]):
        lo, hi = 0, env.size
        t_emg = emg_t0_s + np.arange(env.size) / fs_emg_hz
    on_force_clock = np.interp(t_query, t_emg, env[lo:hi], left=np.nan, right=np.nan)
    active = on_force_clock > pec_threshold  # NaN (outside the EMG record) compares False
    propulsive = np.maximum(f[j0:j1][keep] - bw_n, 0.0)
    total = float(propulsive.sum())
    if total <= 0.0:
        return None
    return float(propulsive[active].sum() / total)


def _emg_span(first_s: float, last_s: float, t0_s: float, fs_hz: float, n: int) -> tuple[int, int]:
    """EMG samples lo … hi − 1 around the times first_s … last_s (ascending), two samples of margin
    either side.

    ``np.interp`` computes each value from the two samples around it, so on this stretch it gives
    the numbers of the whole record as long as the stretch starts at or before ``first_s`` (or at
    the record's start) and ends after ``last_s`` (or at the record's end), ties included: the caller
    checks that on the time stamps themselves and takes the whole record otherwise.
    """
    lo, hi = (first_s - t0_s) * fs_hz, (last_s - t0_s) * fs_hz
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return 0, n
    return min(max(0, math.floor(lo) - 2), n), max(min(n, math.ceil(hi) + 3), 0)
