"""Mean and standard deviation of a 1-D array, equal to ``x.mean()`` and ``x.std(ddof=...)`` bit for bit.

``ndarray.std`` spends most of its time on argument handling for the general case (axes, ddof,
masks); every rep asks for the mean and SD of a few quiet baselines.
"""

from __future__ import annotations

import math

import numpy as np


def mean_sd(x: np.ndarray, ddof: int = 0) -> tuple[float, float]:
    """(mean, SD) of the 1-D float64 array ``x``, as ``(x.mean(), x.std(ddof=ddof))``; ``ddof`` 0: the
    population SD, 1: the sample SD. ``x`` needs more than ``ddof`` samples."""
    n = x.size
    if n <= ddof:
        raise ValueError(f"mean and SD of {n} samples with ddof {ddof}")
    # The same operations as numpy's _mean and _var: pairwise sum / n, squared deviations, sum / (n − ddof).
    mean = np.add.reduce(x) / n
    d = x - mean
    np.multiply(d, d, out=d)
    return float(mean), math.sqrt(float(np.add.reduce(d) / (n - ddof)))
