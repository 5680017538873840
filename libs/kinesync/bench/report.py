"""Bench results: the machine, per-station-count figures, the headline numbers and the target verdicts."""

from __future__ import annotations

import datetime as dt
import math
import os
import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from kinesync.bench.analyzer_alone import AloneResult
from kinesync.bench.pipeline import PipelineResult

LATENCY_AT = 64  # the latency target is stated at 64 athletes
LATENCY_AT_LARGE = 256  # ... and a looser one at 256


def machine() -> dict[str, Any]:
    model = ""
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), "")
    except OSError:
        pass
    import scipy

    return {
        "nproc": os.cpu_count(), "cpu": model or platform.processor(), "python": platform.python_version(),
        "numpy": np.__version__, "scipy": scipy.__version__, "platform": platform.platform(),
    }


class CpuLoad:
    """Load average and CPU steal over a span: the bench shares the machine with whatever else runs."""

    def __init__(self) -> None:
        self._start = self._stat()
        self.load_start = self._loadavg()

    @staticmethod
    def _stat() -> list[int]:
        try:
            with open("/proc/stat") as f:
                return [int(x) for x in f.readline().split()[1:]]
        except OSError:
            return []

    @staticmethod
    def _loadavg() -> float | None:
        try:
            return float(os.getloadavg()[0])
        except OSError:
            return None

    def finish(self) -> dict[str, Any]:
        end = self._stat()
        out: dict[str, Any] = {"load1_start": self.load_start, "load1_end": self._loadavg()}
        if self._start and end and len(end) > 7:
            d = [b - a for a, b in zip(self._start, end, strict=False)]
            total = sum(d[:8]) or 1
            # /proc/stat: user nice system idle iowait irq softirq steal
            out["busy_pct"] = round(100.0 * (total - d[3] - d[4]) / total, 1)
            out["steal_pct"] = round(100.0 * d[7] / total, 1)
        return out


def pct(values: list[float], q: float) -> float | None:
    return float(np.percentile(values, q)) if values else None


def _lat(values: list[float]) -> dict[str, Any]:
    return {"p50": pct(values, 50), "p99": pct(values, 99), "n": len(values)}


def _pair(lat: dict[str, Any]) -> str | None:
    """A ``_lat`` as "p50 / p99", None when nothing was measured."""
    return f"{lat['p50']:.0f} / {lat['p99']:.0f}" if lat["n"] else None


def _split(split: dict[str, float] | None) -> str | None:
    if split is None:
        return None
    return f"{split['rep_analysis']:.2f} / {split['floor_other']:.2f} / {split['streaming']:.2f}"


