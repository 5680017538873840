"""``kinesync validate``: accuracy against the simulator's ground truth, and the real recordings."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from kinesync.validation.grid import (
    EXERCISES,
    LAGS_MS,
    RATES_HZ,
    SNRS_DB,
    TARGET_BIAS_MS,
    TARGET_MEDIAN_MS,
    TARGET_P95_MS,
    CellResult,
    cells,
    run_cell,
)


def _fmt(v: float | None, spec: str = "6.2f") -> str:
    return "     -" if v is None else format(v, spec)


def print_grid(results: list[CellResult], out=None) -> None:
    out = out or sys.stdout
    print(f"{'exercise':<12} {'SNR dB':>6} {'lag ms':>6} {'rate Hz':>9} {'reps':>9} "
          f"{'median':>7} {'p95':>7} {'bias ± 95% CI':>14} {'10-rep':>7} {'onset ms':>8}  target", file=out)
    for r in results:
        c = r.cell
        verdict = {True: "met", False: "MISSED", None: ""}[r.passed]
        rfd = _fmt(r.onset_err_ms, "+8.1f")
        bias = f"{_fmt(r.bias_ms, '+7.2f')} ±{_fmt(r.bias_ci95_ms, '5.2f')}"
        print(f"{c.exercise:<12} {c.snr_db:6.0f} {c.lag_ms:6.0f} {c.rate_hz:9.3f} "
              f"{r.reps_with_lag:>4}/{r.reps_true:<4} {_fmt(r.median_abs_ms, '7.2f')} {_fmt(r.p95_abs_ms, '7.2f')} "
              f"{bias} {_fmt(r.mean10_abs_ms, '7.2f')} {rfd}  {verdict}", file=out)
    judged = [r for r in results if r.judged]
    if judged:
        met = sum(bool(r.passed) for r in judged)
        print(f"\nat 20 dB: {met} of {len(judged)} cells meet median ≤ {TARGET_MEDIAN_MS:g} ms, "
              f"p95 ≤ {TARGET_P95_MS:g} ms, |bias| ≤ {TARGET_BIAS_MS:g} ms (within its 95 % CI)", file=out)
        pooled = [r for r in judged if r.bias_ms is not None]
        if pooled:
            n = sum(r.reps_with_lag for r in pooled)
            bias = sum(r.bias_ms * r.reps_with_lag for r in pooled) / n
            print(f"pooled bias at 20 dB over {n} reps: {bias:+.2f} ms; "
                  "10-rep: median |mean error of 10 consecutive reps|; onset: median force-onset error, ms",
                  file=out)


def default_data_dir() -> Path:
    env = os.environ.get("KINESYNC_SHARED_DATA")
    return Path(env) if env else Path("../shared/data")


def cmd_validate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    grid = list(cells(
        exercises=args.exercises, snrs=args.snr, lags=args.lags, rates=args.rates,
    ))
    results: list[CellResult] = []
    for cell in tqdm(grid, desc="simulated cells", unit="cell", file=sys.stderr, disable=args.no_progress):
        results.append(run_cell(cell, reps=args.reps, seed=args.seed))
    print_grid(results)
    real = []
    if args.data is not None or default_data_dir().is_dir():
        from kinesync.validation.real import analyze_shared_data

        folder = args.data or default_data_dir()
        if not folder.is_dir():
            print(f"kinesync validate: no recordings folder at {folder}", file=sys.stderr)
            return 2
        real = analyze_shared_data(folder, args.plots)
        print(f"\nreal recordings in {folder}:")
        for r in real:
            print(f"  {r.name}: {json.dumps(r.summary)}" + (f"\n    plot: {r.plot}" if r.plot else ""))
    if args.json:
        doc = {
            "cells": [asdict(r) | {"passed": r.passed} for r in results],
            "real": [{"name": r.name, "summary": r.summary, "plot": str(r.plot) if r.plot else None} for r in real],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    judged = [r for r in results if r.judged]
    return 0 if all(r.passed for r in judged) else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate", help="measure accuracy against simulated ground truth and analyse the real recordings",
        description="Run the simulator over a grid (exercises × SNR × true lag × EMG rate), analyse each "
        "cell with the live analysis code and print the per-rep lag error (median, 95th percentile, bias) "
        "against the exact truth; then analyse the real recordings (--data, default ../shared/data) and "
        "write one PNG plot per recording to --plots. Exit status 1 when a 20 dB cell misses the targets.",
    )
    p.add_argument("--exercises", nargs="+", default=list(EXERCISES), choices=EXERCISES, metavar="EXERCISE",
                   help=f"exercises (default all: {' '.join(EXERCISES)})")
    p.add_argument("--snr", nargs="+", type=float, default=list(SNRS_DB), help="SNRs, dB (default 10 20 30)")
    p.add_argument("--lags", nargs="+", type=float, default=list(LAGS_MS), help="true lags, ms (default 40..200)")
    p.add_argument("--rates", nargs="+", type=float, default=list(RATES_HZ),
                   help="EMG rates, Hz (default 1925.926 2000 2148.148)")
    p.add_argument("--reps", type=int, default=30, help="reps per cell (default 30)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    p.add_argument("--data", type=Path, default=None, help="folder of real recordings (default ../shared/data)")
    p.add_argument("--plots", type=Path, default=Path("validation-plots"),
                   help="folder for the PNG plots (default ./validation-plots)")
    p.add_argument("--json", type=Path, help="write all results as JSON to this path")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_validate)
