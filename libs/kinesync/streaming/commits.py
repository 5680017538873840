"""Which input offsets the analyzer may commit without losing a window on a crash.

A station's next windows need samples from before its watermark: the window itself, the envelope
filters' settling time and the force history used for body weight. Committing past those would
leave a restarted analyzer without them, and those windows would never be computed. So an offset
is committed only once every message before it holds data no future window of its station needs;
after a restart the analyzer replays from there, rebuilds its buffers and re-emits the few windows
in between, which storage overwrites (their keys are deterministic).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from kinesync.bus.base import TopicPartition

# (station, topic) -> facility time from which that station's data on that topic is still needed;
# None: everything is still needed (the station has not started its windows yet).
NeededFrom = Callable[[str, str], int | None]


@dataclass(frozen=True, slots=True)
class _Seen:
    offset: int
    station: str | None  # None: a dead letter, never needed again
    end_ns: int


class CommitTracker:
    def __init__(self) -> None:
        self._seen: dict[TopicPartition, deque[_Seen]] = {}
        self._next: dict[TopicPartition, int] = {}

    def record(self, tp: TopicPartition, offset: int, station: str | None, end_ns: int) -> None:
        self._seen.setdefault(tp, deque()).append(_Seen(offset, station, end_ns))
        self._next[tp] = offset + 1

    def forget(self, parts: set[TopicPartition]) -> None:
        for tp in parts:
            self._seen.pop(tp, None)
            self._next.pop(tp, None)

    def safe_offsets(self, needed_from: NeededFrom) -> dict[TopicPartition, int]:
        """Per partition, the offset up to which nothing is needed any more (monotonic)."""
        out: dict[TopicPartition, int] = {}
        for tp, seen in self._seen.items():
            while seen:
                head = seen[0]
                if head.station is not None:
                    need = needed_from(head.station, tp[0])
                    if need is None or head.end_ns > need:
                        break
                seen.popleft()
            out[tp] = seen[0].offset if seen else self._next[tp]
        return out
