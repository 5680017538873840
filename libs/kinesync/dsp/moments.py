"""Mean and standard deviation of a 1-D array, equal to ``x.mean()`` and ``x.std()`` bit for bit.

``ndarray.std`` spends most of its time on argument handling for the general case (axes, ddof,
masks); every rep asks for the mean and SD of a few quiet baselines.
"""

from __future__ import annotations

import math

import numpy as np


def mean_sd(x: np.ndarray) -> tuple[float, float]:
    """(mean, population SD) of the non-empty 1-D float64 array ``x``, as ``(x.mean(), x.std())``."""
    n = x.size
    if n == 0:
        raise ValueError("mean and SD of an empty array")
    # The same operations as numpy's _mean and _var: pairwise sum / n, squared deviations, sum / n.
    mean = np.add.reduce(x) / n
    d = x - mean
    np.multiply(d, d, out=d)
    return float(mean), math.sqrt(float(np.add.reduce(d) / n))
