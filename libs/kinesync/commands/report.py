"""``kinesync report``: an HTML (and PDF) report of one session, with a per-rep CSV on request."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from kinesync.commands.analyze import load
from kinesync.recordings.readers import RecordingError


def cmd_report(args: argparse.Namespace) -> int:
    from kinesync.report import from_recording, from_store, render_html, write_csv  # matplotlib: only when used
    from kinesync.report.pdf import html_to_pdf

    has_recording = args.recording is not None or args.emg or args.force
    try:
        if has_recording:
            data = from_recording(load(args), args.session, exercise=args.exercise,
                                  target_ms=(args.target_low, args.target_high), athlete=args.athlete)
        else:
            data = asyncio.run(from_store(args.db, args.session))
    except (RecordingError, OSError, LookupError) as exc:
        print(f"kinesync report: {exc}", file=sys.stderr)
        return 2
    out = args.out or Path(f"session-{args.session}.html")
    out.write_text(render_html(data), encoding="utf-8")
    print(f"report: {out} ({len(data.reps)} reps)")
    if args.csv:
        write_csv(data, args.csv)
        print(f"per-rep CSV: {args.csv}")
    if not args.no_pdf:
        pdf = out.with_suffix(".pdf")
        why_not = html_to_pdf(out, pdf)
        print(why_not or f"PDF: {pdf}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="HTML/PDF report of one session: lag per rep, EMG envelopes, force curve, rep table",
        description="Write a self-contained HTML report of a session (and a PDF when Chromium is installed). "
        "From the session's recording (a C3D file or --emg/--force CSVs, read as by `kinesync analyze`, "
        "whose numbers the report repeats), or from storage (--db, the SQLite store of `kinesync run`: "
        "reps and envelopes, no force curve).",
    )
    p.add_argument("--session", required=True, help="session id (the API's session id, or any label)")
    p.add_argument("recording", nargs="?", type=Path, help="the session's C3D file")
    p.add_argument("--emg", type=Path, help="EMG CSV file (as for kinesync analyze)")
    p.add_argument("--force", type=Path, help="force CSV file (as for kinesync analyze)")
    p.add_argument("--map", type=Path, help="channel name → role mapping file")
    p.add_argument("--station", default="replay", help="station name for the records (default replay)")
    p.add_argument("--exercise", default=None, help="the movement, e.g. back_squat")
    p.add_argument("--athlete", default=None, help="athlete name for the heading")
    p.add_argument("--target-low", type=float, default=80.0, help="target lag window, lower edge, ms (default 80)")
    p.add_argument("--target-high", type=float, default=120.0, help="target lag window, upper edge, ms (default 120)")
    p.add_argument("--db", type=Path, default=Path(".kinesync/kinesync.db"),
                   help="SQLite store to read the session from when no recording is given")
    p.add_argument("--out", type=Path, help="HTML file to write (default session-<id>.html)")
    p.add_argument("--csv", type=Path, help="also export the per-rep metrics as CSV to this path")
    p.add_argument("--no-pdf", action="store_true", help="skip the PDF even when Chromium is available")
    p.set_defaults(func=cmd_report)
