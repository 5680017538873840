"""Fast single quantile of a 1-D array, equal to ``np.percentile`` (default linear method) bit for bit.

``np.percentile`` spends most of its time on argument handling for the general case (axes, several
quantiles, methods); a window's 10th percentile is asked for on every window close.
"""

from __future__ import annotations

import numpy as np


def percentile_linear(x: np.ndarray, q_pct: float) -> float:
    """The ``q_pct`` percentile (0–100) of the 1-D array ``x``, as ``np.percentile(x, q_pct)``."""
    n = x.size
    if n == 0:
        raise ValueError("percentile of an empty array")
    # The same arithmetic as numpy's "linear" method: virtual index, neighbours, its _lerp.
    virtual = (q_pct / 100.0) * (n - 1)
    lo = int(np.floor(virtual))
    hi = min(lo + 1, n - 1)
    part = np.partition(x, (lo, hi, n - 1))
    if np.isnan(part[n - 1]):  # NaN sorts last; numpy's answer is then NaN
        return float("nan")
    a, b = float(part[lo]), float(part[hi])
    t = virtual - lo
    diff = b - a
    return b - diff * (1.0 - t) if t >= 0.5 else a + diff * t
