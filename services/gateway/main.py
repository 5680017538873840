"""gateway: reads a source (sim, c3d, csv, lsl, http), stamps facility time, publishes frames.

Composition only: sources in ``kinesync.sources``, buffering/reconnect in ``kinesync.gateway``,
the health + ingest HTTP server in ``kinesync.ingest``. Every source goes through the same
Publisher, so validation, sequence-gap counting and outage buffering apply to all of them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import uvicorn

from kinesync.api.limits import HttpLimits, uvicorn_options
from kinesync.bus.base import Bus
from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import SESSIONS, topic_for_kind
from kinesync.codec.frame import Frame, encode
from kinesync.gateway.health import GatewayStats
from kinesync.gateway.publisher import BufferLimits, Publisher
from kinesync.ingest.app import create_gateway_app
from kinesync.ingest.tokens import TokenStore
from kinesync.runtime.service import run_service
from kinesync.settings import Settings
from kinesync.sources.mapping import load_mapping
from kinesync.sources.replay import ReplaySource
from kinesync.sources.sim import SimSource, sim_stations

log = logging.getLogger("kinesync.gateway")


async def run_sim_gateway(bus: Bus, settings: Settings, stop: asyncio.Event) -> int:
    """Publish the simulated stations' sessions and frames; returns the number of frames sent.

    Kept on the bus's plain producer: the simulator is the embedded demo and the analyzer's test bed.
    """
    producer = bus.producer()
    await producer.start()
    sent = 0
    try:
        stations = sim_stations(settings.sim_stations, settings.sim_lags_ms, settings.sim_seed)
        source = SimSource(stations, realtime=settings.sim_realtime, bar=settings.sim_bar)
        for st in stations:
            record = st.assignment(source.origin_ns, bar=settings.sim_bar).model_dump_json().encode()
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


def replay_source(settings: Settings) -> ReplaySource:
    """The c3d or csv recording named by the settings, as a ReplaySource."""
    if not settings.gateway_file:
        raise ValueError(f"KINESYNC_GATEWAY_SOURCE={settings.gateway_source} needs KINESYNC_GATEWAY_FILE")
    mapping = load_mapping(settings.gateway_mapping) if settings.gateway_mapping else None
    if settings.gateway_source == "c3d":
        from kinesync.sources.c3d import c3d_devices

        devices = c3d_devices(settings.gateway_file, settings.gateway_station, mapping)
    else:
        from kinesync.sources.csv import csv_devices

        if mapping is None:
            raise ValueError("the csv source needs KINESYNC_GATEWAY_MAPPING (see docs/mappings/)")
        devices = csv_devices(settings.gateway_file, mapping)
    return ReplaySource(
        devices, frame_s=settings.gateway_frame_s, speed=settings.gateway_speed or None, loop=settings.gateway_loop
    )


async def _frames(settings: Settings, stats: GatewayStats, stop: asyncio.Event) -> AsyncIterator[Frame]:
    kind = settings.gateway_source
    if kind in ("c3d", "csv"):
        source = replay_source(settings)
        log.info("replaying %s (%d device(s), %.2f s per pass) at %s%s", settings.gateway_file, len(source.devices),
                 source.pass_s, f"{settings.gateway_speed:g}×" if settings.gateway_speed else "full speed",
                 ", looping" if settings.gateway_loop else "")
        async for frames in source.ticks():
            for f in frames:
                yield f
            if stop.is_set():
                return
    elif kind == "sim":
        stations = sim_stations(settings.sim_stations, settings.sim_lags_ms, settings.sim_seed)
        sim = SimSource(stations, realtime=settings.sim_realtime, bar=settings.sim_bar)
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
    # "http": frames only arrive through the ingest endpoints


async def run_gateway(
    bus: Bus,
    settings: Settings,
    stop: asyncio.Event,
    *,
    publisher: Publisher | None = None,
    exit_when_done: bool = True,
) -> Publisher:
    """Run the configured source and the HTTP server until the source ends (replay) or ``stop``."""
    stats = GatewayStats(source=settings.gateway_source)
    publisher = publisher or Publisher(
        bus,
        stats,
        limits=BufferLimits(settings.gateway_buffer_frames, int(settings.gateway_buffer_mb * 2**20),
                            settings.gateway_buffer_s),
        latency_ms=settings.gateway_latency_ms,
        send_timeout_s=settings.gateway_send_timeout_s,
    )
    sender_stop = asyncio.Event()
    sender = asyncio.create_task(publisher.run(sender_stop))
    server: uvicorn.Server | None = None
    serve: asyncio.Task[None] | None = None
    if settings.gateway_port:
        app = create_gateway_app(publisher, TokenStore.load(settings.gateway_tokens_file),
                                 max_body_bytes=settings.gateway_max_body_kb * 1024,
                                 limits=HttpLimits.for_gateway(settings))
        server = uvicorn.Server(uvicorn.Config(app, host=settings.gateway_host, port=settings.gateway_port,
                                               log_level="warning", lifespan="off",
                                               **uvicorn_options(settings, settings.gateway_max_body_kb * 1024)))
        server.install_signal_handlers = lambda: None  # the service runner owns SIGINT/SIGTERM
        serve = asyncio.create_task(server.serve())
        log.info("health and ingest on http://%s:%d/health", settings.gateway_host, settings.gateway_port)
    try:
        async for frame in _frames(settings, stats, stop):
            reason = publisher.submit(frame)
            if reason:
                log.warning("dropped an invalid frame from %s: %s", frame.device, reason)
            # Pace a fast replay to the sender so the buffer limit applies to outages, not to speed.
            while publisher.stats.connected and publisher.fill > 0.5 and not stop.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.005)
        if settings.gateway_source == "http":
            await stop.wait()
        elif not stop.is_set():
            await publisher.wait_idle()  # a finite replay or simulation ended: publish what is left
            log.info("source finished")
            if not exit_when_done:
                await stop.wait()  # keep the health endpoint up until told to stop
    finally:
        sender_stop.set()
        await sender
        if server is not None and serve is not None:
            server.should_exit = True
            await asyncio.gather(serve, return_exceptions=True)
        s = publisher.stats
        log.info("gateway done: %d in, %d published, %d invalid, %d dropped, %d sequence gap(s)",
                 s.frames_in, s.frames_published, s.frames_invalid, s.frames_dropped, s.snapshot().sequence_gaps)
    return publisher


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    if settings.gateway_source == "sim" and not settings.gateway_port:
        await run_sim_gateway(bus, settings, stop)
        return
    if settings.gateway_source == "sim":
        # The simulator publishes its stations' sessions as before; frames go through the publisher.
        stations = sim_stations(settings.sim_stations, settings.sim_lags_ms, settings.sim_seed)
        producer = bus.producer()
        await producer.start()
        for st in stations:
            record = st.assignment(time.time_ns(), bar=settings.sim_bar).model_dump_json().encode()
            await producer.send(SESSIONS, record, st.station.encode())
        await producer.flush()
        await producer.stop()
    await run_gateway(bus, settings, stop, exit_when_done=False)


def run(settings: Settings | None = None) -> None:
    """The process entry point of ``python -m kinesync_services.gateway`` and ``kinesync gateway``."""
    run_service("gateway", main, settings)


if __name__ == "__main__":
    run()
