"""Single services and topic creation, for running the system one process at a time.

The gateway has its own command with its source options (``kinesync.commands.gateway``).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib

from kinesync.settings import Settings

SERVICES = (
    ("analyzer", "run one analyzer instance (a consumer-group member)"),
    ("writer", "run the storage writer"),
    ("alerts", "run the alerts service"),
    ("api", "run the API and live wall page"),
)


def cmd_topics(args: argparse.Namespace) -> int:
    from kinesync.bus.kafka import KafkaBus

    asyncio.run(KafkaBus(Settings()).ensure_topics())
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    importlib.import_module(f"kinesync_services.{args.command}.main").run()
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    topics = sub.add_parser("topics", help="create the Kafka topics (idempotent)")
    topics.set_defaults(func=cmd_topics)
    for name, text in SERVICES:
        sub.add_parser(name, help=text).set_defaults(func=cmd_service)
