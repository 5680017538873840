"""``kinesync analyze``: a recording through the live analysis code, per-rep metrics out."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from kinesync.analysis.rep_records import COLUMNS, rep_record, summarize
from kinesync.codec.frame import SensorKind
from kinesync.sources.c3d import read_c3d
from kinesync.sources.csv import read_csv
from kinesync.sources.mapping import LegacyMapping, legacy_note, load_mapping
from kinesync.sources.recording import Recording, RecordingError
from kinesync.streaming.offline import ReplayResult, analyze_recording
from kinesync.streaming.roles import force_rows
from kinesync.streaming.station import AnalysisConfig
from kinesync.streaming.transforms import EmgTransform

# Exit codes: per-rep output; a bug (one line, or the traceback with --debug); no per-rep output
# for a reason the one line on stderr names (unreadable or unsupported file, too short, no reps).
EXIT_OK, EXIT_BUG, EXIT_NO_REPS = 0, 1, 2


def _cell(value: object, fmt: str, width: int) -> str:
    if value is None:
        return " " * (width - 1) + "-"
    return fmt.format(value)


def print_table(reps: list[dict[str, object]], summary: dict[str, object], out=None) -> None:
    out = out or sys.stdout
    widths = [max(len(title), len(fmt.format(0.0)) if "!s" not in fmt else 6) for _, title, fmt in COLUMNS]
    print("  ".join(f"{title:>{w}}" for (_, title, _), w in zip(COLUMNS, widths, strict=True)) + "  flags", file=out)
    for r in reps:
        cells = [_cell(r.get(k), fmt, w).rjust(w) for (k, _, fmt), w in zip(COLUMNS, widths, strict=True)]
        print("  ".join(cells) + "  " + (",".join(r["flags"]) or "-"), file=out)
    print(file=out)
    for key, value in summary.items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        print(f"{key:>24}: {shown}", file=out)


def load(args: argparse.Namespace) -> Recording:
    """The recording the arguments name, read as the gateway reads it (``kinesync.sources``)."""
    mapping = load_mapping(args.map) if args.map is not None else None
    if isinstance(mapping, LegacyMapping) and not getattr(args, "quiet", False):
        # stdout: stderr is kept for the one line that says why there is no per-rep output.
        print(f"note: {legacy_note(args.map)}")
    if args.recording is not None:
        if args.emg or args.force:
            raise RecordingError("give either a C3D file or --emg/--force CSV files, not both")
        _exists(args.recording)
        rec = read_c3d(args.recording, mapping, station=args.station)
    else:
        if not (args.emg or args.force):
            raise RecordingError("nothing to analyse: give a C3D file, or --emg and/or --force CSV files")
        for path in (args.emg, args.force):
            if path is not None:
                _exists(path)
        rec = read_csv(mapping=mapping, emg=args.emg, force=args.force, station=args.station)
    save = getattr(args, "save_map", None)
    if save is not None and rec.mapping is not None:
        Path(save).write_text(rec.mapping.model_dump_json(indent=2, exclude_defaults=True) + "\n", encoding="utf-8")
    return rec


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
        "per-rep metrics. Files are read as the gateway's c3d and csv sources read them, with the same "
        "channel names. Input: a C3D file (EMG analog channels and force platforms; EMG named by role and "
        "side, quad_right, plates fz_left/fz_right), or CSV files --emg/--force with a time column in seconds "
        "and the other columns named by role (EMG: quad, glute, pec; force: fz, or fz_left and fz_right, N, "
        "vertical up). --map gives a JSON channel mapping (docs/gateway.md, \"Mapping file\"); an old "
        "'name=role' file is converted on load, with a note saying how to write it as JSON.",
        epilog="Exit codes: 0 per-rep metrics printed; 2 no per-rep metrics, for the reason given in one line "
        "on stderr (unreadable or unsupported file, too short, no reps found); 1 an unexpected error (a bug), "
        "in one line naming the file; --debug shows its traceback.",
    )
    p.add_argument("recording", nargs="?", type=Path, help="a C3D file")
    p.add_argument("--emg", type=Path, help="EMG CSV file (time + channels named by role)")
    p.add_argument("--force", type=Path, help="force CSV file (time + fz or fz_left/fz_right)")
    p.add_argument("--map", type=Path, help="JSON channel mapping (as the gateway's --mapping)")
    p.add_argument("--save-map", type=Path, metavar="FILE",
                   help="write the mapping used (automatic, or an old-format --map converted) as JSON to FILE")
    p.add_argument("--exercise", default=None,
                   help="the movement: back_squat, bench_press, push_press, squat_jump (recorded in the output)")
    p.add_argument("--target-low", type=float, default=80.0, help="target lag window, lower edge, ms (default 80)")
    p.add_argument("--target-high", type=float, default=120.0, help="target lag window, upper edge, ms (default 120)")
    p.add_argument("--station", default="replay",
                   help="station of an automatically mapped recording (default replay); a --map file names its own")
    p.add_argument("--json", type=Path, help="also write the per-rep metrics and a summary as JSON to this path")
    p.add_argument("--quiet", action="store_true", help="print nothing (with --json)")
    # SUPPRESS: without the flag here, `kinesync --debug analyze ...` keeps its value.
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks, library warnings and analysis log messages")
    p.set_defaults(func=cmd_analyze)
