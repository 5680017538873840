"""Replay recordings as frames on the facility clock: at 1× (or any speed), or as fast as possible.

Tracks of one recording share its clock: a frame's ``t0_ns`` is ``origin_ns`` plus the track's start
within the recording plus the sample index over the rate, so channels recorded together stay
aligned to the sample. Looping continues the sample index (timestamps and sequence numbers keep
increasing) and wraps the data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kinesync.codec.frame import Frame
from kinesync.sources.mapping import MappingInput, SourceMapping
from kinesync.sources.recording import Recording, Track


def read_recordings(fmt: str, path: str | Path, mapping: MappingInput, station: str) -> list[Recording]:
    """The gateway's file sources (``fmt`` ``c3d`` or ``csv``): one recording per station the mapping names."""
    if fmt == "c3d":
        from kinesync.sources.c3d import read_c3d as read
    else:
        from kinesync.sources.csv import read_csv as read
    parts = mapping.per_station() if isinstance(mapping, SourceMapping) else [mapping]
    return [read(path, part, station=station) for part in parts]


@dataclass
class _Cursor:
    station: str
    track: Track
    offset_ns: int  # the track's start within its recording
    gaps: bool = field(init=False)  # NaN samples travel as gap markers
    next_index: int = 0
    seq: int = 0

    def __post_init__(self) -> None:
        self.gaps = bool(np.isnan(self.track.samples).any())


class ReplaySource:
    """Cuts the recordings' tracks into ``frame_s`` frames.

    ``speed``: 1.0 = real time, 2.0 = twice as fast, ``None`` or 0 = as fast as possible.
    ``loop``: start over at the end (forever, or ``max_loops`` passes).
    """

    def __init__(
        self,
        recordings: Sequence[Recording],
        *,
        frame_s: float = 0.05,
        speed: float | None = 1.0,
        loop: bool = False,
        max_loops: int | None = None,
        origin_ns: int | None = None,
    ) -> None:
        self.tracks = [(rec.station, t) for rec in recordings for t in rec.tracks]
        if not self.tracks:
            raise ValueError("nothing to replay: the mapping selected no channels")
        self.frame_s = frame_s
        self.speed = speed or None
        self.loop = loop
        self.max_loops = max_loops
        self.origin_ns = time.time_ns() if origin_ns is None else origin_ns
        self._cursors = [_Cursor(rec.station, t, t.t0_ns - rec.t0_ns) for rec in recordings for t in rec.tracks]
        # One pass of the recording lasts as long as its longest track.
        self.pass_s = max(t.duration_s for _, t in self.tracks)

    def _total_s(self) -> float | None:
        if not self.loop:
            return self.pass_s
        return None if self.max_loops is None else self.pass_s * self.max_loops

    def _frame(self, cur: _Cursor, stop: int) -> Frame | None:
        track = cur.track
        n_samples = track.n_samples
        n = stop - cur.next_index
        if n <= 0:
            return None
        idx = np.arange(cur.next_index, stop)
        if not self.loop:
            idx = idx[idx < n_samples]
            if idx.size == 0:
                return None
        samples = track.samples[:, idx % n_samples] if self.loop else track.samples[:, idx[0] : idx[-1] + 1]
        frame = Frame(
            station=cur.station,
            device=track.device,
            kind=track.kind,
            channels=track.channels,
            units=track.units,
            rate_hz=track.rate_hz,
            t0_ns=self.origin_ns + cur.offset_ns + round(cur.next_index * 1e9 / track.rate_hz),
            seq=cur.seq,
            samples=np.ascontiguousarray(samples, dtype=np.float32),
            nan_allowed=cur.gaps,
        )
        cur.next_index = stop
        cur.seq += 1
        return frame

    async def ticks(self) -> AsyncIterator[list[Frame]]:
        """The frames of each tick until the recording (or the loops) end, or forever when looping."""
        total = self._total_s()
        started = time.monotonic()
        k = 0
        while True:
            k += 1
            t_s = k * self.frame_s
            if total is not None:
                t_s = min(t_s, total)
            if self.speed is not None:
                delay = started + t_s / self.speed - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            frames = []
            for cur in self._cursors:
                stop = int(np.floor(t_s * cur.track.rate_hz + 1e-9))
                if total is not None:
                    stop = min(stop, round(total * cur.track.rate_hz))
                f = self._frame(cur, stop)
                if f is not None:
                    frames.append(f)
            yield frames
            if self.speed is None:
                await asyncio.sleep(0)  # let the publisher run between ticks
            if total is not None and t_s >= total:
                return
