"""The analyzer alone: pre-encoded frames through ``AnalyzerEngine.handle`` in a clean subprocess.

Each run is a fresh ``spawn`` process, so its RSS holds nothing but the interpreter, the frames and
the engine, and two runs can go side by side (scale-out) without sharing an interpreter lock.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from kinesync.bench.frames import FRAME_S, ORIGIN_NS, load, reassemble
from kinesync.bus.base import Message
from kinesync.runtime.collector import tune_for_analysis
from kinesync.runtime.process import die_with_parent, resident_bytes
from kinesync.streaming.engine import AnalyzerEngine
from kinesync.streaming.ring import start_new_block
from kinesync.streaming.station import AnalysisConfig

NS = 1_000_000_000
# Enough session time for every code path (windows, a rep, its analysis) before RSS is sampled.
_PATHS_WARM_S = 6.0


def rss_bytes() -> int:
    """Resident set size of this process (Linux /proc; 0 elsewhere), after handing free heap back.

    The child loads every station's frames and drops the ones it does not analyse; without the trim,
    the engine would grow into that freed heap and its RSS delta would read near zero.
    """
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the delta may then under-read
    return resident_bytes()


@dataclass
class EngineRun:
    stations: int
    warm_s: float
    timed_s: float
    cpu_timed_s: float  # CPU of the steady-state part (after warm_s of session time)
    cpu_total_s: float  # CPU over the whole recording (warm-up included): compared with the floor
    wall_total_s: float  # wall from the start barrier to the last frame: compared across processes
    frames: int
    windows: int
    reps: int
    rss_before_b: int
    rss_after_b: int
    floor_cpu_s: float | None = None
    floor_reps: int | None = None
    floor_rep_cpu_s: float | None = None  # of floor_cpu_s, the CPU inside analyze_rep
    windows_by_station: dict[str, list[tuple[int, int, int | None]]] = field(default_factory=dict)

    @property
    def rss_per_athlete_mb(self) -> float:
        return (self.rss_after_b - self.rss_before_b) / self.stations / 2**20


def feed(engine: AnalyzerEngine, ticks: list[list[Message]], first_tick: int, sink: dict[str, list]) -> None:
    """Deliver ticks as the service would: each tick as one batch through ``handle_batch``, then ``tick``.

    The wall clock handed to the engine is the tick's event time: a paced real-time feed, so
    the bounded wait never fires and no window goes partial.
    """
    for k, tick in enumerate(ticks, start=first_tick + 1):
        now = ORIGIN_NS + round(k * FRAME_S * NS)
        for m in engine.handle_batch(tick, now).metrics:
            sink.setdefault(m.station, []).append((m.window_start_ns, m.window_end_ns, m.rep_peak_ns))
        for m in engine.tick(now):
            sink.setdefault(m.station, []).append((m.window_start_ns, m.window_end_ns, m.rep_peak_ns))
        engine.take_reps()


def run_engine(
    path: Path, stations: list[str], warm_s: float, with_floor: bool, barrier: Any = None
) -> EngineRun:
    """One process's run over ``stations`` (all in ``path`` when empty)."""
    ticks = load(path, stations or None)
    n_stations = len({m.key for t in ticks for m in t})
    cfg = AnalysisConfig()
    # Touch every code path (lazy imports, scipy's first calls) before the RSS baseline.
    first = ticks[0][0].key
    paths_warm = [[m for m in t if m.key == first] for t in ticks[: round(_PATHS_WARM_S / FRAME_S)]]
    feed(AnalyzerEngine(cfg), paths_warm, 0, {})
    del paths_warm
    start_new_block()  # the measured engine's rings share no page with the warm-up's, already in rss0
    rss0 = rss_bytes()
    # The recording held in memory is the bench's input, not the analyzer's state (the service holds one
    # fetched batch): frozen, a full collection no longer walks its hundred thousand messages and charges
    # that to the engine (7 % of its CPU at 512 stations). The engine's own objects are collected as usual.
    gc.freeze()
    tune_for_analysis()  # as run_analyzer tunes the service's collector

    engine = AnalyzerEngine(cfg)
    sink: dict[str, list] = {}
    n_warm = round(warm_s / FRAME_S)
    if barrier is not None:
        barrier.wait()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    feed(engine, ticks[:n_warm], 0, sink)
    cpu1 = time.process_time()
    feed(engine, ticks[n_warm:], n_warm, sink)
    cpu2, wall2 = time.process_time(), time.perf_counter()
    rss1 = rss_bytes()
    c = engine.counters
    run = EngineRun(
        stations=n_stations, warm_s=warm_s, timed_s=(len(ticks) - n_warm) * FRAME_S,
        cpu_timed_s=cpu2 - cpu1, cpu_total_s=cpu2 - cpu0, wall_total_s=wall2 - wall0,
        frames=c.frames, windows=c.windows, reps=c.reps, rss_before_b=rss0, rss_after_b=rss1,
        windows_by_station=sink,
    )
    if with_floor:
        from kinesync.bench.floor import WindowRef, floor_cpu

        del engine
        recordings = reassemble(ticks)
        refs = {s: [WindowRef(*w) for w in ws] for s, ws in sink.items()}
        floor = floor_cpu(recordings, refs, cfg)
        run.floor_cpu_s, run.floor_reps, run.floor_rep_cpu_s = floor.cpu_s, floor.reps, floor.rep_cpu_s
    run.windows_by_station = {}  # only the floor needs them; keep the result small
    return run


