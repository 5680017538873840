"""Per-rep analysis built on ``kinesync.dsp``: pure functions, numbers in, numbers out, no I/O.

- ``quality``: per-channel signal quality (noise floor, SNR, clipping, mains hum, flat line, gaps).
- ``jump``: jump height by flight time and by impulse–momentum, with the rest-period rule.
- ``transfer``: force transfer index (propulsive impulse delivered while the pectoralis is active).
- ``phases``: weighing, force-plate phases, their metrics and the per-phase left/right asymmetry.

Definitions, parameters and references: docs/metrics.md.
"""

from __future__ import annotations

from kinesync.analysis.jump import JumpResult, jump_heights
from kinesync.analysis.quality import ChannelQuality, channel_quality
from kinesync.analysis.transfer import force_transfer_index

__all__ = [
    "ChannelQuality",
    "JumpResult",
    "channel_quality",
    "force_transfer_index",
    "jump_heights",
]
