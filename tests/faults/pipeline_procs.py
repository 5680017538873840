"""What the fault tests share: services as real processes, a simulated floor, ground truth, stored rows.

The ground truth is the simulator's own output run through the analysis engine offline
(``replay_frames``): the same frames, the same origin, so the live pipeline must store exactly
these windows with exactly these numbers, whatever was killed or restarted on the way.
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from kinesync.bus.base import Bus
from kinesync.bus.topics import SESSIONS
from kinesync.gateway.publisher import Publisher
from kinesync.models import RepMetric, WindowMetric
from kinesync.settings import Settings
from kinesync.sources.sim import SimSource, SimStation, sim_stations
from kinesync.storage.influx_v1 import InfluxV1Store
from kinesync.storage.lineprotocol import MEASUREMENT, REP_MEASUREMENT
from kinesync.streaming.runner import analysis_config

NS = 1_000_000_000
WindowKey = tuple[str, int]  # station, window start (ns)
# What the analysis computes; identity, tags and the emission time are compared elsewhere or not at all.
COMPARED_FIELDS: tuple[str, ...] = (
    "window_end_ns", "partial", "rep_peak_ns", "lag_ms", "coupling", "in_window", "alignment", "body_weight_n",
    "force_onset_ns", "rfd_0_100_n_per_s", "peak_propulsive_force_n", "transfer_index",
)


# -- processes --------------------------------------------------------------------------------------


def service_env(settings: Settings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a service process needs to join this test's broker, groups and store."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINESYNC_")}
    env.update({
        "KINESYNC_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
        "KINESYNC_PARTITIONS": str(settings.partitions),
        "KINESYNC_ANALYZER_GROUP": settings.analyzer_group,
        "KINESYNC_WRITER_GROUP": settings.writer_group,
        "KINESYNC_SQLITE_PATH": settings.sqlite_path,
        "KINESYNC_BATCH_INTERVAL_S": str(settings.batch_interval_s),
        "KINESYNC_MAX_WAIT_S": str(settings.max_wait_s),
        "KINESYNC_LOG_LEVEL": "INFO",
    })
    env.update(extra or {})
    return env


@dataclass
class Service:
    """One ``python -m kinesync_services.<name>`` child; its output goes to ``log``."""

    name: str
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self) -> Service:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", f"kinesync_services.{self.name}"],
                env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        self.starts += 1
        return self

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        assert self.proc is not None and self.alive, f"{self.name} is not running:\n{self.log_tail()}"
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout_s: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


async def wait_until(predicate, timeout_s: float, what: str, poll_s: float = 0.25) -> float:
    """Poll an async or plain predicate until it holds; returns the seconds it took, fails after ``timeout_s``."""
    t0 = time.monotonic()
    while True:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        await asyncio.sleep(poll_s)


# -- the simulated floor ----------------------------------------------------------------------------


@dataclass
class SimFloor:
    """Simulated stations fed through the gateway's Publisher (validation, buffering, reconnects).

    ``origin_ns`` is fixed up front so the ground truth can be recomputed; ``speed`` > 1 runs the
    session faster than real time (event time is unchanged, only the pacing).
    """

    stations: list[SimStation]
    duration_s: float
    speed: float = 1.0
    origin_ns: int = field(default_factory=time.time_ns)
    frame_s: float = 0.05
    # Rewrites each frame on its way out (a fault injected into one station); None sends them as made.
    rewrite: Callable[[Any], Any] | None = None
    submitted: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @classmethod
    def of(cls, settings: Settings, n: int, duration_s: float, speed: float = 1.0) -> SimFloor:
        return cls(sim_stations(n, settings.sim_lags_ms, settings.sim_seed), duration_s, speed)

    def source(self) -> SimSource:
        return SimSource(self.stations, frame_s=self.frame_s, realtime=False, origin_ns=self.origin_ns)

    async def run(self, publisher: Publisher, stop: asyncio.Event) -> None:
        for st in self.stations:
            record = st.assignment(self.origin_ns).model_dump_json().encode()
            publisher.submit_encoded(SESSIONS, st.station.encode(), record, (st.station, "session", 0))
        t0 = time.monotonic()
        k = 0
        async for frames in self.source().ticks(self.duration_s):
            k += 1
            for f in frames:
                reason = publisher.submit(self.rewrite(f) if self.rewrite is not None else f)
                assert reason is None, reason
                self.submitted += 1
            delay = t0 + k * self.frame_s / self.speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if stop.is_set():
                break
        self.done.set()

    def event_time_ns(self, wall_monotonic_s: float, t0_monotonic_s: float) -> int:
        """The facility time being simulated at a wall-clock instant of the run."""
        return self.origin_ns + round((wall_monotonic_s - t0_monotonic_s) * self.speed * NS)


def start_publisher(bus: Bus, stop: asyncio.Event) -> tuple[Publisher, asyncio.Task[None]]:
    publisher = Publisher(bus, send_timeout_s=2.0)
    return publisher, asyncio.create_task(publisher.run(stop))


@dataclass
class Truth:
    windows: dict[WindowKey, WindowMetric]
    reps: dict[WindowKey, RepMetric]

    def stations(self) -> list[str]:
        return sorted({s for s, _ in self.windows})


def ground_truth(settings: Settings, floor: SimFloor) -> Truth:
    """Every window the live analyzer closes by watermark for this floor, and every rep, computed offline.

    No ``finish()``: the live analyzer emits the last windows only after its bounded wait, which
    the tests do not sit out, so the tail that only end-of-input would release is not expected.
    """
    config = analysis_config(settings)
    windows: dict[WindowKey, WindowMetric] = {}
    reps: dict[WindowKey, RepMetric] = {}
    for st in floor.stations:
        one = SimFloor([st], floor.duration_s, origin_ns=floor.origin_ns, frame_s=floor.frame_s)
        frames = [f for tick in _ticks(one.source(), floor.duration_s) for f in tick]
        result = _replay_open(frames, config, st)
        windows.update(((w.station, w.window_start_ns), w) for w in result[0])
        reps.update(((r.station, r.rep_peak_ns), r) for r in result[1])
    return Truth(windows, reps)


def _ticks(source: SimSource, duration_s: float) -> list[list[Any]]:
    async def collect() -> list[list[Any]]:
        return [t async for t in source.ticks(duration_s)]

    return asyncio.run(collect())


def _replay_open(frames: list[Any], config: Any, st: SimStation) -> tuple[list[WindowMetric], list[RepMetric]]:
    from kinesync.streaming.engine import AnalyzerEngine

    engine = AnalyzerEngine(config)
    engine.assign_session(st.assignment(0))
    windows: list[WindowMetric] = []
    for f in frames:
        windows.extend(engine.add_frame(f, 0))
    return windows, engine.take_reps()


async def ground_truth_async(settings: Settings, floor: SimFloor) -> Truth:
    return await asyncio.to_thread(ground_truth, settings, floor)


# -- what storage holds -----------------------------------------------------------------------------


@dataclass
class Stored:
    """Rows as stored: every physical row (``rows``), so duplicates show as repeated keys."""

    windows: list[tuple[WindowKey, dict[str, Any]]]
    reps: list[tuple[WindowKey, dict[str, Any]]]


def sqlite_stored(path: str | Path) -> Stored:
    """Read the writer's SQLite file directly (read-only), rows and keys as the table holds them."""
    from kinesync.storage.sqlite import _SELECT, REPS_TABLE, TABLE, _metric

    if not Path(path).exists():
        return Stored([], [])
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        tables = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name IN (?, ?)", (TABLE, REPS_TABLE))
        if tables.fetchone()[0] < 2:
            return Stored([], [])
        windows = [((m.station, m.window_start_ns), m.model_dump()) for m in map(_metric, conn.execute(_SELECT))]
        reps = [((s, t), RepMetric.model_validate_json(r).model_dump())
                for s, t, r in conn.execute(f"SELECT station, rep_peak_ns, record FROM {REPS_TABLE}")]
    finally:
        conn.close()
    return Stored(windows, reps)


