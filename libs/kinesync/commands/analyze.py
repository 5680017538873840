"""``kinesync analyze``: a recording through the live analysis code, per-rep metrics out."""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kinesync.codec.frame import SensorKind
from kinesync.models import RepMetric
from kinesync.recordings.model import Recording
from kinesync.recordings.readers import RecordingError, load_mapping, read_c3d, read_csv_pair
from kinesync.streaming.offline import ReplayResult, analyze_recording
from kinesync.streaming.roles import force_rows
from kinesync.streaming.station import AnalysisConfig
from kinesync.streaming.transforms import EmgTransform

NS = 1_000_000_000

# Exit codes: per-rep output; a bug (one line, or the traceback with --debug); no per-rep output
# for a reason the one line on stderr names (unreadable or unsupported file, too short, no reps).
EXIT_OK, EXIT_BUG, EXIT_NO_REPS = 0, 1, 2

# (JSON key, column title, format) for the table; the JSON carries every field of RepMetric.
_COLUMNS = (
    ("rep_start_s", "start s", "{:8.2f}"),
    ("lag_ms", "lag ms", "{:7.1f}"),
    ("onset_lag_ms", "onset ms", "{:8.1f}"),
    ("in_window", "in win", "{!s:>6}"),
    ("coupling", "coupl", "{:5.2f}"),
    ("peak_propulsive_force_n", "peak N", "{:7.0f}"),
    ("rfd_0_100_n_per_s", "RFD100 N/s", "{:10.0f}"),
    ("propulsive_impulse_n_s", "prop Ns", "{:7.1f}"),
    ("asymmetry_propulsive_impulse_pct", "asym %", "{:6.1f}"),
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
    for key in ("peak_propulsive_force_n", "rfd_0_100_n_per_s", "propulsive_impulse_n_s", "transfer_index",
                "jump_height_flight_m", "rsi_modified"):
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
        _exists(args.recording)
        return read_c3d(args.recording, mapping, station=args.station)
    if not (args.emg or args.force):
        raise RecordingError("nothing to analyse: give a C3D file, or --emg and/or --force CSV files")
    for path in (args.emg, args.force):
        if path is not None:
            _exists(path)
    return read_csv_pair(args.emg, args.force, mapping, station=args.station)


def _exists(path: Path) -> None:
    if not Path(path).is_file():
        raise RecordingError(f"{path}: no such file")


def _source(args: argparse.Namespace) -> str:
    if args.recording is not None:
        return str(args.recording)
    return ", ".join(str(p) for p in (args.emg, args.force) if p) or "(no input)"


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _say(text: str) -> None:
    print(f"kinesync analyze: {_one_line(text)}", file=sys.stderr)


class _Collect(logging.Handler):
    """Keeps log records instead of printing them: the command speaks in one line of its own."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _Show(logging.StreamHandler):
    """``--debug``: log records on stderr, with the traceback of an exception a record names."""

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        args = record.args if isinstance(record.args, tuple) else ()
        errors = [a for a in args if isinstance(a, BaseException)]
        if record.exc_info is None and errors:
            self.stream.write("".join(traceback.format_exception(errors[0])))


@contextmanager
def _quiet(debug: bool) -> Iterator[_Collect]:
    """Library warnings and log records held back (kept for the one line), or with ``debug`` shown."""
    logger = logging.getLogger("kinesync")
    collect = _Collect()
    handlers: list[logging.Handler] = [collect]
    level = logger.level
    if debug:
        handlers.append(_Show(sys.stderr))
        logger.setLevel(logging.INFO)
    for h in handlers:
        logger.addHandler(h)
    try:
        with warnings.catch_warnings():
            if not debug:
                warnings.simplefilter("ignore")
            yield collect
    finally:
        for h in handlers:
            logger.removeHandler(h)
        logger.setLevel(level)


def _why_no_reps(rec: Recording, config: AnalysisConfig) -> str:
    """The likeliest reason a recording gave no rep, from what the analysis can use of it."""
    emg = [t for t in rec.tracks if t.kind == SensorKind.EMG]
    force = [t for t in rec.tracks if t.kind == SensorKind.FORCE and force_rows(t.channels)[0]]
    usable_emg = [t for t in emg if EmgTransform(t.channels, t.rate_hz, config.envelope_cutoff_hz).usable]
    if not usable_emg and not force:
        if emg and any(EmgTransform(t.channels, t.rate_hz, config.envelope_cutoff_hz).leg_rows for t in emg):
            return (f"the EMG at {emg[0].rate_hz:g} Hz is too slow, or has no pectoral channel (pec), "
                    "and there is no force plate")
        return ("no EMG channel for the leg drive (quad, glute) and the chest (pec), and no force plate: "
                "name the channels by muscle (e.g. 'R Rect Fem', 'Glut Max', 'Pect Maj') or map them with --map")
    return ("no leg-drive burst or force excursion stood out from quiet standing or a quiet EMG baseline "
            f"within a full {config.window_s:g} s window")


def _faults(result: ReplayResult, logged: _Collect) -> str | None:
    """None, or what the analysis raised on: windows it could not compute are flagged ``analysis_error``."""
    failed = [w for w in result.windows if "analysis_error" in w.flags]
    if not failed:
        return None
    what = next((r.getMessage() for r in logged.records if "raise" in r.getMessage()), "no message logged")
    return f"the analysis raised on {len(failed)} of {len(result.windows)} windows ({what})"


def cmd_analyze(args: argparse.Namespace) -> int:
    debug = bool(getattr(args, "debug", False))
    source = _source(args)
    with _quiet(debug) as logged:
        try:
            return _analyze(args, source, logged, debug)
        except (RecordingError, OSError) as exc:
            if debug:
                traceback.print_exc()
            _say(str(exc))
            return EXIT_NO_REPS
        except Exception as exc:
            if debug:
                traceback.print_exc()
            _say(f"{source}: unexpected error ({type(exc).__name__}: {_one_line(exc) or 'no message'}); "
                 "this is a bug: run again with --debug to see the traceback")
            return EXIT_BUG


def _analyze(args: argparse.Namespace, source: str, logged: _Collect, debug: bool) -> int:
    rec = load(args)
    config = AnalysisConfig()
    longest = max(t.duration_s for t in rec.tracks)
    if longest < config.window_s:
        raise RecordingError(f"{source}: too short ({longest:.3g} s of data); a rep needs at least one full "
                             f"{config.window_s:g} s analysis window")
    result = analyze_recording(rec, config, exercise=args.exercise, target_ms=(args.target_low, args.target_high))
    reps = [rep_record(r, rec.t0_ns) for r in result.reps]
    summary = summarize(reps)
    summary["windows"] = len(result.windows)
    if args.json:
        doc = {"source": rec.source, "exercise": args.exercise, "reps": reps, "summary": summary}
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    if not args.quiet:
        tracks = [f"{t.kind.name} {len(t.channels)} ch @ {t.rate_hz:g} Hz, {t.duration_s:.1f} s" for t in rec.tracks]
        print(f"{rec.source}: {', '.join(tracks)}")
        if reps:
            print_table(reps, summary)
    fault = _faults(result, logged)
    if fault is not None:
        _say(f"{source}: {fault}; this is a bug" + ("" if debug else ": run again with --debug to see the traceback"))
        return EXIT_BUG
    if not reps:
        _say(f"{source}: no reps found: {_why_no_reps(rec, config)}")
        return EXIT_NO_REPS
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze", help="analyse a recording offline with the live analysis code (per-rep metrics)",
        description="Replay a recording through exactly the analysis code of the live analyzer and print "
        "per-rep metrics. Input: a C3D file (EMG analog channels and force platforms), or CSV files "
        "--emg/--force whose first column is time in seconds and whose other columns are named by role "
        "(EMG: quad, glute, pec; force: fz, or fz_left and fz_right, N, vertical up). --map renames "
        "channels to roles (JSON object or name=role lines; map a column to '-' to drop it).",
        epilog="Exit codes: 0 per-rep metrics printed; 2 no per-rep metrics, for the reason given in one line "
        "on stderr (unreadable or unsupported file, too short, no reps found); 1 an unexpected error (a bug), "
        "in one line naming the file; --debug shows its traceback.",
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
    # SUPPRESS: without the flag here, `kinesync --debug analyze ...` keeps its value.
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks, library warnings and analysis log messages")
    p.set_defaults(func=cmd_analyze)
