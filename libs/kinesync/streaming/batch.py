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

import numpy as np

from kinesync.streaming.ring import SampleRing
from kinesync.streaming.stream import SensorStream

_Entry = tuple[Any, SensorStream]  # (owner, stream)
# One call's worth: the streams' entries, their blocks and the blocks' no-NaN hints, in queue order.
_Group = tuple[list[_Entry], list[np.ndarray], list[bool]]


class TransformBatch:
    def __init__(self) -> None:
        self._streams: list[_Entry] = []
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
        dead: set[SensorStream] = set()  # failed in a round: no later round for them
        # Each stream's queue is taken off it whole. A stream queued here twice (its blocks transformed
        # on their own in between, by a drain, then queued again) is so transformed once, not twice.
        more: list[tuple[_Entry, list[tuple[np.ndarray, bool, int]]]] = []  # streams with a second block
        groups: dict[Hashable, _Group] = {}
        entries, self._streams = self._streams, []
        for entry in entries:
            s = entry[1]
            queued = s.deferred
            if not queued:
                continue
            s.deferred = []
            if len(queued) > 1:
                more.append((entry, queued))
            block, finite, n = queued[0]
            key = (s.batch_group, n)
            group = groups.get(key)
            if group is None:
                groups[key] = ([entry], [block], [finite])
            else:
                group[0].append(entry)
                group[1].append(block)
                group[2].append(finite)
        _run(groups, failed, dead)
        depth = 1
        while more:  # a backlog: the streams' next blocks, round by round, in the same order
            more = [(entry, queued) for entry, queued in more if len(queued) > depth and entry[1] not in dead]
            groups = {}
            for entry, queued in more:
                block, finite, n = queued[depth]
                members, blocks, finites = groups.setdefault((entry[1].batch_group, n), ([], [], []))
                members.append(entry)
                blocks.append(block)
                finites.append(finite)
            _run(groups, failed, dead)
            depth += 1
        return failed


def _run(groups: dict[Hashable, _Group], failed: list[tuple[Any, Exception]], dead: set[SensorStream]) -> None:
    """One round: a transform call per group, its outputs into the streams' rings."""
    for members, blocks, finites in groups.values():
        try:
            if len(members) == 1:
                outs = None
                out = members[0][1].transform_block(blocks[0], finites[0])
            else:
                transforms = [entry[1].transform for entry in members]
                outs = type(transforms[0]).many(transforms, blocks, all(finites))
        except Exception:
            # One of them raised: each on its own, so only the faulty one fails.
            for (owner, s), block, finite in zip(members, blocks, finites, strict=True):
                try:
                    s.ring.append(s.transform_block(block, finite))
                except Exception as exc:
                    failed.append((owner, exc))
                    dead.add(s)
            continue
        if outs is None:
            members[0][1].ring.append(out)
        else:
            SampleRing.append_each([entry[1].ring for entry in members], outs)
