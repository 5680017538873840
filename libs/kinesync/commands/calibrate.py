"""``kinesync calibrate``: the clock offset between two devices from a sync pulse both recorded."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def _load(path: str, column: str, time_column: str) -> tuple[np.ndarray, float, float]:
    from kinesync.sources.csv import CsvFile

    rec = CsvFile.open(path, time_column=time_column)
    if column not in rec.columns:
        raise ValueError(f"{path}: no column {column!r} (has: {', '.join(rec.columns)}); choose it with --column")
    return rec.columns[column], rec.rate_hz, float(rec.time[0])


def cmd_calibrate(args: argparse.Namespace) -> int:
    from kinesync.clock.sync import estimate_offset

    try:
        a, rate_a, t0_a = _load(args.a, args.column, args.time_column)
        b, rate_b, t0_b = _load(args.b, args.column_b or args.column, args.time_column)
        est = estimate_offset(a, rate_a, b, rate_b, t0_a_s=t0_a, t0_b_s=t0_b, max_offset_s=args.max_offset_ms / 1e3)
    except ValueError as exc:
        print(f"kinesync calibrate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"offset_ms": est.offset_ms, "uncertainty_ms": est.uncertainty_ms,
                          "pulses": est.pulses, "peak_correlation": est.peak_correlation}))
    else:
        print(f"offset of B behind A: {est.offset_ms:+.3f} ± {est.uncertainty_ms:.3f} ms "
              f"({est.pulses} pulse(s), peak correlation {est.peak_correlation:.2f}; A {rate_a:g} Hz, B {rate_b:g} Hz)")
        device = args.device_b or "<device B>"
        print(f"to align B on A: KINESYNC_GATEWAY_LATENCY_MS='{{\"{device}\": {est.offset_ms:.3f}}}'")
        if est.peak_correlation < 0.5:
            print("warning: weak correlation; check that both files hold the same pulses", file=sys.stderr)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "calibrate", help="estimate the clock offset between two devices from a shared sync pulse",
        description="Cross-correlates the sync pulse that two devices recorded (CSV files with a time column "
        "in seconds on each device's own clock) and prints B's offset behind A with its standard error. "
        "Configure the result as B's latency: KINESYNC_GATEWAY_LATENCY_MS.",
    )
    p.add_argument("a", help="recording of the reference device (CSV)")
    p.add_argument("b", help="recording of the device to align (CSV)")
    p.add_argument("--column", default="sync", help="sync-pulse column in A (and B unless --column-b); default sync")
    p.add_argument("--column-b", default=None, help="sync-pulse column in B when it is named differently")
    p.add_argument("--time-column", default="time", help="time column, seconds (default time)")
    p.add_argument("--max-offset-ms", type=float, default=1000.0, help="search range ± ms (default 1000)")
    p.add_argument("--device-b", default=None, help="B's device name, for the printed setting")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_calibrate)