def _child(path: str, stations: list[str], warm_s: float, with_floor: bool, barrier: Any, queue: Any) -> None:
    die_with_parent()
    try:
        queue.put(("ok", asdict(run_engine(Path(path), stations, warm_s, with_floor, barrier))))
    except BaseException as exc:  # reported to the parent, which raises it
        if barrier is not None:
            barrier.abort()
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def in_processes(path: Path, groups: list[list[str]], warm_s: float, with_floor: bool) -> list[EngineRun]:
    """One spawned process per station group, started together; their results in group order."""
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(len(groups))
    queues = [ctx.Queue() for _ in groups]
    # One BLAS/OpenMP thread per process: a process is one analyzer core (children inherit this).
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    procs = [
        ctx.Process(target=_child, args=(str(path), g, warm_s, with_floor, barrier, q), daemon=True)
        for g, q in zip(groups, queues, strict=True)
    ]
    for p in procs:
        p.start()
    results = [q.get() for q in queues]  # before join: a child blocks until its result is read
    for p in procs:
        p.join()
    errors = [msg for status, msg in results if status == "error"]
    if errors:
        raise RuntimeError("analyzer bench process failed: " + "; ".join(errors))
    return [EngineRun(**doc) for _, doc in results]


@dataclass
class AloneResult:
    """The analyzer-alone figures of one station count.

    ``rounds``: one-process runs, each followed by its floor in the same process; ``pairs``: after each,
    the two-process run of the same round. A shared machine's speed drifts by tens of per cent within
    minutes (steal, other guests) and only ever adds time, so the throughput comes from the fastest
    round, and each ratio from measurements of one round, taken back to back under one host speed, as
    the median over the rounds.
    """

    rounds: list[EngineRun]
    pairs: list[list[EngineRun]]

    @property
    def single(self) -> EngineRun:
        """The fastest round (least CPU over the timed part)."""
        return min(self.rounds, key=lambda r: r.cpu_timed_s)

    @property
    def stations(self) -> int:
        return self.rounds[0].stations

    @property
    def athletes_per_core(self) -> float:
        """Station-seconds of session time per CPU second, steady state: athletes one core keeps up with."""
        s = self.single
        return s.stations * s.timed_s / s.cpu_timed_s

    @property
    def cpu_ms_per_athlete_s(self) -> float:
        s = self.single
        return s.cpu_timed_s / (s.stations * s.timed_s) * 1e3

    @property
    def cost_split_ms(self) -> dict[str, float] | None:
        """Where the fastest round's CPU went, in ms per athlete-second of the whole recording (the span
        the floor covers): the rep analysis (``analyze_rep``, the same in the engine and the floor), the
        rest of the floor (envelopes, force sums, the movement segmentation) and what streaming adds to
        both (engine − floor). None without a floor."""
        s = self.single
        if s.floor_cpu_s is None or s.floor_rep_cpu_s is None:
            return None
        per = 1e3 / (s.stations * (s.warm_s + s.timed_s))
        return {
            "engine": s.cpu_total_s * per, "floor": s.floor_cpu_s * per, "rep_analysis": s.floor_rep_cpu_s * per,
            "floor_other": (s.floor_cpu_s - s.floor_rep_cpu_s) * per,
            "streaming": (s.cpu_total_s - s.floor_cpu_s) * per,
        }

    @property
    def round_floor_ratios(self) -> list[float]:
        """Each round's engine CPU ÷ its floor CPU (both over the whole recording)."""
        return [r.cpu_total_s / r.floor_cpu_s for r in self.rounds if r.floor_cpu_s]

    @property
    def floor_ratio(self) -> float | None:
        ratios = self.round_floor_ratios
        return float(statistics.median(ratios)) if ratios else None

    @property
    def round_scale_out_ratios(self) -> list[float]:
        """Each round's throughput of two processes (half the stations each, side by side) over one
        process with all: its one-process wall time ÷ the longer of its two."""
        return [r.wall_total_s / max(p.wall_total_s for p in pair)
                for r, pair in zip(self.rounds, self.pairs, strict=True)]

    @property
    def scale_out_ratio(self) -> float:
        return float(statistics.median(self.round_scale_out_ratios))

    @property
    def rss_per_athlete_mb(self) -> float:
        """The largest of the rounds' (each a fresh process)."""
        return max(r.rss_per_athlete_mb for r in self.rounds)


def run_alone(path: Path, stations: list[str], warm_s: float, rounds: int = 1) -> AloneResult:
    """``rounds`` rounds: a one-process run with its floor, then the two-process run."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    half = len(stations) // 2
    singles, pairs = [], []
    for _ in range(rounds):
        singles.append(in_processes(path, [stations], warm_s, with_floor=True)[0])
        pairs.append(in_processes(path, [stations[:half], stations[half:]], warm_s, with_floor=False))
    return AloneResult(singles, pairs)


def profile_engine(path: Path, stations: list[str], warm_s: float, top: int = 12) -> str:
    """cProfile of the engine over the timed part of ``path`` (in this process): top functions by own
    time and by cumulative time."""
    import cProfile
    import io
    import pstats

    ticks = load(path, stations)
    engine = AnalyzerEngine()
    n_warm = round(warm_s / FRAME_S)
    feed(engine, ticks[:n_warm], 0, {})
    prof = cProfile.Profile()
    prof.enable()
    feed(engine, ticks[n_warm:], n_warm, {})
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top + 8)
    return out.getvalue()
