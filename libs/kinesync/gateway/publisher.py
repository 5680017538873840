"""Validate, buffer and publish frames; survive broker outages with a bounded buffer.

A frame is removed from the buffer only when the broker acknowledged it. While the broker is
unreachable, frames wait (up to ``max_frames``/``max_bytes`` and ``max_age_s``); beyond that the
oldest go first and ``frames_dropped`` counts every one, so acknowledged + dropped + buffered is
always the number of valid frames submitted. The publisher reconnects by itself with backoff and
re-creates the topics first (a restarted broker may have lost them).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from kinesync.bus.base import Bus
from kinesync.bus.topics import topic_for_kind
from kinesync.codec.frame import Frame, FrameError, encode
from kinesync.gateway.health import GatewayStats
from kinesync.gateway.sink import BusSink, Sink

log = logging.getLogger(__name__)

FrameId = tuple[str, str, int]  # station, device, seq
Callback = Callable[[FrameId], None]


@dataclass(frozen=True)
class BufferLimits:
    max_frames: int = 20_000
    max_bytes: int = 64 * 1024 * 1024
    max_age_s: float = 30.0


@dataclass(slots=True)
class _Item:
    topic: str
    key: bytes
    value: bytes
    fid: FrameId
    enqueued: float


def shift_frame(frame: Frame, latency_ms: float) -> Frame:
    """Facility time of a device whose stamps run ``latency_ms`` late (calibrated offset)."""
    if not latency_ms:
        return frame
    return dataclasses.replace(frame, t0_ns=frame.t0_ns - round(latency_ms * 1e6))


class Publisher:
    def __init__(
        self,
        bus: Bus,
        stats: GatewayStats | None = None,
        *,
        limits: BufferLimits = BufferLimits(),
        latency_ms: Mapping[str, float] | None = None,
        batch_frames: int = 200,
        send_timeout_s: float = 2.0,
        sink: Sink | None = None,
        on_delivered: Callback | None = None,
        on_dropped: Callback | None = None,
    ) -> None:
        self.stats = stats or GatewayStats()
        self.limits = limits
        self.latency_ms = dict(latency_ms or {})
        self._sink = sink or BusSink(bus, request_timeout_s=max(send_timeout_s, 1.0))
        self._batch_frames = batch_frames
        self._send_timeout_s = send_timeout_s
        self._buffer: deque[_Item] = deque()
        self._bytes = 0
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._on_delivered = on_delivered
        self._on_dropped = on_dropped

    # -- producer side -------------------------------------------------------------------------
    def submit(self, frame: Frame) -> str | None:
        """Validate and queue ``frame``; returns None, or the reason it was rejected."""
        self.stats.frames_in += 1
        try:
            frame = shift_frame(frame, self.latency_ms.get(frame.device, 0.0))
            value = encode(frame)  # encode checks everything decode would reject
            topic = topic_for_kind(frame.kind)
        except (FrameError, KeyError, ValueError, TypeError) as exc:
            self.stats.frames_invalid += 1
            reason = getattr(exc, "reason", None) or str(exc)
            self.stats.last_error = f"invalid frame from {frame.device!r}: {reason}"
            return reason
        missing = self.stats.observe(frame.station, frame.device, frame.kind.name.lower(), frame.seq, frame.t0_ns)
        if missing:
            log.warning("%s/%s: %d frame(s) missing before seq %d", frame.station, frame.device, missing, frame.seq)
        self.submit_encoded(topic, frame.station.encode(), value, (frame.station, frame.device, frame.seq))
        return None

    def submit_encoded(self, topic: str, key: bytes, value: bytes, fid: FrameId) -> None:
        self._buffer.append(_Item(topic, key, value, fid, time.monotonic()))
        self._bytes += len(value)
        self._enforce_limits()
        self._idle.clear()
        self._wake.set()

    @property
    def fill(self) -> float:
        """How full the buffer is, 0..1 (the larger of frames and bytes): ingest says 429 near 1."""
        return max(len(self._buffer) / self.limits.max_frames, self._bytes / self.limits.max_bytes)

    def _drop_left(self, why: str) -> None:
        item = self._buffer.popleft()
        self._bytes -= len(item.value)
        if why == "age":
            self.stats.dropped_age += 1
        else:
            self.stats.dropped_overflow += 1
        if self._on_dropped:
            self._on_dropped(item.fid)

    def _enforce_limits(self) -> None:
        before = self.stats.frames_dropped
        lim = self.limits
        while self._buffer and (len(self._buffer) > lim.max_frames or self._bytes > lim.max_bytes):
            self._drop_left("overflow")
        cutoff = time.monotonic() - lim.max_age_s
        while self._buffer and self._buffer[0].enqueued < cutoff:
            self._drop_left("age")
        if self.stats.frames_dropped != before:
            log.warning("buffer limit reached: dropped %d oldest frame(s) (total %d)",
                        self.stats.frames_dropped - before, self.stats.frames_dropped)
        self.stats.buffered_frames = len(self._buffer)
        self.stats.buffered_bytes = self._bytes

    # -- sender side ---------------------------------------------------------------------------
    async def _connect(self, stop: asyncio.Event) -> bool:
        delay = 0.1
        while True:
            try:
                await asyncio.wait_for(self._sink.connect(), max(self._send_timeout_s, 2.0))
            except Exception as exc:
                await self._sink.close()
                self.stats.last_error = f"broker unreachable: {exc!r}"
                self._enforce_limits()
                if stop.is_set():
                    return False
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    return False
                except TimeoutError:
                    delay = min(delay * 2, 2.0)
                continue
            if self.stats.outages:
                self.stats.reconnects += 1
                log.info("reconnected to the broker; %d frame(s) waiting", len(self._buffer))
            self.stats.connected = True
            return True

    async def run(self, stop: asyncio.Event, *, drain_timeout_s: float = 10.0) -> None:
        """Send until ``stop`` is set, then try to send what is left for up to ``drain_timeout_s``."""
        stopped_at: float | None = None
        final = asyncio.Event()
        try:
            while True:
                if stop.is_set() and stopped_at is None:
                    stopped_at = time.monotonic()
                    asyncio.get_running_loop().call_later(drain_timeout_s, final.set)
                if stopped_at is not None and (not self._buffer or final.is_set()):
                    break
                if not self.stats.connected and not await self._connect(final if stopped_at else stop):
                    if stopped_at is not None:
                        break
                    continue
                if not self._buffer:
                    self._idle.set()
                    self._wake.clear()
                    waiter = asyncio.ensure_future(self._wake.wait())
                    stopper = asyncio.ensure_future(stop.wait())
                    await asyncio.wait({waiter, stopper}, timeout=0.5, return_when=asyncio.FIRST_COMPLETED)
                    waiter.cancel()
                    stopper.cancel()
                    self._enforce_limits()
                    continue
                await self._send_some()
        finally:
            if self._buffer:
                log.warning("stopping with %d unsent frame(s)", len(self._buffer))
            await self._sink.close()
            self.stats.connected = False
            self._idle.set()

    async def _send_some(self) -> None:
        batch = [self._buffer.popleft() for _ in range(min(self._batch_frames, len(self._buffer)))]
        self._bytes -= sum(len(i.value) for i in batch)
        try:
            await asyncio.wait_for(
                self._sink.send_batch([(i.topic, i.key, i.value) for i in batch]), self._send_timeout_s
            )
        except Exception as exc:
            # Back to the front, in order; frames the broker may have taken are sent again (a
            # duplicate is harmless downstream, a silent loss is not).
            self._buffer.extendleft(reversed(batch))
            self._bytes += sum(len(i.value) for i in batch)
            self.stats.connected = False
            self.stats.outages += 1
            self.stats.last_error = f"broker did not acknowledge: {exc!r}"
            log.warning("broker outage (%r); buffering up to %d frames / %.0f s", exc,
                        self.limits.max_frames, self.limits.max_age_s)
            await self._sink.close()
            self._enforce_limits()
            return
        self.stats.frames_published += len(batch)
        if self._on_delivered:
            for i in batch:
                self._on_delivered(i.fid)
        self.stats.buffered_frames = len(self._buffer)
        self.stats.buffered_bytes = self._bytes

    async def wait_idle(self, timeout_s: float | None = None) -> bool:
        """True once every submitted frame was acknowledged (or dropped)."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            return False
        return True
