"""Per-rep timing judgements built on the phase lag: in-window flag and alignment score."""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_TARGET_LOW_MS = 80.0
DEFAULT_TARGET_HIGH_MS = 120.0
DEFAULT_ALIGNMENT_REPS = 10


def in_window(lag_ms: float, low_ms: float = DEFAULT_TARGET_LOW_MS, high_ms: float = DEFAULT_TARGET_HIGH_MS) -> bool:
    """True when the lag (ms) lies in the target window [low_ms, high_ms] (ms), both ends included.

    In ms, as the target windows and ``lag_ms`` are stored: a conversion to s could round a lag on an
    edge across it. An empty window (low_ms > high_ms, a malformed assignment) holds no lag; it is data,
    not a programmer error, so it judges instead of raising. A NaN lag is never in the window.
    """
    return low_ms <= lag_ms <= high_ms


def alignment_score(flags: Iterable[bool], n_reps: int = DEFAULT_ALIGNMENT_REPS) -> float | None:
    """Share (0..1) of the last ``n_reps`` lag-bearing reps that were in the window.

    ``flags`` are the in-window flags of the reps that produced a lag, oldest first. Fewer than
    ``n_reps`` flags give the share of those available; none gives None.
    """
    if n_reps < 1:
        raise ValueError(f"n_reps must be >= 1, got {n_reps}")
    recent = list(flags)[-n_reps:]
    if not recent:
        return None
    return sum(bool(f) for f in recent) / len(recent)
