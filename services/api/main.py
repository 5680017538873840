"""api: the facility API, the wall page, station views and the coach console, fed by Kafka.

The app opens its stores and runs its Kafka workers in its own lifespan (``kinesync.api.main``);
this main only builds the bus and the server and serves until told to stop.
"""

from __future__ import annotations

import asyncio
import logging

import uvicorn

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens
from kinesync.api.limits import HttpLimits, uvicorn_options
from kinesync.bus.kafka import KafkaBus
from kinesync.runtime.service import run_service
from kinesync.settings import Settings

log = logging.getLogger("kinesync.api")


async def main(settings: Settings, stop: asyncio.Event) -> None:
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    limits = HttpLimits.for_api(settings)
    app = create_app(LiveState(), tokens=ApiTokens.from_settings(settings), limits=limits, settings=settings, bus=bus)
    server = uvicorn.Server(
        uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_level="warning", lifespan="on",
                       **uvicorn_options(settings, limits.ws_max_message_bytes or 0))
    )
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]  # the service runner owns signals
    # A lifespan that fails (a store or the broker cannot be opened) ends the process: uvicorn exits with 3.
    serving = asyncio.create_task(server.serve())
    log.info("wall page on http://%s:%d/", settings.api_host, settings.api_port)
    await stop.wait()
    server.should_exit = True
    await serving


def run() -> None:
    run_service("api", main)


if __name__ == "__main__":
    run()
