"""``kinesync report``: an HTML (and PDF) report of one session, with a per-rep CSV on request; or, with
``--athlete ID --weeks N``, an athlete's trends over N weeks."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from kinesync.commands.analyze import load
from kinesync.sources.recording import RecordingError
from kinesync.storage.base import StorageUnavailable

if TYPE_CHECKING:
    from kinesync.storage.readers import RepReader

EMBEDDED_DB = Path(".kinesync/kinesync.db")  # where `kinesync run` keeps its SQLite store


def rep_reader(args: argparse.Namespace) -> RepReader:
    """--db when given; else the store the KINESYNC_* settings name (InfluxDB when KINESYNC_INFLUX_URL is
    set, or KINESYNC_SQLITE_PATH), else the SQLite store of `kinesync run`."""
    from kinesync.settings import Settings
    from kinesync.storage.readers import open_rep_reader
    from kinesync.storage.sqlite import SqliteStore

    if args.db is not None:
        return SqliteStore(args.db)
    settings = Settings()
    if settings.influx_url or "sqlite_path" in settings.model_fields_set:
        return open_rep_reader(settings)
    return SqliteStore(EMBEDDED_DB)


def _pdf(out: Path, args: argparse.Namespace) -> None:
    from kinesync.report.pdf import html_to_pdf

    if not args.no_pdf:
        pdf = out.with_suffix(".pdf")
        why_not = html_to_pdf(out, pdf)
        print(why_not or f"PDF: {pdf}")


def cmd_trends(args: argparse.Namespace) -> int:
    import time
    from datetime import UTC, datetime

    from kinesync.report.trends import render_trends_html, resolve_athlete, trends_from_store, write_trends_csv

    if args.athlete is None:
        print("kinesync report: --weeks needs --athlete (registry id or name)", file=sys.stderr)
        return 2
    until_ns = time.time_ns() if args.until is None else round(
        datetime.combine(args.until, datetime.max.time(), UTC).timestamp()) * 1_000_000_000

    registry = args.registry if args.registry.is_file() else None

    async def load_trends():
        name = await resolve_athlete(args.athlete, registry)
        reader = rep_reader(args)
        try:
            return await trends_from_store(reader, name, args.weeks, until_ns)
        finally:
            await reader.close()

    try:
        t = asyncio.run(load_trends())
    except (OSError, LookupError, ValueError, StorageUnavailable) as exc:
        print(f"kinesync report: {exc}", file=sys.stderr)
        return 2
    out = args.out or Path(f"trends-{args.athlete}.html")
    out.write_text(render_trends_html(t), encoding="utf-8")
    print(f"trends report: {out} ({sum(w.reps for w in t.weekly)} reps, {len(t.sessions)} sessions, "
          f"{args.weeks} weeks)")
    if args.csv:
        write_trends_csv(t, args.csv)
        print(f"weekly and per-session CSV: {args.csv}")
    _pdf(out, args)
    return 0


async def _from_storage(args: argparse.Namespace):
    from kinesync.report import from_store

    reader = rep_reader(args)
    try:
        return await from_store(reader, args.session)
    finally:
        await reader.close()


def cmd_report(args: argparse.Namespace) -> int:
    if args.weeks is not None:
        return cmd_trends(args)
    if args.session is None:
        print("kinesync report: give --session ID (a session report) or --athlete ID --weeks N (trends)",
              file=sys.stderr)
        return 2
    from kinesync.report import from_recording, render_html, write_csv  # matplotlib: only when used

    has_recording = args.recording is not None or args.emg or args.force
    try:
        if has_recording:
            data = from_recording(load(args), args.session, exercise=args.exercise,
                                  target_ms=(args.target_low, args.target_high), athlete=args.athlete)
        else:
            data = asyncio.run(_from_storage(args))
    except (RecordingError, OSError, LookupError, ValueError, StorageUnavailable) as exc:
        print(f"kinesync report: {exc}", file=sys.stderr)
        return 2
    out = args.out or Path(f"session-{args.session}.html")
    out.write_text(render_html(data), encoding="utf-8")
    print(f"report: {out} ({len(data.reps)} reps)")
    if args.csv:
        write_csv(data, args.csv)
        print(f"per-rep CSV: {args.csv}")
    _pdf(out, args)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="HTML/PDF report of one session (lag per rep, EMG envelopes, force curve, rep table, "
        "priming effect), or of an athlete's trends over weeks",
        description="Write a self-contained HTML report of a session (and a PDF when Chromium is installed). "
        "From the session's recording (a C3D file or --emg/--force CSVs, read as by `kinesync analyze`, "
        "whose numbers the report repeats), or from storage (--db, the SQLite store of `kinesync run`, or "
        "InfluxDB as KINESYNC_INFLUX_* configures it: reps and envelopes, no force curve). With --athlete ID "
        "--weeks N: the athlete's weekly and per-session trends from storage.",
    )
    p.add_argument("--session", help="session id (the API's session id, or any label)")
    p.add_argument("recording", nargs="?", type=Path, help="the session's C3D file")
    p.add_argument("--emg", type=Path, help="EMG CSV file (as for kinesync analyze)")
    p.add_argument("--force", type=Path, help="force CSV file (as for kinesync analyze)")
    p.add_argument("--map", type=Path, help="JSON channel mapping (as for kinesync analyze)")
    p.add_argument("--station", default="replay",
                   help="station of an automatically mapped recording (default replay); a --map file names its own")
    p.add_argument("--exercise", default=None, help="the movement, e.g. back_squat")
    p.add_argument("--athlete", default=None,
                   help="athlete name for the heading; with --weeks, whose trends (registry id or name)")
    p.add_argument("--weeks", type=int, choices=range(1, 105), metavar="N",
                   help="trends report over the last N ISO weeks (1-104) instead of a session report")
    p.add_argument("--until", type=date.fromisoformat, metavar="YYYY-MM-DD",
                   help="trends: the last week is the one holding this day (default today, UTC)")
    p.add_argument("--registry", type=Path, default=Path(".kinesync/registry.db"),
                   help="facility registry that maps an athlete id to the name reps carry")
    p.add_argument("--target-low", type=float, default=80.0, help="target lag window, lower edge, ms (default 80)")
    p.add_argument("--target-high", type=float, default=120.0, help="target lag window, upper edge, ms (default 120)")
    p.add_argument("--db", type=Path, default=None,
                   help="SQLite store to read reps from when no recording is given (default: InfluxDB when "
                   "KINESYNC_INFLUX_URL is set, else KINESYNC_SQLITE_PATH when set, else .kinesync/kinesync.db)")
    p.add_argument("--out", type=Path, help="HTML file to write (default session-<id>.html, trends-<athlete>.html)")
    p.add_argument("--csv", type=Path, help="also export the per-rep (trends: weekly and per-session) CSV here")
    p.add_argument("--no-pdf", action="store_true", help="skip the PDF even when Chromium is available")
    p.set_defaults(func=cmd_report)
