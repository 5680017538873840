"""Running sums equal to ``np.cumsum`` bit for bit, two at a time.

A running sum is one chain of dependent additions, so its cost is the adder's latency per sample, not
the arithmetic. Complex addition adds the real and the imaginary parts separately (the same IEEE
additions in the same order), so two independent chains run as one complex running sum and share
that latency.
"""

from __future__ import annotations

import numpy as np


def cumsum_pair(a: np.ndarray, b: np.ndarray, *, leading_zero: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(np.cumsum(a), np.cumsum(b))`` bit for bit, for two float64 arrays of one length (each after a
    0.0 with ``leading_zero``): the real and imaginary parts of one complex running sum (strided views)."""
    k = 1 if leading_zero else 0
    z = np.empty(a.size + k, dtype=np.complex128)
    z[:k] = 0.0
    z.real[k:] = a
    z.imag[k:] = b
    np.cumsum(z[k:], out=z[k:])
    return z.real, z.imag
