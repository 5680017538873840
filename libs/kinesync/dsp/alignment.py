"""Per-rep timing judgements built on the phase lag: in-window flag and alignment score."""

from __future__ import annotations

from collections.abc import Iterable

DEFAULT_TARGET_LOW_S = 0.080
DEFAULT_TARGET_HIGH_S = 0.120
DEFAULT_ALIGNMENT_REPS = 10


def in_window(lag_s: float, low_s: float = DEFAULT_TARGET_LOW_S, high_s: float = DEFAULT_TARGET_HIGH_S) -> bool:
    """True when the lag (s) lies in the target window [low_s, high_s] (s), both ends included."""
    if low_s > high_s:
        raise ValueError(f"target window is empty: low_s={low_s} > high_s={high_s}")
    return low_s <= lag_s <= high_s


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
