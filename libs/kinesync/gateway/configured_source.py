"""The source the settings name (sim, c3d, csv, lsl; http has none), as a stream of frames.

The simulator's sessions are published here and only here, stamped with the simulator's origin: the
one clock its frames run on.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from kinesync.bus.base import Bus, Producer, deliver
from kinesync.bus.topics import SESSIONS
from kinesync.codec.frame import Frame
from kinesync.gateway.health import GatewayStats
from kinesync.settings import Settings
from kinesync.sources.mapping import load_mapping
from kinesync.sources.replay import ReplaySource, read_recordings
from kinesync.sources.sim import SimSource, sim_stations

log = logging.getLogger("kinesync.gateway")


def replay_source(settings: Settings) -> ReplaySource:
    """The c3d or csv recording named by the settings, as a ReplaySource."""
    if not settings.gateway_file:
        raise ValueError(f"KINESYNC_GATEWAY_SOURCE={settings.gateway_source} needs KINESYNC_GATEWAY_FILE")
    mapping = load_mapping(settings.gateway_mapping) if settings.gateway_mapping else None
    if settings.gateway_source == "csv" and mapping is None:
        raise ValueError("the csv source needs KINESYNC_GATEWAY_MAPPING (see docs/mappings/)")
    recordings = read_recordings(settings.gateway_source, settings.gateway_file, mapping, settings.gateway_station)
    return ReplaySource(
        recordings, frame_s=settings.gateway_frame_s, speed=settings.gateway_speed or None, loop=settings.gateway_loop
    )


async def start_simulation(producer: Producer, settings: Settings) -> SimSource:
    """The simulated floor, once the broker acknowledged its stations' sessions (so none of its frames
    arrives before the athlete it belongs to)."""
    stations = sim_stations(settings.sim_stations, settings.sim_lags_ms, settings.sim_seed, settings.sim_rep_periods_s)
    # In a thread: presynthesising a long session takes seconds (about 1 ms per station and session second).
    source = await asyncio.to_thread(
        SimSource, stations, realtime=settings.sim_realtime, bar=settings.sim_bar, presynth_s=settings.sim_presynth_s
    )
    sessions = [st.assignment(source.origin_ns, bar=settings.sim_bar) for st in stations]
    await deliver(producer, [(SESSIONS, s.station.encode(), s.model_dump_json().encode()) for s in sessions])
    log.info(
        "simulating %d stations (true lags %s ms), %s",
        len(stations), ", ".join(f"{s.spec.lag_ms:g}" for s in stations),
        "in real time" if settings.sim_realtime else "as fast as possible",
    )
    return source


async def source_frames(bus: Bus, settings: Settings, stats: GatewayStats, stop: asyncio.Event) -> AsyncIterator[Frame]:
    """The configured source's frames until it ends or ``stop``; nothing for ``http`` (frames only arrive
    through the ingest endpoints)."""
    kind = settings.gateway_source
    if kind in ("c3d", "csv"):
        source = replay_source(settings)
        log.info("replaying %s (%d device(s), %.2f s per pass) at %s%s", settings.gateway_file, len(source.tracks),
                 source.pass_s, f"{settings.gateway_speed:g}×" if settings.gateway_speed else "full speed",
                 ", looping" if settings.gateway_loop else "")
        async for frames in source.ticks():
            for f in frames:
                yield f
            if stop.is_set():
                return
    elif kind == "sim":
        producer = bus.producer()
        await producer.start()
        try:
            sim = await start_simulation(producer, settings)
        finally:
            await producer.stop()
        async for frames in sim.ticks(settings.sim_duration_s):
            for f in frames:
                yield f
            if stop.is_set():
                return
    elif kind == "lsl":
        from kinesync.sources.lsl import LslSource, load_lsl_mapping

        if not settings.gateway_mapping:
            raise ValueError("the lsl source needs KINESYNC_GATEWAY_MAPPING (streams by name or type → stations)")
        lsl = LslSource(load_lsl_mapping(settings.gateway_mapping))
        stats.sources["lsl"] = lsl.states  # live objects: the health endpoint reads them as they change
        async for f in lsl.frames(stop):
            stats.sources["lsl"] = lsl.health()
            yield f
