"""The gateway service loops: the configured source, stamped on the facility clock, onto the bus.

Every source but the bare simulator goes through the same Publisher (validation, sequence-gap
counting, outage buffering), beside the health and ingest HTTP server (``kinesync.ingest``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import uvicorn

from kinesync.api.limits import HttpLimits, uvicorn_options
from kinesync.bus.base import Bus
from kinesync.bus.topics import topic_for_kind
from kinesync.codec.frame import encode
from kinesync.gateway.configured_source import source_frames, start_simulation
from kinesync.gateway.health import GatewayStats
from kinesync.gateway.publisher import BufferLimits, Publisher
from kinesync.ingest.app import create_gateway_app
from kinesync.ingest.tokens import TokenStore
from kinesync.settings import Settings

log = logging.getLogger("kinesync.gateway")


async def run_sim_gateway(
    bus: Bus, settings: Settings, stop: asyncio.Event, on_start: Callable[[int], None] | None = None
) -> int:
    """Publish the simulated stations' sessions and frames; returns the number of frames sent.
    ``on_start`` is told the session's origin on the facility clock (ns) before its first frame.

    Kept on the bus's plain producer: the simulator is the embedded demo and the analyzer's test bed.
    """
    producer = bus.producer()
    await producer.start()
    sent = 0
    try:
        source = await start_simulation(producer, settings)
        if on_start is not None:
            on_start(source.origin_ns)
        async for frames in source.ticks(settings.sim_duration_s):
            await producer.send_many([(topic_for_kind(f.kind), f.station.encode(), encode(f)) for f in frames])
            sent += len(frames)
            if stop.is_set():
                break
        await producer.flush()
        log.info("published %d frames", sent)
    finally:
        await producer.stop()
    return sent


def _publisher(bus: Bus, settings: Settings) -> Publisher:
    return Publisher(
        bus,
        GatewayStats(source=settings.gateway_source),
        limits=BufferLimits(settings.gateway_buffer_frames, int(settings.gateway_buffer_mb * 2**20),
                            settings.gateway_buffer_s),
        latency_ms=settings.gateway_latency_ms,
        send_timeout_s=settings.gateway_send_timeout_s,
    )


def _http_server(publisher: Publisher, settings: Settings) -> uvicorn.Server:
    app = create_gateway_app(publisher, TokenStore.load(settings.gateway_tokens_file),
                             max_body_bytes=settings.gateway_max_body_kb * 1024,
                             limits=HttpLimits.for_gateway(settings))
    server = uvicorn.Server(uvicorn.Config(app, host=settings.gateway_host, port=settings.gateway_port,
                                           log_level="warning", lifespan="off",
                                           **uvicorn_options(settings, settings.gateway_max_body_kb * 1024)))
    server.install_signal_handlers = lambda: None  # the service runner owns SIGINT/SIGTERM
    return server


async def run_gateway(
    bus: Bus,
    settings: Settings,
    stop: asyncio.Event,
    *,
    publisher: Publisher | None = None,
    exit_when_done: bool = True,
) -> Publisher:
    """Run the configured source and the HTTP server until the source ends (replay) or ``stop``."""
    publisher = publisher or _publisher(bus, settings)
    sender_stop = asyncio.Event()
    sender = asyncio.create_task(publisher.run(sender_stop))
    server: uvicorn.Server | None = None
    serve: asyncio.Task[None] | None = None
    if settings.gateway_port:
        server = _http_server(publisher, settings)
        serve = asyncio.create_task(server.serve())
        log.info("health and ingest on http://%s:%d/health", settings.gateway_host, settings.gateway_port)
    try:
        async for frame in source_frames(bus, settings, publisher.stats, stop):
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


async def serve_gateway(bus: Bus, settings: Settings, stop: asyncio.Event) -> None:
    """The gateway service: the simulator without an HTTP port on the plain producer, anything else
    through the publisher, its health endpoint up until ``stop``."""
    if settings.gateway_source == "sim" and not settings.gateway_port:
        await run_sim_gateway(bus, settings, stop)
        return
    await run_gateway(bus, settings, stop, exit_when_done=False)
