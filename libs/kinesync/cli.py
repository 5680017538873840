"""The ``kinesync`` command. Each subcommand lives in ``kinesync.commands.<name>``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

DESCRIPTION = """\
KineSync measures, live and per athlete, how the chest fires relative to the legs (pectoralis
major peak lag behind the quadriceps and gluteal bursts) and how force transfers on the plates.
"""

# One module per command group, each with register(subparsers); order = order in --help.
COMMANDS = (
    "run", "analyze", "validate", "services", "dashboards", "calibrate", "device_token", "config", "bench", "report",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinesync", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Configuration comes from KINESYNC_* environment variables (libs/kinesync/settings.py).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"kinesync.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
