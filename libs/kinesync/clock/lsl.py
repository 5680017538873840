"""LSL clock bookkeeping: from a remote stream's timestamps to facility time (ns since the epoch).

LSL stamps samples with the sender's ``local_clock()`` (monotonic seconds). ``time_correction()``
estimates remote → local (NTP-like: offset = ((t1−t0)+(t2−t3))/2, the lowest round trip wins), and
this receiving process maps its own ``local_clock()`` to wall-clock epoch time once, with the
shortest of several back-to-back readings. Facility time of a remote stamp ``t`` is then
``(t + correction) + local_to_epoch``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LslClockMap:
    # Epoch ns at local_clock() == 0, as an integer: epoch seconds in a float64 keep only ~0.2 µs.
    local_to_epoch_ns: int
    corrections: deque[float] = field(default_factory=lambda: deque(maxlen=8))

    @classmethod
    def measure(cls, local_clock: Callable[[], float], wall_ns: Callable[[], int], tries: int = 9) -> LslClockMap:
        """Bracket a wall-clock reading between two local_clock() reads; the tightest bracket wins."""
        best: tuple[float, float] | None = None
        for _ in range(tries):
            before = local_clock()
            wall = wall_ns()
            after = local_clock()
            width = after - before
            if best is None or width < best[0]:
                best = (width, wall - round((before + after) / 2 * 1e9))
        assert best is not None
        return cls(int(best[1]))

    def add_correction(self, seconds: float) -> None:
        self.corrections.append(seconds)

    @property
    def correction_s(self) -> float:
        """The newest correction: LSL already chose the lowest-round-trip estimate for it."""
        return self.corrections[-1] if self.corrections else 0.0

    def to_facility_ns(self, remote_s: float) -> int:
        return self.local_to_epoch_ns + round((remote_s + self.correction_s) * 1e9)

    def to_remote_s(self, facility_ns: int) -> float:
        return (facility_ns - self.local_to_epoch_ns) / 1e9 - self.correction_s
