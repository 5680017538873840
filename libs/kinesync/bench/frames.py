"""Simulated frames for the analyzer-alone runs: generated and encoded once, outside any timed region."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinesync.bus.base import Message
from kinesync.bus.topics import topic_for_kind
from kinesync.codec.frame import decode, encode
from kinesync.sources.sim import SimSource, sim_stations

# A whole second on the epoch grid: windows then start exactly at the session start.
ORIGIN_NS = 1_700_000_000 * 1_000_000_000
LAGS_MS = (60.0, 90.0, 110.0, 150.0)
FRAME_S = 0.05

# One tick = what the gateway sends every FRAME_S: (station, topic, encoded frame) for every device.
Tick = list[tuple[str, str, bytes]]


def generate(n_stations: int, session_s: float, path: Path, seed: int = 7) -> None:
    """Write ``session_s`` of frames for ``n_stations`` standard athletes to ``path`` (pickle)."""
    source = SimSource(sim_stations(n_stations, LAGS_MS, seed), frame_s=FRAME_S, realtime=False, origin_ns=ORIGIN_NS)
    ticks: list[Tick] = []
    # The same cut as SimSource.ticks (one frame per device per tick), without the event loop.
    for k in range(1, round(session_s / FRAME_S) + 1):
        t_s = k * FRAME_S
        tick: Tick = []
        for dev in source.devices:
            for frame in dev.frames_until(t_s):
                tick.append((frame.station, topic_for_kind(frame.kind), encode(frame)))
        ticks.append(tick)
    with path.open("wb") as f:
        pickle.dump(ticks, f, protocol=pickle.HIGHEST_PROTOCOL)


def load(path: Path, stations: Sequence[str] | None = None) -> list[list[Message]]:
    """The ticks as bus messages (only ``stations``' frames when given), offsets counted per topic."""
    with path.open("rb") as f:
        ticks: list[Tick] = pickle.load(f)
    keep = None if stations is None else set(stations)
    offsets: dict[str, int] = {}
    out: list[list[Message]] = []
    for tick in ticks:
        msgs = []
        for station, topic, value in tick:
            if keep is not None and station not in keep:
                continue
            off = offsets.get(topic, 0)
            offsets[topic] = off + 1
            msgs.append(Message(topic, 0, off, station.encode(), value, 0))
        out.append(msgs)
    return out


def station_names(n_stations: int) -> list[str]:
    return [s.station for s in sim_stations(n_stations, LAGS_MS)]


@dataclass
class Recording:
    """One device's whole recording, reassembled from its frames (float32, as on the wire)."""

    channels: tuple[str, ...]
    rate_hz: float
    t0_ns: int
    samples: np.ndarray  # (channels, n)


def reassemble(ticks: list[list[Message]]) -> dict[tuple[str, int], Recording]:
    """(station, sensor kind) → the device's samples end to end (the sim sends every frame in order)."""
    parts: dict[tuple[str, int], list[np.ndarray]] = {}
    first: dict[tuple[str, int], tuple[tuple[str, ...], float, int]] = {}
    for tick in ticks:
        for msg in tick:
            frame = decode(msg.value)
            key = (frame.station, int(frame.kind))
            first.setdefault(key, (frame.channels, frame.rate_hz, frame.t0_ns))
            parts.setdefault(key, []).append(np.asarray(frame.samples))
    return {k: Recording(*first[k], np.concatenate(v, axis=1)) for k, v in parts.items()}