@dataclass
class Run:
    stations: int
    alone: AloneResult | None = None
    pipeline: PipelineResult | None = None

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"stations": self.stations}
        if (a := self.alone) is not None:
            s = a.single
            doc["alone"] = {
                "athletes_per_core": a.athletes_per_core, "cpu_ms_per_athlete_s": a.cpu_ms_per_athlete_s,
                "floor_ratio": a.floor_ratio, "engine_cpu_s": s.cpu_total_s, "floor_cpu_s": s.floor_cpu_s,
                "scale_out_ratio": a.scale_out_ratio,
                "rss_per_athlete_mb": a.rss_per_athlete_mb, "rss_before_mb": s.rss_before_b / 2**20,
                "rss_after_mb": s.rss_after_b / 2**20, "frames": s.frames, "windows": s.windows, "reps": s.reps,
                "floor_reps": s.floor_reps, "warm_s": s.warm_s, "timed_s": s.timed_s,
                "cost_ms_per_athlete_s": a.cost_split_ms,
                # every one-process round, in the order run: the headline figures above come from these
                "rounds": [
                    {"athletes_per_core": r.stations * r.timed_s / r.cpu_timed_s, "cpu_timed_s": r.cpu_timed_s,
                     "engine_cpu_s": r.cpu_total_s, "floor_cpu_s": r.floor_cpu_s, "floor_rep_cpu_s": r.floor_rep_cpu_s,
                     "floor_ratio": r.cpu_total_s / r.floor_cpu_s if r.floor_cpu_s else None,
                     "wall_s": r.wall_total_s, "rss_per_athlete_mb": r.rss_per_athlete_mb,
                     "pair_wall_s": [p.wall_total_s for p in pair], "pair_cpu_s": [p.cpu_total_s for p in pair],
                     "scale_out_ratio": so}
                    for r, pair, so in zip(a.rounds, a.pairs, a.round_scale_out_ratios, strict=True)
                ],
            }
        if (p := self.pipeline) is not None:
            doc["pipeline"] = {
                "kept_up": p.kept_up, "duration_s": p.duration_s, "frames_sent": p.frames_sent,
                "frames_expected": p.frames_expected, "frames_analyzed": p.frames_analyzed,
                "backlog_frames": p.backlog_frames,
                "partial_windows": p.partial_windows, "windows": p.windows, "reps": p.reps,
                "gateway_late_s": p.gateway_late_s,
                "rep_latency_ms": _lat(p.rep_latency_ms), "rep_input_ms": _lat(p.rep_input_ms),
                "rep_output_ms": _lat(p.rep_output_ms), "rep_analyzer_ms": _lat(p.rep_analyzer_ms),
                "window_latency_ms": _lat(p.window_latency_ms),
                "storage_latency_ms": _lat(p.storage_latency_ms), "stored_windows": p.stored,
                "cue_latency_ms": _lat(p.cue_latency_ms), "cue_received_ms": _lat(p.cue_received_ms),
                "cue_metric_ms": _lat(p.cue_metric_ms), "cue_run_input_ms": _lat(p.cue_run_input_ms),
                "cue_views": p.cue_views, "cue_note": p.cue_note,
                "writer_points": p.writer_points,
                "writer_points_per_s": p.writer_points / p.writer_span_s if p.writer_span_s else None,
                "writer_capacity_points_per_s": p.writer_points / p.writer_busy_s if p.writer_busy_s else None,
                "analyzers": p.analyzers, "partitions": p.partitions, "stations_per_analyzer": p.stations_per_analyzer,
                "analyzer_cpu_s": p.analyzer_cpu_s,
                "analyzer_athletes_per_core": p.analyzer_athletes_per_core,
                "gateway_cpu_s": p.gateway_cpu_s,
            }
        return doc


@dataclass
class Target:
    name: str
    goal: str
    value: float | None
    met: bool | None  # None: not measured in this run


