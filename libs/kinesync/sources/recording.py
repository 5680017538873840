"""A recording: one station's tracks (one per device), each with its own rate.

What every file reader returns (``kinesync.sources.c3d``, ``kinesync.sources.csv``) and what the
simulators build: ``kinesync analyze``, ``kinesync validate``, the reports and the gateway's replay
all take this one shape, so a file means the same channels everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np

from kinesync.codec.frame import Frame, SensorKind

if TYPE_CHECKING:
    from kinesync.sources.mapping import SourceMapping


class RecordingError(ValueError):
    """A recording that cannot be read; the message says what to change."""


@dataclass(frozen=True)
class Track:
    kind: SensorKind
    device: str
    channels: tuple[str, ...]
    units: tuple[str, ...]  # one per channel, or one for all
    rate_hz: float
    samples: np.ndarray  # (channels, samples), float32
    t0_ns: int = 0  # facility time of the first sample

    @property
    def n_samples(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return self.samples.shape[1] / self.rate_hz


@dataclass(frozen=True)
class Recording:
    station: str
    tracks: list[Track] = field(default_factory=list)
    source: str = ""
    # How a file's channels became these tracks: ``kinesync analyze --save-map`` writes it out.
    mapping: SourceMapping | None = field(default=None, repr=False, compare=False)

    @property
    def kinds(self) -> frozenset[SensorKind]:
        return frozenset(t.kind for t in self.tracks)

    @property
    def t0_ns(self) -> int:
        return min(t.t0_ns for t in self.tracks)


def track_frames(station: str, track: Track, cuts: list[int]) -> list[Frame]:
    """The track cut at sample indices ``cuts`` (sorted, inside the track) into frames."""
    out = []
    edges = [0, *cuts, track.samples.shape[1]]
    # Empty cells of a file (a channel that stopped) are NaN: on the wire that needs the gap-marker flag.
    gaps = bool(np.isnan(track.samples).any())
    for seq, (a, b) in enumerate(pairwise(edges)):
        out.append(Frame(
            station=station, device=track.device, kind=track.kind, channels=track.channels, units=track.units,
            rate_hz=track.rate_hz, t0_ns=track.t0_ns + round(a * 1e9 / track.rate_hz), seq=seq,
            samples=np.ascontiguousarray(track.samples[:, a:b], dtype=np.float32), nan_allowed=gaps,
        ))
    return out


def to_frames(rec: Recording, frame_s: float = 0.05) -> list[Frame]:
    """Every track cut into ``frame_s`` frames, interleaved in time order as devices would send them."""
    frames: list[Frame] = []
    for track in rec.tracks:
        step = max(1, round(frame_s * track.rate_hz))
        frames.extend(track_frames(rec.station, track, list(range(step, track.samples.shape[1], step))))
    frames.sort(key=lambda f: (f.end_ns, f.kind))
    return frames
