"""Exponential backoff with jitter: the one retry delay of every service."""

from __future__ import annotations

import random


def backoff_s(
    attempt: int, base_s: float = 0.2, cap_s: float = 10.0, rng: random.Random | None = None, *,
    fixed_share: float = 0.0,
) -> float:
    """Delay before retry ``attempt`` (0-based): d = min(cap, base·2^attempt), of which ``fixed_share``
    is fixed and the rest uniform at random.

    ``fixed_share`` 0 ("full jitter", the default) keeps many writers that failed together from
    retrying together; 0.5 ("equal jitter") also guarantees a receiver that is down real breathing
    room between attempts; 1 is plain exponential backoff.
    """
    d = min(cap_s, base_s * (2**attempt))
    fixed = d * fixed_share
    return fixed + (rng or random).uniform(0.0, d - fixed)
