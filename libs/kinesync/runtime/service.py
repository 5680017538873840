"""Process plumbing shared by every service: logging, settings, graceful stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable

from kinesync.runtime import redact
from kinesync.settings import Settings

ServiceMain = Callable[[Settings, asyncio.Event], Awaitable[None]]


def configure_logging(service: str) -> None:
    level = os.environ.get("KINESYNC_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(
        level=level,
        format=f"%(asctime)s {service:<8} %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)


def run_service(name: str, main: ServiceMain, settings: Settings | None = None) -> None:
    """Run ``main(settings, stop)`` until it returns; SIGINT/SIGTERM set ``stop``.

    ``settings`` defaults to the environment's; a command that takes options passes its own.
    """
    configure_logging(name)
    settings = Settings() if settings is None else settings
    redact.install(settings)  # before anything can log a token, password or webhook URL

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await main(settings, stop)

    try:
        asyncio.run(runner())
    except KeyboardInterrupt:
        pass


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep up to ``seconds``; True when ``stop`` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return False
    return True
