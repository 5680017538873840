"""Where a force leaves a resting level: the start of a push from a pause, seen by force plates.

A position transducer sees a movement from rest late: the bar's height grows as the cube of the time
since the start, so its first millimetres drown in the sensor's noise and the start has to be
extrapolated (``kinesync.dsp.velocity``). The plates under the same body see the same start in the
force itself, which leaves its resting level at a finite rate: a line rising out of ~2 N of noise
at 4–16 N/ms, located to a fraction of a millisecond.
"""

from __future__ import annotations

import math

import numpy as np


def force_leaves_rest(
    force_n: np.ndarray,
    fs_hz: float,
    search_index: int,
    *,
    rest_s: float = 0.15,
    k_sd: float = 5.0,
    min_threshold_n: float = 2.0,
    fit_s: float = 0.03,
    max_back_s: float = 0.05,
    max_rest_sd_share: float = 0.01,
) -> float | None:
    """The (fractional) sample index where the force rises out of the rest before ``search_index``.

    The resting level and its noise are the mean and SD of the ``rest_s`` before ``search_index``;
    the rise is where the force first exceeds that level by ``k_sd`` SD (at least
    ``min_threshold_n``). A quadratic fitted to the ``fit_s`` after that crossing is extrapolated back
    to the resting level (its root at most ``max_back_s`` before the crossing).

    Args:
        force_n: total vertical force, N (1-D).
        fs_hz: sampling rate, Hz.
        search_index: a sample at or shortly after the start; the rest must end before it.
        rest_s: length of the rest that sets the level, s.
        k_sd: detection threshold, SD of the rest.
        min_threshold_n: the least threshold above the level, N (a quantised, noise-free record).
        fit_s: length of the fitted rise after the crossing, s.
        max_back_s: furthest the start may lie before the crossing, s.
        max_rest_sd_share: the rest's SD must be at most this share of its level (else it is no rest).

    Returns:
        The start as a fractional sample index, or None when there is no quiet rest, no rise, or the
        fit does not meet the level where a start can be.
    """
    f = np.asarray(force_n, dtype=np.float64)
    if not fs_hz > 0.0 or f.ndim != 1:
        return None
    n_rest = max(3, round(rest_s * fs_hz))
    lo = search_index - n_rest
    if lo < 0 or search_index >= f.size:
        return None
    rest = f[lo:search_index]
    level = float(rest.mean())
    sd = float(rest.std())
    if not (math.isfinite(level) and level > 0.0 and sd <= max_rest_sd_share * level):
        return None
    threshold = max(k_sd * sd, min_threshold_n)
    above = np.flatnonzero(f[search_index:] - level > threshold)
    if above.size == 0:
        return None
    c = search_index + int(above[0])
    n_fit = max(3, round(fit_s * fs_hz))
    if c + n_fit > f.size:
        return None
    d = np.arange(n_fit, dtype=np.float64)
    a2, a1, a0 = np.polyfit(d, f[c:c + n_fit] - level, 2)
    roots = np.roots([a2, a1, a0])
    real = roots[np.abs(roots.imag) < 1e-9].real
    back = real[(real <= 0.0) & (real >= -max_back_s * fs_hz)]
    if back.size == 0:
        return None
    return c + float(back.max())
