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
    "run", "analyze", "validate", "gateway", "services", "dashboards", "calibrate", "device_token", "config", "bench",
    "report", "screenshots",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kinesync", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Configuration comes from KINESYNC_* environment variables (libs/kinesync/settings.py).",
    )
    parser.add_argument("--debug", action="store_true",
                        help="show the full traceback of an unexpected error instead of its one-line summary")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"kinesync.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code. An unexpected error (a bug) ends in one line on stderr and exit
    code 1; ``--debug`` lets the traceback through instead."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except Exception as exc:
        if getattr(args, "debug", False):
            raise
        message = " ".join(str(exc).split()) or "no message"
        print(f"kinesync {args.command}: unexpected error ({type(exc).__name__}: {message}); "
              "run again with --debug to see the traceback", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
