"""Replay recorded devices as frames on the facility clock: at 1× (or any speed), or as fast as possible.

Devices of one recording share its clock: a frame's ``t0_ns`` is ``origin_ns`` plus the sample index
over the rate, so channels recorded together stay aligned to the sample. Looping continues the
sample index (timestamps and sequence numbers keep increasing) and wraps the data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from kinesync.codec.frame import Frame, SensorKind


@dataclass
class RecordedDevice:
    station: str
    device: str
    kind: SensorKind
    channels: tuple[str, ...]
    units: tuple[str, ...]
    rate_hz: float
    data: np.ndarray = field(repr=False)  # (channels, samples) float32

    @property
    def n_samples(self) -> int:
        return int(self.data.shape[1])


@dataclass
class _Cursor:
    dev: RecordedDevice
    next_index: int = 0
    seq: int = 0


class ReplaySource:
    """Cuts recorded devices into ``frame_s`` frames.

    ``speed``: 1.0 = real time, 2.0 = twice as fast, ``None`` or 0 = as fast as possible.
    ``loop``: start over at the end (forever, or ``max_loops`` passes).
    """

    def __init__(
        self,
        devices: Sequence[RecordedDevice],
        *,
        frame_s: float = 0.05,
        speed: float | None = 1.0,
        loop: bool = False,
        max_loops: int | None = None,
        origin_ns: int | None = None,
    ) -> None:
        if not devices:
            raise ValueError("nothing to replay: the mapping selected no channels")
        self.devices = list(devices)
        self.frame_s = frame_s
        self.speed = speed or None
        self.loop = loop
        self.max_loops = max_loops
        self.origin_ns = time.time_ns() if origin_ns is None else origin_ns
        self._cursors = [_Cursor(d) for d in self.devices]
        # One pass of the recording lasts as long as its longest device.
        self.pass_s = max(d.n_samples / d.rate_hz for d in self.devices)

    def _total_s(self) -> float | None:
        if not self.loop:
            return self.pass_s
        return None if self.max_loops is None else self.pass_s * self.max_loops

    def _frame(self, cur: _Cursor, stop: int) -> Frame | None:
        dev = cur.dev
        n = stop - cur.next_index
        if n <= 0:
            return None
        idx = np.arange(cur.next_index, stop)
        if not self.loop:
            idx = idx[idx < dev.n_samples]
            if idx.size == 0:
                return None
        samples = dev.data[:, idx % dev.n_samples] if self.loop else dev.data[:, idx[0] : idx[-1] + 1]
        frame = Frame(
            station=dev.station,
            device=dev.device,
            kind=dev.kind,
            channels=dev.channels,
            units=dev.units,
            rate_hz=dev.rate_hz,
            t0_ns=self.origin_ns + round(cur.next_index * 1e9 / dev.rate_hz),
            seq=cur.seq,
            samples=np.ascontiguousarray(samples),
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
                stop = int(np.floor(t_s * cur.dev.rate_hz + 1e-9))
                if total is not None:
                    stop = min(stop, round(total * cur.dev.rate_hz))
                f = self._frame(cur, stop)
                if f is not None:
                    frames.append(f)
            yield frames
            if self.speed is None:
                await asyncio.sleep(0)  # let the publisher run between ticks
            if total is not None and t_s >= total:
                return