@dataclass
class Report:
    runs: list[Run]
    config: dict[str, Any]
    machine: dict[str, Any] = field(default_factory=machine)
    load: dict[str, Any] = field(default_factory=dict)
    date: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))

    def _headline_alone(self) -> AloneResult | None:
        # The largest station count: per-athlete cost includes whatever grows with the number of stations.
        done = [r.alone for r in self.runs if r.alone is not None]
        return max(done, key=lambda a: a.stations) if done else None

    def _latency_run(self) -> PipelineResult | None:
        done = [r.pipeline for r in self.runs if r.pipeline is not None]
        return min(done, key=lambda p: abs(p.stations - LATENCY_AT)) if done else None

    def _pipeline_at(self, stations: int) -> PipelineResult | None:
        return next((r.pipeline for r in self.runs if r.pipeline is not None and r.pipeline.stations == stations), None)

    def targets(self) -> list[Target]:
        """The verdicts against the targets in docs/performance.md; ``met`` None: not measured."""
        a, p = self._headline_alone(), self._latency_run()
        out: list[Target] = []

        def add(name: str, goal: str, value: float | None, ok: bool | None) -> None:
            out.append(Target(name, goal, value, ok if value is not None else None))

        apc = a.athletes_per_core if a else None
        add("athletes per analyzer core", "≥ 500", apc, apc is not None and apc >= 500)
        add("athletes per analyzer core, next step (columnar engine)", "≥ 1000", apc, apc is not None and apc >= 1000)
        fr = a.floor_ratio if a else None
        add("cost / signal-processing floor", "≤ 2×", fr, fr is not None and fr <= 2.0)
        add("two processes / one", "≥ 1.9×", a and a.scale_out_ratio, a and a.scale_out_ratio >= 1.9)
        p99 = pct(p.rep_latency_ms, 99) if p else None
        at = p.stations if p else LATENCY_AT
        add(f"rep end → metric p99 at {at} athletes", "≤ 100 ms", p99,
            (p99 is not None and p99 <= 100) if at == LATENCY_AT else None)
        big = self._pipeline_at(LATENCY_AT_LARGE)
        b99 = pct(big.rep_latency_ms, 99) if big else None
        add(f"rep end → metric p99 at {LATENCY_AT_LARGE} athletes", "≤ 250 ms", b99, b99 is not None and b99 <= 250)
        s99 = pct(p.storage_latency_ms, 99) if p else None
        add(f"metric → storage p99 at {at} (SQLite)", "≤ 500 ms", s99, s99 is not None and s99 <= 500)
        c99 = pct(p.cue_latency_ms, 99) if p and p.cue_latency_ms else None
        add(f"rep end → cue painted p99 at {at} athletes", "≤ 200 ms", c99,
            (c99 is not None and c99 <= 200) if at == LATENCY_AT else None)
        add("analyzer memory per athlete", "≤ 1 MB", a and a.rss_per_athlete_mb, a and a.rss_per_athlete_mb <= 1.0)
        return out

    def to_json(self) -> dict[str, Any]:
        a, p = self._headline_alone(), self._latency_run()
        return {
            "date": self.date, "machine": self.machine, "load": self.load, "config": self.config,
            "athletes_per_core": a.athletes_per_core if a else None,
            "latency_ms": {**_lat(p.rep_latency_ms), "stations": p.stations} if p else {"p50": None, "p99": None},
            "storage_latency_ms": {**_lat(p.storage_latency_ms), "stations": p.stations} if p else None,
            "rss_per_athlete_mb": a.rss_per_athlete_mb if a else None,
            "floor_ratio": a.floor_ratio if a else None,
            "scale_out_ratio": a.scale_out_ratio if a else None,
            "headline_stations": a.stations if a else None,
            "targets": [t.__dict__ for t in self.targets()],
            "runs": [r.to_json() for r in self.runs],
        }

    def table(self) -> str:
        """The results as a Markdown table (readable on screen and pasted into docs/performance.md)."""
        runs = [r.to_json() for r in self.runs]

        def f(v: Any, spec: str = ".1f") -> str:
            if v is None:
                return "–"
            if isinstance(v, bool):
                return "yes" if v else "**no**"
            return format(v, spec)

        rows: list[tuple[str, list[str]]] = []

        def row(label: str, part: str, get, spec: str = ".1f") -> None:  # type: ignore[no-untyped-def]
            rows.append((label, [f(get(r[part]), spec) if part in r else "–" for r in runs]))

        row("analyzer alone: athletes per core (fastest round)", "alone", lambda d: d["athletes_per_core"], ".0f")
        row("  each round", "alone", lambda d: " / ".join(f"{r['athletes_per_core']:.0f}" for r in d["rounds"]), "")
        row("analyzer alone: CPU ms per athlete-second", "alone", lambda d: d["cpu_ms_per_athlete_s"], ".2f")
        row("cost / floor (engine CPU ÷ floor CPU, median round)", "alone", lambda d: d["floor_ratio"], ".2f")
        row("  each round", "alone",
            lambda d: " / ".join(f"{r['floor_ratio']:.2f}" for r in d["rounds"] if r["floor_ratio"]), "")
        row("  CPU ms per athlete-second, fastest round: rep analysis / rest of floor / streaming", "alone",
            lambda d: _split(d["cost_ms_per_athlete_s"]), "")
        row("two processes / one (throughput, median round)", "alone", lambda d: d["scale_out_ratio"], ".2f")
        row("  each round", "alone", lambda d: " / ".join(f"{r['scale_out_ratio']:.2f}" for r in d["rounds"]), "")
        row("analyzer RSS per athlete, MB", "alone", lambda d: d["rss_per_athlete_mb"], ".3f")
        row("pipeline: analyzer processes (one consumer group)", "pipeline", lambda d: d["analyzers"], "d")
        row("pipeline: partitions per topic (embedded broker)", "pipeline", lambda d: d["partitions"], "d")
        row("pipeline: stations per analyzer (by the keys' hash)", "pipeline",
            lambda d: " / ".join(str(n) for n in d["stations_per_analyzer"]), "")
        row("pipeline: analyzer kept up in real time", "pipeline", lambda d: d["kept_up"])
        row("pipeline: frames not analysed at the end", "pipeline", lambda d: d["backlog_frames"], "d")
        row("pipeline: partial windows", "pipeline", lambda d: d["partial_windows"], "d")
        row("rep end → metric p50, ms", "pipeline", lambda d: d["rep_latency_ms"]["p50"], ".0f")
        row("rep end → metric p99, ms", "pipeline", lambda d: d["rep_latency_ms"]["p99"], ".0f")
        row("  of which window end → analyzer has it, p50", "pipeline", lambda d: d["rep_input_ms"]["p50"], ".0f")
        row("  of which analyzer → on the topic, p50", "pipeline", lambda d: d["rep_output_ms"]["p50"], ".0f")
        row("    of which in the analyzer (batch → record sent), p50", "pipeline",
            lambda d: d["rep_analyzer_ms"]["p50"], ".0f")
        row("  reps measured", "pipeline", lambda d: d["rep_latency_ms"]["n"], "d")
        row("rep end → cue painted in Chromium p50, ms (own run)", "pipeline",
            lambda d: d["cue_latency_ms"]["p50"], ".0f")
        row("rep end → cue painted in Chromium p99, ms (own run)", "pipeline",
            lambda d: d["cue_latency_ms"]["p99"], ".0f")
        row("  of which rep end → the view's socket has it, p50 / p99", "pipeline",
            lambda d: _pair(d["cue_received_ms"]), "")
        row("    of which rep end → metric at the probe, same run, p50 / p99", "pipeline",
            lambda d: _pair(d["cue_metric_ms"]), "")
        row("  window end → analyzer has it in that run (all reps), p50 / p99", "pipeline",
            lambda d: _pair(d["cue_run_input_ms"]), "")
        row("  station views open (cues measured)", "pipeline",
            lambda d: f"{d['cue_views']} ({d['cue_latency_ms']['n']})" if d["cue_views"] else None, "")
        row("metric → visible in SQLite p50, ms", "pipeline", lambda d: d["storage_latency_ms"]["p50"], ".0f")
        row("metric → visible in SQLite p99, ms", "pipeline", lambda d: d["storage_latency_ms"]["p99"], ".0f")
        row("writer points/s (offered load)", "pipeline", lambda d: d["writer_points_per_s"], ".0f")
        row("writer points/s (capacity: per second inside write)", "pipeline",
            lambda d: d["writer_capacity_points_per_s"], ".0f")
        row("analyzer in the pipeline: athletes per core", "pipeline",
            lambda d: d["analyzer_athletes_per_core"], ".0f")
        row("gateway behind the wall clock at the end, s", "pipeline", lambda d: d["gateway_late_s"], ".2f")
        row("gateway: share of real-time frames sent", "pipeline",
            lambda d: d["frames_sent"] / d["frames_expected"], ".0%")
        head = "| stations | " + " | ".join(str(r["stations"]) for r in runs) + " |"
        sep = "|---|" + "---:|" * len(runs)
        lines = [head, sep] + [f"| {label} | " + " | ".join(vals) + " |" for label, vals in rows]
        lines += ["", "| target | goal | measured | verdict |", "|---|---|---:|---|"]
        for t in self.targets():
            verdict = {True: "met", False: "**not met**", None: "not measured"}[t.met]
            lines.append(f"| {t.name} | {t.goal} | {f(t.value, '.2f')} | {verdict} |")
        if (budget := self.budget_line()) is not None:
            lines += ["", budget]
        return "\n".join(lines)

    def budget_line(self) -> str | None:
        """Where the headline count's CPU goes against the ≥ 1000 athletes per core target's budget."""
        a = self._headline_alone()
        split = a.cost_split_ms if a else None
        if a is None or split is None:
            return None
        s = a.single
        per_rep = s.floor_rep_cpu_s / s.floor_reps * 1e3 if s.floor_rep_cpu_s and s.floor_reps else math.nan
        return (f"Budget of ≥ 1000 athletes per core: {1e3 / 1000:.2f} ms CPU per athlete-second. At {a.stations} "
                f"stations (fastest round) the engine spends {a.cpu_ms_per_athlete_s:.2f} over the timed part and "
                f"{split['engine']:.2f} over the whole recording, the span the floor covers, where it splits into "
                f"the rep analysis {split['rep_analysis']:.2f} ({per_rep:.2f} ms a rep), the rest of the "
                f"signal-processing floor {split['floor_other']:.2f}, which a batch analysis needs too, and "
                f"{split['streaming']:.2f} of streaming around them.")
