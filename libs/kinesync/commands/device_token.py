"""``kinesync device-token``: create a device's ingest token (only its hash is stored)."""

from __future__ import annotations

import argparse
import sys

from kinesync.settings import Settings


def cmd_add(args: argparse.Namespace) -> int:
    from kinesync.ingest.tokens import TokenStore

    path = args.file or Settings().gateway_tokens_file
    if not path:
        print("kinesync device-token: give --file or set KINESYNC_GATEWAY_TOKENS_FILE", file=sys.stderr)
        return 2
    store = TokenStore.load(path)
    token = store.add(args.device, args.station)
    store.save(path)
    print(token)
    print(f"device {args.device!r} may publish to {', '.join(args.station)}; the token above is shown once "
          f"(only its SHA-256 is in {path})", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("device-token", help="create a device's bearer token for HTTP ingest")
    p.add_argument("action", choices=["add"], help="add (or replace) a device's token")
    p.add_argument("device", help="device name, as in its frames")
    p.add_argument("--station", action="append", required=True, help="station it may publish to (repeat; * = any)")
    p.add_argument("--file", default=None, help="tokens file (default KINESYNC_GATEWAY_TOKENS_FILE)")
    p.set_defaults(func=cmd_add)
