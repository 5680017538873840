"""Per-rep analysis built on ``kinesync.dsp``: pure functions, numbers in, numbers out, no I/O.

- ``quality``: per-channel signal quality (noise floor, SNR, clipping, mains hum, flat line, gaps).
- ``jump``: jump height by flight time and by impulse–momentum, with the rest-period rule.
- ``transfer``: force transfer index (propulsive impulse delivered while the pectoralis is active).
- ``asymmetry``: left/right asymmetry index of two bilateral values.

Definitions, parameters and references: docs/metrics.md.
"""

from __future__ import annotations

import math

from kinesync.analysis.jump import JumpResult, jump_heights
from kinesync.analysis.quality import ChannelQuality, channel_quality
from kinesync.analysis.transfer import force_transfer_index

__all__ = [
    "ChannelQuality",
    "JumpResult",
    "asymmetry",
    "channel_quality",
    "force_transfer_index",
    "jump_heights",
]


def asymmetry(left: float, right: float) -> float:
    """Bilateral asymmetry, %: (L − R)/(L + R)·100 (positive: the left side carries more).

    Apply it to the peak force or the impulse of each plate. ±100 % means one side carries all; NaN
    when L + R is 0 (nothing to compare).
    """
    total = float(left) + float(right)
    if total == 0.0 or not math.isfinite(total):
        return math.nan
    return (float(left) - float(right)) / total * 100.0
