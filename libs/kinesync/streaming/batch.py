"""Per-frame transforms of many streams in one call: the first columnar step of the analyzer.

Within a fetched batch every station's in-order frames only queue their raw block
(``SensorStream.add(..., batch)``); ``TransformBatch.flush`` then runs, round by round (each stream's
oldest queued block), one transform call per transform layout and block length for all the streams
that share it, with their filter states stacked (``EmgTransform.many``, ``ForceTransform.many``). A
stream's blocks stay in order and its state passes from one block to the next exactly as one call per
frame would, so the rings hold the same numbers bit for bit (``tests/unit/test_engine_fast_paths.py``).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from kinesync.streaming.stream import SensorStream


class TransformBatch:
    def __init__(self) -> None:
        self._streams: list[tuple[Any, SensorStream]] = []
        self._owner: Any = None

    def owner(self, station: Any) -> None:
        """The station whose frames are handed over next (returned with a failure)."""
        self._owner = station

    def defer(self, stream: SensorStream) -> None:
        """``stream`` has queued its first block since the last flush."""
        self._streams.append((self._owner, stream))

    def __bool__(self) -> bool:
        return bool(self._streams)

    def flush(self) -> list[tuple[Any, Exception]]:
        """Transform every queued block into its stream's ring; returns (owner, exception) of the
        streams whose transform raised (their queued blocks are dropped: the engine rebuilds them)."""
        failed: list[tuple[Any, Exception]] = []
        streams = [(o, s) for o, s in self._streams if s.deferred]
        self._streams = []
        while streams:
            groups: dict[Hashable, list[tuple[Any, SensorStream]]] = {}
            for owner, s in streams:
                groups.setdefault((s.batch_key, s.deferred[0][0].shape[1]), []).append((owner, s))
            for members in groups.values():
                try:
                    if len(members) == 1:
                        s = members[0][1]
                        outs = [s.transform_block(*s.deferred[0])]
                    else:
                        streams_ = [s for _, s in members]
                        kind = type(streams_[0].transform)
                        outs = kind.many([s.transform for s in streams_], [s.deferred[0][0] for s in streams_],
                                         all(s.deferred[0][1] for s in streams_))
                except Exception:
                    outs = None
                if outs is None:
                    # One of them raised: each on its own, so only the faulty one fails.
                    for owner, s in members:
                        try:
                            s.ring.append(s.transform_block(*s.deferred[0]))
                            del s.deferred[0]
                        except Exception as exc:
                            failed.append((owner, exc))
                            s.deferred.clear()
                    continue
                for (_, s), out in zip(members, outs, strict=True):
                    s.ring.append(out)
                    del s.deferred[0]
            streams = [(o, s) for o, s in streams if s.deferred]
        return failed
