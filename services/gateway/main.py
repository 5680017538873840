"""gateway: reads sources (the simulator for now), stamps facility time, publishes frames."""

from __future__ import annotations

import asyncio
import logging

from kinesync.bus.base import Bus
from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import SESSIONS, topic_for_kind
from kinesync.codec.frame import encode
from kinesync.runtime.service import run_service
from kinesync.settings import Settings
from kinesync.sources.sim import SimSource, sim_stations

log = logging.getLogger("kinesync.gateway")


async def run_sim_gateway(bus: Bus, settings: Settings, stop: asyncio.Event) -> int:
    """Publish the simulated stations' sessions and frames; returns the number of frames sent."""
    producer = bus.producer()
    await producer.start()
    sent = 0
    try:
        stations = sim_stations(settings.sim_stations, settings.sim_lags_ms, settings.sim_seed)
        source = SimSource(stations, realtime=settings.sim_realtime)
        for st in stations:
            record = st.assignment(source.origin_ns).model_dump_json().encode()
            await producer.send(SESSIONS, record, st.station.encode())
        log.info(
            "simulating %d stations (true lags %s ms), %s",
            len(stations), ", ".join(f"{s.spec.lag_ms:g}" for s in stations),
            "in real time" if settings.sim_realtime else "as fast as possible",
        )
        async for frames in source.ticks(settings.sim_duration_s):
            for frame in frames:
                await producer.send(topic_for_kind(frame.kind), encode(frame), frame.station.encode())
            sent += len(frames)
            if stop.is_set():
                break
        await producer.flush()
        log.info("published %d frames", sent)
    finally:
        await producer.stop()
    return sent


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    await run_sim_gateway(bus, settings, stop)


def run() -> None:
    run_service("gateway", main)


if __name__ == "__main__":
    run()
