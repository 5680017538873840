"""Two-group comparison: difference of means with a Welch confidence interval, and Hedges' g.

Numbers in, numbers out. References (docs/metrics.md, "Priming effect"): Welch (1947) for the
unequal-variance t interval with Satterthwaite's degrees of freedom; Hedges (1981) and Hedges & Olkin
(1985) for g, its small-sample correction J and its approximate standard error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class TwoGroup:
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    sd_a: float
    sd_b: float
    difference: float  # mean_a − mean_b
    ci_low: float
    ci_high: float
    df: float  # Welch–Satterthwaite degrees of freedom
    hedges_g: float | None  # None when both groups have no spread
    g_ci_low: float | None
    g_ci_high: float | None

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low > 0.0 or self.ci_high < 0.0


def welch_ci(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float, float]:
    """(difference, low, high, df) of mean(a) − mean(b), Welch's t interval; needs 2+ values per group."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if x.size < 2 or y.size < 2:
        raise ValueError("each group needs at least 2 values")
    va, vb = x.var(ddof=1) / x.size, y.var(ddof=1) / y.size
    diff = float(x.mean() - y.mean())
    se2 = va + vb
    if se2 == 0.0:
        return diff, diff, diff, float(x.size + y.size - 2)
    df = se2 * se2 / (va * va / (x.size - 1) + vb * vb / (y.size - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2.0, df)) * math.sqrt(se2)
    return diff, diff - half, diff + half, float(df)


def hedges_g(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> tuple[float, float, float] | None:
    """(g, low, high): standardised mean difference with the small-sample correction and an approximate
    normal interval; None when the pooled SD is zero."""
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    n1, n2 = x.size, y.size
    if n1 < 2 or n2 < 2:
        raise ValueError("each group needs at least 2 values")
    pooled = math.sqrt(((n1 - 1) * x.var(ddof=1) + (n2 - 1) * y.var(ddof=1)) / (n1 + n2 - 2))
    if pooled == 0.0:
        return None
    j = 1.0 - 3.0 / (4.0 * (n1 + n2) - 9.0)  # Hedges' J, exact enough from n = 2 per group
    g = j * float(x.mean() - y.mean()) / pooled
    se = math.sqrt((n1 + n2) / (n1 * n2) + g * g / (2.0 * (n1 + n2)))
    z = float(stats.norm.ppf(0.5 + confidence / 2.0))
    return g, g - z * se, g + z * se


def compare(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> TwoGroup:
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff, low, high, df = welch_ci(x, y, confidence)
    g = hedges_g(x, y, confidence)
    return TwoGroup(
        n_a=int(x.size), n_b=int(y.size), mean_a=float(x.mean()), mean_b=float(y.mean()),
        sd_a=float(x.std(ddof=1)), sd_b=float(y.std(ddof=1)), difference=diff, ci_low=low, ci_high=high, df=df,
        hedges_g=g[0] if g else None, g_ci_low=g[1] if g else None, g_ci_high=g[2] if g else None,
    )