def sqlite_key_violations(path: str | Path) -> int:
    """Keys held by more than one row: the primary key must make this 0 whatever the writer did."""
    from kinesync.storage.sqlite import REPS_TABLE, TABLE

    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        n = conn.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {TABLE} GROUP BY station, window_start_ns HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        n += conn.execute(
            f"SELECT COUNT(*) FROM (SELECT 1 FROM {REPS_TABLE} GROUP BY station, rep_peak_ns HAVING COUNT(*) > 1)"
        ).fetchone()[0]
        # The declared key itself: a table rebuilt without it would let replays duplicate.
        for table, cols in ((TABLE, ["station", "window_start_ns"]), (REPS_TABLE, ["station", "rep_peak_ns"])):
            pk = [r[1] for r in sorted(conn.execute(f"PRAGMA table_info({table})"), key=lambda r: r[5]) if r[5]]
            assert pk == cols, f"{table} primary key is {pk}, expected {cols}"
    finally:
        conn.close()
    return n


async def influx_stored(store: InfluxV1Store) -> Stored:
    """Every point of the windows and reps measurements, across all series (tag sets).

    A point is unique per series and timestamp, so the same window written under two tag sets
    (say, once before the session record arrived) would be two points: counted as a duplicate.
    """
    out: dict[str, list[tuple[WindowKey, dict[str, Any]]]] = {}
    for measurement in (MEASUREMENT, REP_MEASUREMENT):
        body = await store.query(f'SELECT * FROM "{measurement}" GROUP BY *')
        rows: list[tuple[WindowKey, dict[str, Any]]] = []
        for result in body.get("results", []):
            for series in result.get("series", []) or []:
                tags = series.get("tags", {})
                cols = series["columns"]
                for values in series["values"]:
                    rec = {c: v for c, v in zip(cols, values, strict=True) if v is not None}
                    rec.update(tags)
                    rows.append(((rec["station"], int(rec["time"])), rec))
        out[measurement] = rows
    for _, rec in out[MEASUREMENT]:
        rec["window_start_ns"] = rec["time"]
        rec["flags"] = [f for f in str(rec.get("flags", "")).split(",") if f]
    return Stored(out[MEASUREMENT], out[REP_MEASUREMENT])


