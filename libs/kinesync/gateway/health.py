"""What the gateway counts, and the health document its HTTP endpoint serves."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from pydantic import BaseModel, Field


class DeviceHealth(BaseModel):
    station: str
    device: str
    kind: str
    frames: int = Field(description="frames accepted from this device")
    last_seq: int
    sequence_gaps: int = Field(description="frames missing according to the device's sequence numbers")
    out_of_order: int = Field(description="frames whose sequence number was not above the last one seen")
    last_t0_ns: int
    last_seen_s_ago: float


class GatewayHealth(BaseModel):
    status: str = Field(description="ok, or degraded while the broker is unreachable or frames were dropped")
    source: str
    connected: bool = Field(description="the broker accepted the last batch")
    frames_in: int = Field(description="frames handed to the publisher (valid and invalid)")
    frames_invalid: int = Field(description="frames rejected by validation, never published")
    frames_published: int = Field(description="frames the broker acknowledged")
    frames_dropped: int = Field(description="frames dropped from the buffer, oldest first (size or age limit)")
    dropped_overflow: int
    dropped_age: int
    buffered_frames: int
    buffered_bytes: int
    outages: int = Field(description="times the broker stopped acknowledging")
    reconnects: int = Field(description="successful reconnects after an outage")
    sequence_gaps: int = Field(description="sum over devices of frames missing by sequence number")
    last_error: str | None
    rejected: dict[str, int] = Field(description="ingest requests rejected, by reason (unauthorized, too_large, ...)")
    sources: dict[str, object] = Field(default_factory=dict, description="source-specific state (LSL streams, ...)")
    devices: list[DeviceHealth]


@dataclass
class _Device:
    station: str
    device: str
    kind: str
    frames: int = 0
    last_seq: int = -1
    gaps: int = 0
    out_of_order: int = 0
    last_t0_ns: int = 0
    last_seen: float = 0.0


@dataclass
class GatewayStats:
    """Mutable counters shared by the publisher, the sources and the ingest app (one event loop)."""

    source: str = "sim"
    connected: bool = False
    frames_in: int = 0
    frames_invalid: int = 0
    frames_published: int = 0
    dropped_overflow: int = 0
    dropped_age: int = 0
    buffered_frames: int = 0
    buffered_bytes: int = 0
    outages: int = 0
    reconnects: int = 0
    last_error: str | None = None
    rejected: Counter[str] = field(default_factory=Counter)
    sources: dict[str, object] = field(default_factory=dict)
    devices: dict[tuple[str, str], _Device] = field(default_factory=dict)

    @property
    def frames_dropped(self) -> int:
        return self.dropped_overflow + self.dropped_age

    def observe(self, station: str, device: str, kind: str, seq: int, t0_ns: int) -> int:
        """Count a frame against its device's sequence; returns the frames missing before it."""
        d = self.devices.get((station, device))
        if d is None:
            d = self.devices[(station, device)] = _Device(station, device, kind)
        missing = 0
        if d.frames and seq <= d.last_seq:
            d.out_of_order += 1
        else:
            if d.frames:
                missing = seq - d.last_seq - 1
                d.gaps += missing
            d.last_seq = seq
        d.frames += 1
        d.last_t0_ns = t0_ns
        d.last_seen = time.monotonic()
        return missing

    def snapshot(self) -> GatewayHealth:
        now = time.monotonic()
        gaps = sum(d.gaps for d in self.devices.values())
        degraded = not self.connected or self.frames_dropped > 0
        return GatewayHealth(
            status="degraded" if degraded else "ok",
            source=self.source,
            connected=self.connected,
            frames_in=self.frames_in,
            frames_invalid=self.frames_invalid,
            frames_published=self.frames_published,
            frames_dropped=self.frames_dropped,
            dropped_overflow=self.dropped_overflow,
            dropped_age=self.dropped_age,
            buffered_frames=self.buffered_frames,
            buffered_bytes=self.buffered_bytes,
            outages=self.outages,
            reconnects=self.reconnects,
            sequence_gaps=gaps,
            last_error=self.last_error,
            rejected=dict(self.rejected),
            sources=dict(self.sources),
            devices=[
                DeviceHealth(
                    station=d.station,
                    device=d.device,
                    kind=d.kind,
                    frames=d.frames,
                    last_seq=d.last_seq,
                    sequence_gaps=d.gaps,
                    out_of_order=d.out_of_order,
                    last_t0_ns=d.last_t0_ns,
                    last_seen_s_ago=round(now - d.last_seen, 3),
                )
                for d in sorted(self.devices.values(), key=lambda d: (d.station, d.device))
            ],
        )
