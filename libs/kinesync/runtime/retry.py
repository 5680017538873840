"""Exponential backoff with full jitter."""

from __future__ import annotations

import random


def backoff_s(attempt: int, base_s: float = 0.2, cap_s: float = 10.0, rng: random.Random | None = None) -> float:
    """Delay before retry ``attempt`` (0-based): uniform in [0, min(cap, base·2^attempt)].

    Full jitter keeps many writers that failed together from retrying together.
    """
    r = rng or random
    return r.uniform(0.0, min(cap_s, base_s * (2**attempt)))
