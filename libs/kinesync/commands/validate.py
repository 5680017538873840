"""``kinesync validate``: accuracy against the simulators' ground truth, and the real recordings.

Two simulated grids: the legacy one (``kinesync.validation.grid``: one burst shape for every
muscle) and the physiology one (``kinesync.validation.physiology_grid``: own shapes per muscle and
rep, eccentric activity, ECG, crosstalk), where the product's lag is shown next to two plain
references on the same reps. By default both grids run at CI size; ``--full`` runs every cell.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from kinesync.runtime.extras import require
from kinesync.validation import physiology_grid as phys
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

# The CI-sized legacy grid: 20 dB (the judged SNR), three lags, every rate.
CI_SNRS_DB = (20.0,)
CI_LAGS_MS = (40.0, 120.0, 200.0)


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


def _stats(e: phys.ErrorStats) -> str:
    return f"{_fmt(e.median_abs_ms, '6.1f')} {_fmt(e.p95_abs_ms, '6.1f')} {_fmt(e.bias_ms, '+6.1f')}"


def print_physiology(results: list[phys.PhysCellResult], out=None) -> None:
    out = out or sys.stdout
    print("\nphysiology simulator: per-rep lag error against the true lag (pectoral activation peak − "
          "leg-drive activation peak), ms;\nproduct = the analyzer's lag_ms, xcorr = 6 Hz envelope "
          "cross-correlation, peak = envelope peak to peak; the three on the same reps", file=out)
    head = f"{'med':>6} {'p95':>6} {'bias':>6}"
    print(f"{'exercise':<12} {'shapes':<11} {'ECG':>3} {'ecc':>3} {'SNR':>3} {'lag':>4} {'rate Hz':>8} "
          f"{'m/x/miss':>9} {'n':>3} | product {head} | xcorr {head} | peak {head} | {'gain':>5}  target", file=out)
    for r in results:
        c = r.cell
        verdict = {True: "met", False: "MISSED", None: ""}[r.meets_targets]
        print(f"{c.exercise:<12} {c.shapes:<11} {'on' if c.ecg else 'off':>3} {'on' if c.eccentric else 'off':>3} "
              f"{c.snr_db:3.0f} {c.lag_ms:4.0f} {c.rate_hz:8.3f} {f'{r.matched}/{r.extra}/{r.missed}':>9} "
              f"{r.product.n:>3} |         {_stats(r.product)} |       {_stats(r.xcorr)} |      {_stats(r.peak)} | "
              f"{_fmt(r.gain_over_xcorr, '5.2f')}  {verdict}", file=out)
    print("\npooled over cells, per exercise and shape mode (median / p95 / bias, ms):", file=out)
    for (exercise, shapes), by in phys.pooled(results):
        group = [r for r in results if (r.cell.exercise, r.cell.shapes) == (exercise, shapes)]
        cov = phys.pooled_coverage(group)
        sets = phys.pooled_set_share(group)
        print(f"  {exercise:<12} {shapes:<11} n={by['product'].n:<4} product {_stats(by['product'])} | "
              f"xcorr {_stats(by['xcorr'])} | peak {_stats(by['peak'])} | 95 % coverage {_fmt(cov, '4.2f')} | "
              f"sets ≤ {phys.SET_TOLERANCE_MS:g} ms {_fmt(sets, '4.2f')}", file=out)
    print(f"  (sets: share of runs of {phys.SET_REPS} consecutive reps whose mean lag is within "
          f"{phys.SET_TOLERANCE_MS:g} ms of the true mean; target ≥ 0.90)", file=out)
    judged = [r for r in results if r.judged]
    if judged:
        met = sum(bool(r.meets_targets) for r in judged)
        print(f"independent shapes at 20 dB: {met} of {len(judged)} cells meet median ≤ {phys.TARGET_MEDIAN_MS:g} ms, "
              f"p95 ≤ {phys.TARGET_P95_MS:g} ms, |bias| ≤ {phys.TARGET_BIAS_MS:g} ms, "
              f"≥ {phys.TARGET_GAIN_OVER_XCORR:g}× better than xcorr, one record per true rep "
              "(reported; the exit status follows the legacy grid)", file=out)


def print_limits(rows: list, out=None) -> None:
    out = out or sys.stdout
    print("\ninformation limit (Cramér–Rao bound of the true lag on the same simulated reps: the smallest SD any "
          "unbiased estimator can reach;\nECG, crosstalk, tonic and eccentric activity, gains and noise level "
          "taken as known), ms:", file=out)
    print(f"{'exercise':<12} {'SNR':>3} {'reps':>4} | per rep: peaks unknown | + heights, widths unknown | "
          f"{SET_REPS_LABEL} SD | sets ≤ {phys.SET_TOLERANCE_MS:g} ms at most", file=out)
    for r in rows:
        print(f"{r.exercise:<12} {r.snr_db:3.0f} {r.reps:>4} | {r.peak_only_sd_ms:22.1f} | "
              f"{r.widths_unknown_sd_ms:25.1f} | {r.set_sd_ms:{len(SET_REPS_LABEL) + 3}.1f} | "
              f"{r.set_share_at_most:17.2f}", file=out)


SET_REPS_LABEL = f"{phys.SET_REPS}-rep mean"


def default_data_dir() -> Path:
    env = os.environ.get("KINESYNC_SHARED_DATA")
    return Path(env) if env else Path("../shared/data")


def _legacy_cells(args: argparse.Namespace) -> list:
    if args.grid == "physiology":
        return []
    return list(cells(
        exercises=args.exercises or EXERCISES,
        snrs=args.snr or (SNRS_DB if args.full else CI_SNRS_DB),
        lags=args.lags or (LAGS_MS if args.full else CI_LAGS_MS),
        rates=args.rates or RATES_HZ,
    ))


def _physiology_cells(args: argparse.Namespace) -> list[phys.PhysCell]:
    if args.grid == "legacy":
        return []
    if args.lags or args.rates or args.full:
        lags = args.lags or phys.LAGS_MS
        rates = args.rates or phys.RATES_HZ
        lag_rates = [(lag, rate) for lag in lags for rate in rates]
    else:
        lag_rates = list(phys.CI_LAG_RATE)

    def toggle(flag: bool | None) -> tuple[bool | None, ...]:
        if flag is not None:
            return (flag,)
        return (True, False) if args.full else (None,)

    return phys.physiology_cells(
        exercises=args.exercises or phys.EXERCISES,
        shapes=phys.SHAPES if args.shapes == "both" else (args.shapes,),
        ecg=toggle(args.ecg),
        eccentric=toggle(args.eccentric),
        snrs=args.snr or (phys.SNRS_DB if args.full else phys.CI_SNRS_DB),
        lag_rates=lag_rates,
    )


def cmd_validate(args: argparse.Namespace) -> int:
    tqdm = require("tqdm", "kinesync validate's progress bar").tqdm

    grid = _legacy_cells(args)
    phys_grid = _physiology_cells(args)
    results: list[CellResult] = []
    phys_results: list[phys.PhysCellResult] = []
    jobs = [(run_cell, c, results) for c in grid] + [(phys.run_physiology_cell, c, phys_results) for c in phys_grid]
    for run, cell, sink in tqdm(jobs, desc="simulated cells", unit="cell", file=sys.stderr, disable=args.no_progress):
        sink.append(run(cell, reps=args.reps, seed=args.seed))
    if results:
        print_grid(results)
    if phys_results:
        print_physiology(phys_results)
    limits = []
    if args.bound and phys_grid:
        from kinesync.validation.information_limit import information_limits

        limits = information_limits(phys_grid, args.bound, args.seed)
        print_limits(limits)
    real = []
    if not args.no_real and (args.data is not None or default_data_dir().is_dir()):
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
            "physiology": [
                asdict(r) | {"gain_over_xcorr": r.gain_over_xcorr, "meets_targets": r.meets_targets,
                             "coverage": r.coverage}
                for r in phys_results
            ],
            "physiology_pooled": [
                {"exercise": ex, "shapes": sh} | {m: asdict(s) for m, s in by.items()}
                | {"coverage": phys.pooled_coverage(g), "set_share": phys.pooled_set_share(g)}
                for (ex, sh), by in phys.pooled(phys_results)
                for g in [[r for r in phys_results if (r.cell.exercise, r.cell.shapes) == (ex, sh)]]
            ],
            "information_limit": [asdict(r) for r in limits],
            "real": [{"name": r.name, "summary": r.summary, "plot": str(r.plot) if r.plot else None} for r in real],
        }
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    judged = [r for r in results if r.judged]
    return 0 if all(r.passed for r in judged) else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "validate", help="measure accuracy against simulated ground truth and analyse the real recordings",
        description="Run the simulators over a grid, analyse each cell with the live analysis code and print "
        "the per-rep lag error (median, 95th percentile, bias) against the exact truth. Legacy grid: one "
        "burst shape for every muscle (exercises × SNR × true lag × EMG rate). Physiology grid: own burst "
        "shape per muscle and rep, eccentric activity, ECG, crosstalk (also × shape mode × ECG × eccentric), "
        "with two plain references (envelope cross-correlation, envelope peak to peak) on the same reps. "
        "Default: a CI-sized grid (20 dB; legacy: 3 lags × 3 rates; physiology: 3 lag–rate pairs); --full "
        "runs every cell. Then analyse the real recordings (--data, default ../shared/data) and write one "
        "PNG plot per recording to --plots. Exit status 1 when a legacy 20 dB cell misses its targets.",
    )
    p.add_argument("--grid", choices=("legacy", "physiology", "both"), default="both",
                   help="which simulated grid to run (default both)")
    p.add_argument("--full", action="store_true",
                   help="the whole grid: SNR 10 20 30, lags 40..200 × every rate, ECG and eccentric on and off")
    p.add_argument("--exercises", nargs="+", default=None, choices=EXERCISES, metavar="EXERCISE",
                   help=f"exercises (default all: {' '.join(EXERCISES)})")
    p.add_argument("--snr", nargs="+", type=float, default=None, help="SNRs, dB (default 20; --full: 10 20 30)")
    p.add_argument("--lags", nargs="+", type=float, default=None,
                   help="true lags, ms (default: legacy 40 120 200, physiology 40/120/200 paired with the rates; "
                   "--full: 40 80 120 160 200 × every rate)")
    p.add_argument("--rates", nargs="+", type=float, default=None,
                   help="EMG rates, Hz (default 1925.926 2000 2148.148)")
    p.add_argument("--shapes", choices=("independent", "identical", "both"), default="both",
                   help="physiology grid: own burst shape per muscle and rep, one shared shape, or both (default)")
    p.add_argument("--ecg", action=argparse.BooleanOptionalAction, default=None,
                   help="physiology grid: ECG on the pectoral and trunk channels (default: on with independent "
                   "shapes, off with identical ones; --full: both)")
    p.add_argument("--eccentric", action=argparse.BooleanOptionalAction, default=None,
                   help="physiology grid: eccentric activity in the descent (default as --ecg)")
    p.add_argument("--reps", type=int, default=30, help="reps per cell (default 30)")
    p.add_argument("--bound", type=int, default=0, metavar="N",
                   help="physiology grid: also compute the information limit (Cramér–Rao bound of the true "
                   "lag) on the first N reps of each exercise, about 2 s per rep (default 0: off)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (default 0)")
    p.add_argument("--data", type=Path, default=None, help="folder of real recordings (default ../shared/data)")
    p.add_argument("--no-real", action="store_true", help="skip the real recordings")
    p.add_argument("--plots", type=Path, default=Path("validation-plots"),
                   help="folder for the PNG plots (default ./validation-plots)")
    p.add_argument("--json", type=Path, help="write all results as JSON to this path")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_validate)
