"""``kinesync dashboards``: build the Grafana dashboards as code, publish them, annotate alerts."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def cmd_build(args: argparse.Namespace) -> int:
    from kinesync.dashboards.build import stale, write_all

    directory = Path(args.out)
    if args.check:
        bad = stale(directory)
        if bad:
            print(f"out of date in {directory}: {', '.join(bad)} (run: kinesync dashboards build)", file=sys.stderr)
            return 1
        print(f"dashboards in {directory} are up to date")
        return 0
    for path in write_all(directory):
        print(path)
    return 0


def _api(args: argparse.Namespace):
    from kinesync.dashboards.publish import connect
    from kinesync.settings import Settings

    return connect(Settings(), args.url)


def cmd_publish(args: argparse.Namespace) -> int:
    from grafana_client.client import GrafanaException

    from kinesync.dashboards.publish import publish

    try:
        done = publish(_api(args), args.only or None, folder_uid=args.folder or None)
    except GrafanaException as exc:
        print(f"kinesync dashboards publish: Grafana refused: {exc}", file=sys.stderr)
        return 1
    for p in done:
        print(f"{p.uid}: {p.url or '(no url)'} version {p.version}")
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    from grafana_client.client import GrafanaException

    from kinesync.dashboards.publish import annotate_alert

    at_ms = args.at_ms if args.at_ms is not None else time.time_ns() // 1_000_000
    try:
        ident = annotate_alert(_api(args), station=args.station, text=args.text, at_ms=at_ms,
                               rule=args.rule, athlete=args.athlete)
    except GrafanaException as exc:
        print(f"kinesync dashboards annotate: Grafana refused: {exc}", file=sys.stderr)
        return 1
    print(f"annotation {ident}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from kinesync.dashboards.build import DASHBOARDS, DEFAULT_DIR

    group = sub.add_parser("dashboards", help="Grafana dashboards: build the JSON, publish, annotate alerts")
    dsub = group.add_subparsers(dest="dashboards_command", required=True, metavar="ACTION")

    build = dsub.add_parser("build", help="write the dashboard JSON files (grafana-foundation-sdk)")
    build.add_argument("--out", default=str(DEFAULT_DIR), help=f"folder (default {DEFAULT_DIR})")
    build.add_argument("--check", action="store_true", help="only check that the files are up to date")
    build.set_defaults(func=cmd_build)

    url_help = "Grafana URL (default KINESYNC_GRAFANA_URL); credentials from KINESYNC_GRAFANA_TOKEN or _USER/_PASSWORD"
    publish = dsub.add_parser("publish", help="create or overwrite the dashboards on a running Grafana")
    publish.add_argument("--url", default=None, help=url_help)
    publish.add_argument("--folder", default="kinesync", help="folder uid, created when missing ('' = General)")
    publish.add_argument("--only", action="append", choices=sorted(DASHBOARDS), help="publish only this file")
    publish.set_defaults(func=cmd_publish)

    annotate = dsub.add_parser("annotate", help="write an alert as a Grafana annotation")
    annotate.add_argument("--url", default=None, help=url_help)
    annotate.add_argument("--station", required=True)
    annotate.add_argument("--text", required=True)
    annotate.add_argument("--rule", default=None)
    annotate.add_argument("--athlete", default=None)
    annotate.add_argument("--at-ms", type=int, default=None, help="time, ms since the epoch (default now)")
    annotate.set_defaults(func=cmd_annotate)
