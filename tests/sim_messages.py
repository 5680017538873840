"""A simulated floor as the bus hands it to the analyzer: 50 ms ticks of encoded frames (shared by tests)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kinesync.bus.base import Message
from kinesync.bus.topics import topic_for_kind
from kinesync.codec.frame import Frame, encode
from kinesync.sources.sim import SimSource, sim_stations


def sim_tick_messages(
    n_stations: int, session_s: float, lags_ms: Sequence[float], seed: int, origin_ns: int,
    rewrite: Callable[[Frame], Frame] | None = None,
) -> list[list[Message]]:
    """``session_s`` of ``n_stations`` simulated stations (true lags taken from ``lags_ms`` in turn) as one
    list of messages per 50 ms tick, offsets counted over all; ``rewrite(frame)`` may replace a frame."""
    source = SimSource(sim_stations(n_stations, lags_ms, seed), frame_s=0.05, realtime=False, origin_ns=origin_ns)
    ticks, offset = [], 0
    for k in range(1, round(session_s / 0.05) + 1):
        tick = []
        for dev in source.devices:
            for frame in dev.frames_until(k * 0.05):
                if rewrite is not None:
                    frame = rewrite(frame)
                tick.append(Message(topic_for_kind(frame.kind), 0, offset, frame.station.encode(), encode(frame), 0))
                offset += 1
        ticks.append(tick)
    return ticks
