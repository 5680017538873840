"""One device's sample stream: event-time ordering, gap filling and a ring of processed samples.

Frames may arrive out of order within the lateness bound. They are placed on the stream's
sample grid by their timestamp (index = (t0 − anchor) · rate), processed strictly in index
order (the causal filters carry state from sample to sample) and appended to a ring. Because
order and grid do not depend on how the samples were cut into frames, any framing and any
arrival order within the lateness bound give bit-identical processed samples.
"""

from __future__ import annotations

import heapq
import itertools
import math
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from kinesync.codec.frame import Frame
from kinesync.streaming.ring import SampleRing

if TYPE_CHECKING:
    from kinesync.streaming.batch import TransformBatch

NS = 1_000_000_000

Transform = Callable[[np.ndarray], np.ndarray]


@dataclass
class StreamCounters:
    frames: int = 0
    samples: int = 0
    late_frames: int = 0  # arrived after their samples had been processed; dropped
    gaps: int = 0
    gap_samples: int = 0  # missing samples replaced by zeros


@dataclass(order=True)
class _Pending:
    index: int
    seq: int
    frame: Frame = field(compare=False)


class SensorStream:
    def __init__(
        self,
        *,
        rate_hz: float,
        channels: tuple[str, ...],
        transform: Transform,
        n_out: int,
        capacity_s: float,
        lateness_ns: int,
        dtype: type = np.float64,
    ) -> None:
        self.rate_hz = rate_hz
        self.channels = channels
        self.transform = transform  # read only: the stream's rings hold what it gave
        # A transform that takes the wire's float32 samples converts what it needs itself.
        self._as_given = bool(getattr(transform, "takes_float32", False))
        # ... and may be told that a block holds no NaN (``transform(block, True)``), sparing it the test.
        self._finite_hint = self._as_given and bool(getattr(transform, "takes_finite_hint", False))
        self._n_in = len(channels)
        # Transforms that can run for many streams at once (``TransformBatch``) say so with a key.
        self.batch_key = getattr(transform, "batch_key", None) if self._as_given else None
        # The key as a small int, equal for equal keys: the batch groups streams by it once a frame, and a
        # tuple key of the layout would be hashed and compared element by element every time.
        self.batch_group = _group_of(self.batch_key) if self.batch_key is not None else None
        # In-order blocks whose transform waits for the batch they were handed to: (samples, finite, length).
        self.deferred: list[tuple[np.ndarray, bool, int]] = []
        # Wall time of the last frame handed to this stream (the station's bounded wait reads it).
        self.seen_wall_ns: int | None = None
        self.ring = SampleRing(n_out, max(1, int(np.ceil(capacity_s * rate_hz))), dtype=dtype)
        self._lateness_ns = lateness_ns
        self.anchor_ns: int | None = None
        self.next_index: int | None = None  # first index not yet processed
        # Facility time up to which every sample has been processed: time_of(next_index), None before the
        # stream starts. Kept with next_index wherever it moves: the station's window clock reads it for
        # every frame of every partner stream.
        self.watermark_ns: int | None = None
        self._pending: list[_Pending] = []
        self._max_end_ns: int | None = None
        self._counters = StreamCounters()
        # Counted for every frame: plain ints here rather than fields of another object, which at hundreds of
        # stations is one more cache line to fetch per frame (``counters`` puts them together).
        self._frames = 0
        self._samples = 0
        # Absolute gap intervals [start, stop) in sample indices, newest last.
        self.gaps: list[tuple[int, int]] = []

    @property
    def counters(self) -> StreamCounters:
        c = self._counters
        c.frames, c.samples = self._frames, self._samples
        return c

    def matches(self, frame: Frame) -> bool:
        # The codec hands every frame of a device the same channels tuple: identity first.
        return frame.rate_hz == self.rate_hz and (frame.channels is self.channels or frame.channels == self.channels)

    def index_of(self, t_ns: int) -> int:
        """Sample index at or after facility time ``t_ns`` (ceil)."""
        assert self.anchor_ns is not None
        # math.ceil: the same integer as int(np.ceil(...)) of the float, without a ufunc call on a scalar
        return math.ceil((t_ns - self.anchor_ns) * self.rate_hz / 1e9 - 1e-6)

    def time_of(self, index: float) -> int:
        assert self.anchor_ns is not None
        return self.anchor_ns + round(index * 1e9 / self.rate_hz)

    def add(self, frame: Frame, limit_ns: int | None = None, batch: TransformBatch | None = None) -> int:
        """Accept a frame; processes whatever has become contiguous, up to ``limit_ns``. Returns the frame's
        duration (ns, ``frame.duration_ns``), which the engine counts towards its next poll.

        With ``batch``, an in-order frame's transform is left to the batch (``TransformBatch.flush``),
        which runs it together with other streams' of the same layout: the stream's watermark moves at
        once, its ring only at the flush, so nothing may read the ring before it.
        """
        self._frames += 1
        t0 = frame.t0_ns
        samples = frame.samples
        n = samples.shape[1]
        # frame.duration_ns, without its two property calls.
        duration = round(n * 1e9 / frame.rate_hz)
        anchor = self.anchor_ns
        if anchor is None:
            anchor = self.anchor_ns = t0
        index = round((t0 - anchor) * self.rate_hz / 1e9)
        next_index = self.next_index
        if next_index is not None and index < next_index:
            self._counters.late_frames += 1
            return duration
        end = t0 + duration  # frame.end_ns
        if self._max_end_ns is None or end > self._max_end_ns:
            self._max_end_ns = end
        if index == next_index and not self._pending and (limit_ns is None or t0 < limit_ns):
            # In order and nothing waiting (the common case): what drain would do, without the heap.
            if batch is not None and self.batch_group is not None:
                deferred = self.deferred
                deferred.append((samples, self._finite_hint and not frame.nan_allowed, n))
                if len(deferred) == 1:
                    batch.defer(self)
            elif self._as_given:
                # A frame that does not allow gap markers holds no NaN (the codec checked).
                self.ring.append(self.transform_block(samples, self._finite_hint and not frame.nan_allowed))
            else:
                self.ring.append(self.transform(np.asarray(samples, dtype=np.float64)))
            self.next_index = next_index = next_index + n
            self.watermark_ns = anchor + round(next_index * 1e9 / self.rate_hz)  # time_of(next_index)
            self._samples += n
            return duration
        heapq.heappush(self._pending, _Pending(index, frame.seq, frame))
        self.drain(limit_ns)
        return duration

    def transform_block(self, samples: np.ndarray, finite: bool) -> np.ndarray:
        """The transform of one in-order block of the wire's samples (``finite``: it holds no NaN)."""
        return self.transform(samples, True) if finite else self.transform(samples)

    def flush_deferred(self) -> None:
        """Transform the deferred blocks on their own, in order (before anything else reaches the ring)."""
        blocks, self.deferred = self.deferred, []
        for samples, finite, _ in blocks:
            self.ring.append(self.transform_block(samples, finite))

    @property
    def pending_frames(self) -> int:
        return len(self._pending)

    @property
    def earliest_pending_ns(self) -> int | None:
        return self._pending[0].frame.t0_ns if self._pending else None

    def drain(self, limit_ns: int | None = None) -> None:
        """Process pending frames in order; frames starting at or after ``limit_ns`` stay pending.

        The limit lets a station hold back a stream that runs ahead of its partner in event
        time, so the ring never has to drop samples a window still needs.
        """
        if self.deferred:
            self.flush_deferred()
        while self._pending:
            head = self._pending[0]
            # The limit holds back a running stream, never its start: a stream that cannot start
            # gives its partner nothing to wait for.
            if limit_ns is not None and self.next_index is not None and head.frame.t0_ns >= limit_ns:
                return
            if self.next_index is None:
                # A device's first frame (seq 0) starts the stream at once; otherwise an earlier
                # frame may still be on its way, so wait until the lateness bound has passed.
                waited = self._max_end_ns - head.frame.t0_ns >= self._lateness_ns
                if head.seq != 0 and not waited:
                    return
                # Anchor on the earliest frame, whatever arrived first, so the sample grid (and
                # every timestamp derived from it) does not depend on arrival order.
                self.anchor_ns = head.frame.t0_ns
                self._pending = [
                    _Pending(round((p.frame.t0_ns - self.anchor_ns) * self.rate_hz / 1e9), p.seq, p.frame)
                    for p in self._pending
                ]
                heapq.heapify(self._pending)
                head = self._pending[0]
                self.next_index = head.index
                self.watermark_ns = self.time_of(head.index)
                # The ring's columns follow the facility clock's sample count, so streams of one layout on
                # one sample grid write each instant into the same column (one assignment for all of them).
                self.ring.reset(head.index, round(Fraction(self.anchor_ns) * Fraction(self.rate_hz) / NS))
            if head.index > self.next_index:
                if self._max_end_ns - self.time_of(self.next_index) < self._lateness_ns:
                    return  # the missing frame may still arrive
                self._fill_gap(head.index - self.next_index)
            heapq.heappop(self._pending)
            if head.index < self.next_index:
                self._counters.late_frames += 1
                continue
            self._process(self._input(head.frame.samples))

    def _input(self, samples: np.ndarray) -> np.ndarray:
        return samples if self._as_given else np.asarray(samples, dtype=np.float64)

    def _fill_gap(self, n: int) -> None:
        self._counters.gaps += 1
        self._counters.gap_samples += n
        self.gaps.append((self.next_index, self.next_index + n))
        del self.gaps[:-16]
        self._process(np.zeros((self._n_in, n)))

    def _process(self, block: np.ndarray) -> None:
        self.ring.append(self.transform(block))
        self.next_index += block.shape[1]
        self.watermark_ns = self.time_of(self.next_index)
        self._samples += block.shape[1]

    def has_gap(self, start: int, stop: int) -> bool:
        return any(a < stop and b > start for a, b in self.gaps)


_GROUPS: dict[Hashable, int] = {}
_NEXT_GROUP = itertools.count()


def _group_of(batch_key: Hashable) -> int:
    """A small int per distinct ``batch_key``: equal keys, the same int (ints are never handed out twice).

    Streams may be made in more than one thread (tests, tools): ``setdefault`` and ``next`` each run whole
    under the interpreter lock, so two new keys never share an int (a race only skips one)."""
    group = _GROUPS.get(batch_key)
    if group is None:
        group = _GROUPS.setdefault(batch_key, next(_NEXT_GROUP))
    return group
