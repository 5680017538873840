"""``kinesync bench``: analyzer throughput, latency, memory and cost, measured in one run (docs/performance.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from kinesync.runtime.extras import require

VIEWS_UP_TO = 64  # the largest station count whose pipeline run also opens station views


def run_bench(
    stations: list[int], *, seconds: float, warm: float, pipeline_seconds: float | None, workdir: Path,
    progress: bool = True, profile: bool = False, pipeline_max: int | None = None, views: int = 0,
    analyzers: int = 1, synth_live: bool = False, rounds: int = 1,
) -> tuple[Any, str | None]:
    """Every measurement for every station count; returns the Report and the profile text (or None)."""
    from kinesync.bench.analyzer_alone import profile_engine, run_alone
    from kinesync.bench.frames import generate, station_names
    from kinesync.bench.pipeline import run_pipeline
    from kinesync.bench.report import CpuLoad, Report, Run
    from kinesync.settings import Settings

    tqdm = require("tqdm", "kinesync bench's progress bar").tqdm
    load = CpuLoad()
    piped = [n for n in stations if pipeline_seconds and (pipeline_max is None or n <= pipeline_max)]
    viewed = [n for n in piped if views and n <= VIEWS_UP_TO]
    steps = 1 + len(stations) + len(piped) + len(viewed) + (1 if profile else 0)
    bar = tqdm(total=steps, desc="bench", unit="step", file=sys.stderr, disable=not progress)
    runs: list[Run] = []
    prof_text: str | None = None
    try:
        # One recording for the largest count; smaller counts take its first stations.
        frames = workdir / "frames.pkl"
        bar.set_postfix_str(f"generating {max(stations)} athletes × {warm + seconds:g} s")
        generate(max(stations), warm + seconds, frames)
        bar.update()
        names = station_names(max(stations))
        for n in stations:
            run = Run(n)
            bar.set_postfix_str(f"{n} athletes: analyzer alone with its floor, then two processes, ×{rounds}")
            run.alone = run_alone(frames, names[:n], warm, rounds)
            bar.update()
            if n in piped:
                bar.set_postfix_str(f"{n} athletes: pipeline through the broker, {pipeline_seconds:g} s")
                run.pipeline = asyncio.run(run_pipeline(n, pipeline_seconds, warm, workdir / f"pipeline-{n}",
                                                        analyzers=analyzers, synth_live=synth_live))
                bar.update()
            if n in viewed:
                # The cue hop in a run of its own: the views' Chromium renderers (on the station tablets in
                # a facility) would otherwise take the server's cores from the pipeline they measure.
                bar.set_postfix_str(f"{n} athletes: pipeline with {min(views, n)} station views in Chromium")
                cued = asyncio.run(run_pipeline(n, pipeline_seconds, warm, workdir / f"cues-{n}", views=views,
                                                analyzers=analyzers, synth_live=synth_live))
                assert run.pipeline is not None
                run.pipeline.cue_latency_ms, run.pipeline.cue_views = cued.cue_latency_ms, cued.cue_views
                run.pipeline.cue_received_ms = cued.cue_received_ms
                run.pipeline.cue_metric_ms, run.pipeline.cue_run_input_ms = cued.cue_metric_ms, cued.cue_run_input_ms
                run.pipeline.cue_note = cued.cue_note
                bar.update()
            runs.append(run)
        if profile:
            bar.set_postfix_str(f"profiling {stations[0]} athletes")
            prof_text = profile_engine(frames, names[: stations[0]], warm)
            bar.update()
    finally:
        bar.close()
    config = {"stations": stations, "timed_s": seconds, "warm_s": warm, "pipeline_s": pipeline_seconds,
              "pipeline_stations": piped, "views": views, "views_up_to": VIEWS_UP_TO, "analyzers": analyzers,
              "synth_live": synth_live, "rounds": rounds,
              # the simulated floor's tempos (KINESYNC_SIM_REP_PERIODS_S; equal: every station in step)
              "sim_rep_periods_s": Settings().sim_rep_periods_s}
    return Report(runs, config, load=load.finish()), prof_text


def cmd_bench(args: argparse.Namespace) -> int:
    # The services log at INFO; on a bench screen only the progress bar and the table belong.
    logging.basicConfig(level=logging.WARNING)
    for name in ("kinesync", "aiokafka"):
        logging.getLogger(name).setLevel(logging.ERROR)
    stations = args.stations or ([8, 32] if args.quick else [16, 64, 256, 512])
    seconds = args.seconds or (4.0 if args.quick else 5.0)
    pipeline_s = None if args.no_pipeline else (args.pipeline_seconds or (8.0 if args.quick else 12.0))
    rounds = args.rounds or (1 if args.quick else 3)
    if rounds < 1:
        print("kinesync bench: --rounds must be at least 1", file=sys.stderr)
        return 2
    if min(stations) < 2:
        print("kinesync bench: every station count must be at least 2 (two processes take half each)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="kinesync-bench-") as tmp:
        report, prof = run_bench(
            stations, seconds=seconds, warm=args.warm, pipeline_seconds=pipeline_s, workdir=Path(tmp),
            progress=not args.no_progress, profile=args.profile, pipeline_max=args.pipeline_max, views=args.views,
            analyzers=args.analyzers or min(2, os.cpu_count() or 1), synth_live=args.synth_live, rounds=rounds,
        )
    m = report.machine
    print(f"kinesync bench — {report.date} — {m['nproc']} × {m['cpu']}, Python {m['python']}, "
          f"numpy {m['numpy']}, scipy {m['scipy']}")
    ld = report.load
    print(f"machine load during the run: load1 {ld.get('load1_start')} → {ld.get('load1_end')}, "
          f"busy {ld.get('busy_pct')} %, steal {ld.get('steal_pct')} %\n")
    print(report.table())
    if prof:
        print("\ncProfile of the analyzer engine (steady state; by own time, then cumulative):\n" + prof)
    if args.json:
        doc = report.to_json()
        if prof:
            doc["profile"] = prof
        args.json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench", help="measure analyzer throughput, latency, memory and cost against the performance targets",
        description="For each station count: (a) pre-encoded simulated frames through the analyzer engine "
        "alone (athletes per core, RSS per athlete, cost over the bare numpy floor, two processes vs one), "
        "(b) the real pipeline through the embedded broker in real time (rep end → metric latency, metric → "
        "SQLite latency, writer points/s). Prints a table with the target verdicts; see docs/performance.md.",
    )
    p.add_argument("--stations", nargs="+", type=int,
                   help="station counts (default 16 64 256 512; --quick: 8 32)")
    p.add_argument("--views", type=int, default=16, metavar="N",
                   help="station views opened in headless Chromium, in a second pipeline run of each count up to "
                   f"{VIEWS_UP_TO} stations, to time rep end → cue painted (default 16; 0: none)")
    p.add_argument("--analyzers", type=int, metavar="N",
                   help="analyzer processes in the pipeline runs, one consumer group (default: one per core, "
                   "at most 2, as deployed on a 2-core server)")
    p.add_argument("--pipeline-max", type=int, default=256, metavar="N",
                   help="run the real pipeline only for counts up to N (default 256; the larger counts "
                   "measure the analyzer alone, since gateway and broker share the same cores)")
    p.add_argument("--seconds", type=float, help="timed session seconds of the analyzer-alone runs (default 5)")
    p.add_argument("--rounds", type=int, metavar="N",
                   help="analyzer-alone rounds per count, each one process with its floor, then two processes "
                   "(default 3; --quick: 1): athletes per core from the fastest round, the floor and two-process "
                   "ratios as the median of the rounds' own, since a shared machine's speed drifts within a run")
    p.add_argument("--warm", type=float, default=3.0, help="untimed warm-up session seconds (default 3)")
    p.add_argument("--pipeline-seconds", type=float, help="real-time seconds of each pipeline run (default 12)")
    p.add_argument("--no-pipeline", action="store_true", help="skip the broker pipeline runs")
    p.add_argument("--synth-live", action="store_true",
                   help="synthesise the simulated sensors' samples while each pipeline run goes (1 s ahead, as the "
                   "demo does) instead of before it; the server then also pays for the simulation (about a "
                   "quarter of a core at 256 stations)")
    p.add_argument("--quick", action="store_true", help="small counts and short runs (about a minute)")
    p.add_argument("--profile", action="store_true", help="also print a cProfile of the engine (first count)")
    p.add_argument("--json", type=Path, help="write every figure as JSON to this path")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench)