# -- comparison -------------------------------------------------------------------------------------


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is None and b is None
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-9)
    return a == b


@dataclass
class Report:
    station: str
    expected: int
    stored: int
    duplicates: int
    missing: int
    unexpected: int
    mismatched: int
    reps_expected: int
    reps_stored: int
    reps_duplicates: int
    reps_missing: int
    missing_keys: list[int] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.station}: windows expected {self.expected}, stored {self.stored}, "
                f"duplicates {self.duplicates}, missing {self.missing}, unexpected {self.unexpected}, "
                f"fields differing {self.mismatched}; reps expected {self.reps_expected}, stored "
                f"{self.reps_stored}, duplicates {self.reps_duplicates}, missing {self.reps_missing}")


def compare(truth: Truth, stored: Stored, *, fields: Iterable[str] = COMPARED_FIELDS,
            exclude: Mapping[str, tuple[int, int]] | None = None) -> list[Report]:
    """Per station: expected vs stored windows and reps, duplicates, missing keys, differing fields.

    ``exclude`` gives, per station, an event-time span [start, end) of window starts (and rep
    peaks) that is left out of every count: the span a test proves was lost for a known reason.
    """
    fields = tuple(fields)
    exclude = exclude or {}

    def kept(key: WindowKey) -> bool:
        span = exclude.get(key[0])
        return span is None or not (span[0] <= key[1] < span[1])

    w_count = Counter(k for k, _ in stored.windows if kept(k))
    r_count = Counter(k for k, _ in stored.reps if kept(k))
    by_key = {k: rec for k, rec in stored.windows if kept(k)}
    reports = []
    for station in truth.stations():
        exp = {k: w for k, w in truth.windows.items() if k[0] == station and kept(k)}
        got = {k: n for k, n in w_count.items() if k[0] == station}
        exp_reps = {k for k in truth.reps if k[0] == station and kept(k)}
        got_reps = {k: n for k, n in r_count.items() if k[0] == station}
        mismatches = []
        for k in sorted(exp.keys() & got.keys()):
            want = exp[k].model_dump()
            have = by_key[k]
            bad = [f for f in fields if not _same(want.get(f), have.get(f))]
            if bad:
                mismatches.append(f"{k}: " + ", ".join(f"{f} {want.get(f)!r} != {have.get(f)!r}" for f in bad))
        missing = sorted(k[1] for k in exp.keys() - got.keys())
        # Windows past the expected set are the tail an analyzer releases after its bounded wait.
        last = max((k[1] for k in exp), default=0)
        unexpected = [k for k in got.keys() - exp.keys() if k[1] <= last]
        reports.append(Report(
            station=station, expected=len(exp), stored=sum(got.values()),
            duplicates=sum(n - 1 for n in got.values()), missing=len(missing), unexpected=len(unexpected),
            mismatched=len(mismatches), reps_expected=len(exp_reps), reps_stored=sum(got_reps.values()),
            reps_duplicates=sum(n - 1 for n in got_reps.values()), reps_missing=len(exp_reps - got_reps.keys()),
            missing_keys=missing, mismatches=mismatches[:5],
        ))
    return reports


def stored_window_keys(stored: Stored) -> set[WindowKey]:
    return {k for k, _ in stored.windows}


# -- Kafka bookkeeping ------------------------------------------------------------------------------


async def committed_offsets(settings: Settings, group: str, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """The group's committed offsets as the broker holds them (what a restarted member resumes from).

    Asked the way a member asks (OffsetFetch through the group coordinator) without joining the group.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, group_id=group,
                                enable_auto_commit=False)
    await consumer.start()
    try:
        out = {}
        for topic in topics:
            for p in range(settings.partitions):
                offset = await consumer.committed(TopicPartition(topic, p))
                if offset is not None:
                    out[(topic, p)] = offset
        return out
    finally:
        await consumer.stop()
