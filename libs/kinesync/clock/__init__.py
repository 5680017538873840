"""Clock alignment, pure: sync-pulse offsets between devices and LSL clock bookkeeping."""

from kinesync.clock.lsl import LslClockMap
from kinesync.clock.sync import OffsetEstimate, estimate_offset

__all__ = ["LslClockMap", "OffsetEstimate", "estimate_offset"]
