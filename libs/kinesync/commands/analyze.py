"""``kinesync analyze``: a recording through the live analysis code, per-rep metrics out."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

from kinesync.models import RepMetric
from kinesync.recordings.model import Recording
from kinesync.recordings.readers import RecordingError, load_mapping, read_c3d, read_csv_pair
from kinesync.streaming.offline import analyze_recording

NS = 1_000_000_000

# (JSON key, column title, format) for the table; the JSON carries every field of RepMetric.
_COLUMNS = (
    ("rep_start_s", "start s", "{:8.2f}"),
    ("lag_ms", "lag ms", "{:7.1f}"),
    ("onset_lag_ms", "onset ms", "{:8.1f}"),
    ("in_window", "in win", "{!s:>6}"),
    ("coupling", "coupl", "{:5.2f}"),
    ("peak_force_n", "peak N", "{:7.0f}"),
    ("rfd_0_100_n_per_s", "RFD100 N/s", "{:10.0f}"),
    ("net_impulse_n_s", "impulse Ns", "{:10.1f}"),
    ("transfer_index", "transfer", "{:8.2f}"),
    ("jump_height_flight_m", "jump m", "{:6.3f}"),
)


def rep_record(rep: RepMetric, t0_ns: int) -> dict[str, object]:
    data = rep.model_dump(exclude={"emitted_at_ns", "station", "athlete", "team", "session"})
    data["rep_start_s"] = round((rep.rep_start_ns - t0_ns) / NS, 4)
    data["rep_peak_s"] = round((rep.rep_peak_ns - t0_ns) / NS, 4)
    return data


def summarize(reps: list[dict[str, object]]) -> dict[str, object]:
    def values(key: str) -> list[float]:
        return [float(r[key]) for r in reps if r.get(key) is not None]

    lags = values("lag_ms")
    judged = [r["in_window"] for r in reps if r.get("in_window") is not None]
    summary: dict[str, object] = {
        "reps": len(reps), "reps_with_lag": len(lags), "flagged_reps": sum(bool(r["flags"]) for r in reps),
    }
    if lags:
        summary.update(lag_median_ms=statistics.median(lags), lag_mean_ms=statistics.fmean(lags))
    if judged:
        summary["in_window_share"] = sum(bool(j) for j in judged) / len(judged)
    for key in ("peak_force_n", "rfd_0_100_n_per_s", "net_impulse_n_s", "transfer_index", "jump_height_flight_m"):
        v = values(key)
        if v:
            summary[f"{key}_median"] = statistics.median(v)
    return summary


def _cell(value: object, fmt: str, width: int) -> str:
    if value is None:
        return " " * (width - 1) + "-"
    return fmt.format(value)


def print_table(reps: list[dict[str, object]], summary: dict[str, object], out=None) -> None:
    out = out or sys.stdout
    widths = [max(len(title), len(fmt.format(0.0)) if "!s" not in fmt else 6) for _, title, fmt in _COLUMNS]
    print("  ".join(f"{title:>{w}}" for (_, title, _), w in zip(_COLUMNS, widths, strict=True)) + "  flags", file=out)
    for r in reps:
        cells = [_cell(r.get(k), fmt, w).rjust(w) for (k, _, fmt), w in zip(_COLUMNS, widths, strict=True)]
        print("  ".join(cells) + "  " + (",".join(r["flags"]) or "-"), file=out)
    print(file=out)
    for key, value in summary.items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        print(f"{key:>24}: {shown}", file=out)


def load(args: argparse.Namespace) -> Recording:
    mapping = load_mapping(args.map)
    if args.recording is not None:
        if args.emg or args.force:
            raise RecordingError("give either a C3D file or --emg/--force CSV files, not both")
        return read_c3d(args.recording, mapping, station=args.station)
    if not (args.emg or args.force):
        raise RecordingError("nothing to analyse: give a C3D file, or --emg and/or --force CSV files")
    return read_csv_pair(args.emg, args.force, mapping, station=args.station)


def cmd_analyze(args: argparse.Namespace) -> int:
    try:
        rec = load(args)
    except (RecordingError, OSError) as exc:
        print(f"kinesync analyze: {exc}", file=sys.stderr)
        return 2
    result = analyze_recording(rec, exercise=args.exercise, target_ms=(args.target_low, args.target_high))
    reps = [rep_record(r, rec.t0_ns) for r in result.reps]
    summary = summarize(reps)
    summary["windows"] = len(result.windows)
    if args.json:
        doc = {"source": rec.source, "exercise": args.exercise, "reps": reps, "summary": summary}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if not args.quiet:
        tracks = [f"{t.kind.name} {len(t.channels)} ch @ {t.rate_hz:g} Hz, {t.duration_s:.1f} s" for t in rec.tracks]
        print(f"{rec.source}: {', '.join(tracks)}")
        if not reps:
            print("no reps found (a rep needs quiet standing or a quiet EMG baseline around it, "
                  "and at least one full 2 s window)")
        else:
            print_table(reps, summary)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze", help="analyse a recording offline with the live analysis code (per-rep metrics)",
        description="Replay a recording through exactly the analysis code of the live analyzer and print "
        "per-rep metrics. Input: a C3D file (EMG analog channels and force platforms), or CSV files "
        "--emg/--force whose first column is time in seconds and whose other columns are named by role "
        "(EMG: quad, glute, pec; force: fz, or fz_left and fz_right, N, vertical up). --map renames "
        "channels to roles (JSON object or name=role lines; map a column to '-' to drop it).",
    )
    p.add_argument("recording", nargs="?", type=Path, help="a C3D file")
    p.add_argument("--emg", type=Path, help="EMG CSV file (time + channels named by role)")
    p.add_argument("--force", type=Path, help="force CSV file (time + fz or fz_left/fz_right)")
    p.add_argument("--map", type=Path, help="channel name → role mapping file")
    p.add_argument("--exercise", default=None,
                   help="the movement: back_squat, bench_press, push_press, squat_jump (recorded in the output)")
    p.add_argument("--target-low", type=float, default=80.0, help="target lag window, lower edge, ms (default 80)")
    p.add_argument("--target-high", type=float, default=120.0, help="target lag window, upper edge, ms (default 120)")
    p.add_argument("--station", default="replay", help="station name for the records (default replay)")
    p.add_argument("--json", type=Path, help="also write the per-rep metrics and a summary as JSON to this path")
    p.add_argument("--quiet", action="store_true", help="print nothing (with --json)")
    p.set_defaults(func=cmd_analyze)
