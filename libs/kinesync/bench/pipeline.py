"""The real pipeline through the embedded broker: sim gateway → analyzer → writer → SQLite, in real time.

The gateway and the analyzer each run in their own spawned process (as they are deployed: one
service, one process), with the services' own loops ``run_sim_gateway`` and ``run_analyzer``. The
writer (``run_writer`` into SQLite) and the probe run in this process: the probe reads
``kinesync.metrics`` with a group-less consumer and polls the SQLite file, stamping wall times.

The simulator is paced to the wall clock and stamps facility time from the same clock, so a
window's end in event time is also (within one 50 ms frame) the wall time its last sample was sent.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing as mp
import os
import sqlite3
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kinesync.bench.cue_painter import Painter, api_settings, browser_missing, start_api, stop_api, wait_healthy
from kinesync.bench.frames import station_names
from kinesync.bus.base import RebalanceCallback, TopicPartition
from kinesync.bus.kafka import KafkaBus, KafkaConsumer
from kinesync.bus.topics import INPUT_TOPICS, METRICS
from kinesync.gateway.runner import run_sim_gateway
from kinesync.models import RepMetric, WindowMetric
from kinesync.runtime.broker import EmbeddedBroker, embedded_partitions
from kinesync.runtime.process import die_with_parent
from kinesync.settings import Settings
from kinesync.storage.runner import run_writer
from kinesync.storage.sqlite import TABLE, SqliteStore
from kinesync.streaming.engine import AnalyzerEngine, BatchOutput
from kinesync.streaming.runner import analysis_config, run_analyzer

NS = 1_000_000_000
_POLL_S = 0.05  # storage visibility is resolved to this
_GATEWAY_LIMIT = 1.25  # × the session: the gateway's wall-time limit
_QUIET_S = 1.5  # after the gateway ends: no new metric for this long means the analyzer is done


def _quiet_logging() -> None:
    logging.basicConfig(level=logging.WARNING)
    for name in ("kinesync", "aiokafka"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)


class _CountingEngine(AnalyzerEngine):
    """The service's engine, counting partial windows (released by the bounded wait: a sign of lag), and the
    process's CPU time at its first and its last batch of frames (the session's work, without the idle polling
    before the gateway starts and after it ends)."""

    partial = 0
    first_cpu_s: float | None = None
    last_cpu_s = 0.0

    def handle_batch(self, msgs, now_wall_ns: int) -> BatchOutput:  # type: ignore[no-untyped-def]
        if self.first_cpu_s is None:
            self.first_cpu_s = time.process_time()
        out = super().handle_batch(msgs, now_wall_ns)
        self.partial += sum(m.partial for m in out.metrics)
        self.last_cpu_s = time.process_time()
        return out

    def tick(self, now_wall_ns: int) -> list[WindowMetric]:
        out = super().tick(now_wall_ns)
        self.partial += sum(m.partial for m in out)
        return out


class _ReadyBus(KafkaBus):
    """KafkaBus that records how many input partitions its group consumer holds (``assigned[slot]``):
    the gateway waits until the analyzers share every partition."""

    def __init__(self, settings: Settings, assigned: Any, slot: int) -> None:
        super().__init__(settings)
        self._assigned, self._slot = assigned, slot

    def consumer(
        self,
        topics: Sequence[str],
        group: str | None,
        *,
        from_beginning: bool = True,
        on_revoked: RebalanceCallback | None = None,
        on_assigned: RebalanceCallback | None = None,
        fetch_wait_ms: int | None = None,
    ) -> KafkaConsumer:
        if group is None:
            return super().consumer(topics, group, from_beginning=from_beginning, on_revoked=on_revoked,
                                    on_assigned=on_assigned, fetch_wait_ms=fetch_wait_ms)

        def assigned(parts: set[TopicPartition]) -> None:
            if on_assigned is not None:
                on_assigned(parts)
            self._assigned[self._slot] = len(parts)  # a rebalance hands each member its whole new set

        return super().consumer(topics, group, from_beginning=from_beginning, on_revoked=on_revoked,
                                on_assigned=assigned, fetch_wait_ms=fetch_wait_ms)


def _analyzer_child(settings: dict[str, Any], assigned: Any, slot: int, stop_flag: Any, queue: Any) -> None:
    die_with_parent()
    _quiet_logging()
    s = Settings(**settings)

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        engine = _CountingEngine(analysis_config(s))

        async def watch() -> None:
            # A multiprocessing event cannot be awaited: poll it.
            while not stop_flag.is_set():  # noqa: ASYNC110
                await asyncio.sleep(0.05)
            stop.set()

        watcher = asyncio.create_task(watch())
        wall0 = time.perf_counter()
        await run_analyzer(_ReadyBus(s, assigned, slot), s, stop, engine)
        await watcher
        c = engine.counters
        first = engine.first_cpu_s
        return {"frames": c.frames, "windows": c.windows, "reps": c.reps, "partial": engine.partial,
                "stations": len(engine.stations),
                "cpu_s": engine.last_cpu_s - first if first is not None else 0.0,
                "wall_s": time.perf_counter() - wall0}

    try:
        queue.put(("ok", asyncio.run(main())))
    except BaseException as exc:
        queue.put(("error", f"analyzer: {type(exc).__name__}: {exc}"))


def _gateway_child(settings: dict[str, Any], queue: Any) -> None:
    die_with_parent()
    _quiet_logging()
    s = Settings(**settings)
    try:
        at_origin: list[int | float] = []  # the session's origin (facility ns) and the CPU time then

        async def bounded() -> int:
            stop = asyncio.Event()

            def on_start(origin_ns: int) -> None:
                # Timed from the session's origin: presynthesising the session before it is not the gateway's
                # work. A gateway that cannot keep up would run long past the session: stopped at a wall limit
                # (the frames it did not send show in frames_sent against frames_expected).
                at_origin.extend((origin_ns, time.process_time()))
                queue.put(("start", origin_ns))
                limit_s = (origin_ns - time.time_ns()) / NS + _GATEWAY_LIMIT * (s.sim_duration_s or 0) + 2.0
                asyncio.get_running_loop().call_later(max(0.0, limit_s), stop.set)

            return await run_sim_gateway(KafkaBus(s), s, stop, on_start)

        sent = asyncio.run(bounded())
        origin_ns, cpu0 = at_origin
        wall_s = (time.time_ns() - origin_ns) / NS
        queue.put(("ok", {"sent": sent, "cpu_s": time.process_time() - cpu0, "wall_s": wall_s}))
    except BaseException as exc:
        queue.put(("error", f"gateway: {type(exc).__name__}: {exc}"))


class _TimedStore(SqliteStore):
    """SqliteStore that counts the points the writer wrote and the time spent writing them."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.points = 0
        self.busy_s = 0.0
        self.first_ns: int | None = None
        self.last_ns: int | None = None

    async def write(self, metrics: Sequence[WindowMetric | RepMetric]) -> None:
        t = time.perf_counter()
        await super().write(metrics)
        self.busy_s += time.perf_counter() - t
        self.points += len(metrics)
        self.last_ns = time.time_ns()
        self.first_ns = self.first_ns or self.last_ns


@dataclass
class PipelineResult:
    stations: int
    duration_s: float
    warm_s: float  # session time before the measured reps: the warm-up, or every station's first rep if later
    frames_sent: int
    frames_expected: int  # two devices per station, one frame each per 50 ms
    frames_analyzed: int
    windows: int
    partial_windows: int
    reps: int
    analyzers: int  # analyzer processes in the consumer group
    partitions: int  # per topic on the embedded broker (runtime.broker.embedded_partitions)
    analyzer_cpu_s: float  # summed over the analyzer processes, each from its first to its last batch of frames
    # Stations each analyzer process analysed: the station keys' hash decides, and the larger share's
    # burst of reps on one count sets the rep latency's tail.
    stations_per_analyzer: list[int]
    gateway_cpu_s: float
    gateway_late_s: float  # how far the real-time gateway ended behind the wall clock
    rep_latency_ms: list[float] = field(default_factory=list)  # rep end (window end) → on kinesync.metrics
    window_latency_ms: list[float] = field(default_factory=list)  # every window, same definition
    storage_latency_ms: list[float] = field(default_factory=list)  # on kinesync.metrics → visible in SQLite
    # The rep latency split at the analyzer's stamp (emitted_at_ns: the wall time its batch arrived):
    # window end → analyzer has the frames, and analyzer → probe (processing, producer, broker, fetch).
    rep_input_ms: list[float] = field(default_factory=list)
    rep_output_ms: list[float] = field(default_factory=list)
    # Of the output part: batch arrived → the producer stamped the record (processing, queueing in the
    # analyzer); the rest is producer → broker → probe.
    rep_analyzer_ms: list[float] = field(default_factory=list)
    # Rep end → cue painted on a station view in headless Chromium (the views opened: ``cue_views``).
    cue_latency_ms: list[float] = field(default_factory=list)
    # ... of which rep end → the view's WebSocket has the cue (analyzer, reps topic, API, socket)
    cue_received_ms: list[float] = field(default_factory=list)
    # ... the same reps' rep end → metric at the probe in that run: what the API hop and the socket add
    # is the difference
    cue_metric_ms: list[float] = field(default_factory=list)
    # window end → analyzer has it for every rep of the run with views, against ``rep_input_ms`` without
    cue_run_input_ms: list[float] = field(default_factory=list)
    cue_views: int = 0
    cue_note: str | None = None  # why the painter did not run, or what it missed
    stored: int = 0
    writer_points: int = 0
    writer_busy_s: float = 0.0
    writer_span_s: float = 0.0

    @property
    def backlog_frames(self) -> int:
        return self.frames_sent - self.frames_analyzed

    @property
    def kept_up(self) -> bool:
        return (self.backlog_frames == 0 and self.partial_windows == 0 and self.gateway_late_s < 0.5
                and self.frames_sent == self.frames_expected)

    @property
    def analyzer_athletes_per_core(self) -> float:
        """In situ: station-seconds analysed (2 frames of 50 ms per station per tick) per analyzer CPU second."""
        return self.frames_analyzed * 0.05 / 2 / self.analyzer_cpu_s if self.analyzer_cpu_s else 0.0


async def _probe(
    bus: KafkaBus, db: Path, stop: asyncio.Event, received: dict[tuple[str, int], tuple[int, dict[str, Any]]],
    visible: dict[tuple[str, int], int], last_msg: list[float],
) -> None:
    consumer = bus.consumer([METRICS], None, from_beginning=True)
    await consumer.start()

    def poll_db(since: int) -> list[tuple[str, int]]:
        if not db.exists():
            return []
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1.0)
        try:
            return conn.execute(f"SELECT station, window_start_ns FROM {TABLE} WHERE window_start_ns >= ?",
                                (since,)).fetchall()
        except sqlite3.Error:
            return []  # the writer has not created the table yet, or holds a lock: next poll
        finally:
            conn.close()

    # Received and not yet visible; kept as it goes, since a scan of ``received`` each poll grew with the
    # run (a quarter of this process's CPU 40 s into a 64-station run, on the cores being measured).
    pending: set[tuple[str, int]] = set()
    newest = [0]

    async def poll_storage() -> None:
        while not stop.is_set():
            since = min(k[1] for k in pending) if pending else newest[0]
            rows = await asyncio.to_thread(poll_db, since)
            now = time.time_ns()
            for station, start in rows:
                key = (station, start)
                if key not in visible:
                    visible[key] = now
                    pending.discard(key)
                    newest[0] = max(newest[0], start)
            await asyncio.sleep(_POLL_S)

    storage = asyncio.create_task(poll_storage())
    try:
        while not stop.is_set():
            for msg in await consumer.getmany(timeout_ms=50):
                now = time.time_ns()
                doc = json.loads(msg.value)
                doc["_produced_ms"] = msg.timestamp_ms  # the analyzer's producer stamps each record when sent
                key = (doc["station"], doc["window_start_ns"])
                if key not in received:
                    received[key] = (now, doc)
                    if key not in visible:
                        pending.add(key)
                last_msg[0] = time.monotonic()
    finally:
        storage.cancel()
        await asyncio.gather(storage, return_exceptions=True)
        await consumer.stop()


async def _get(queue: Any, proc: Any, what: str, timeout_s: float) -> tuple[str, Any]:
    """The next item from a child's queue, without blocking the event loop."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return await asyncio.to_thread(queue.get, True, 0.2)
        except Exception:  # queue.Empty
            if not proc.is_alive() and queue.empty():
                raise RuntimeError(f"the bench {what} process died (exit code {proc.exitcode})") from None
    raise TimeoutError(f"no word from the bench {what} process within {timeout_s:g} s")


async def run_pipeline(stations: int, duration_s: float, warm_s: float, workdir: Path,
                       drain_s: float = 6.0, views: int = 0, analyzers: int = 1,
                       synth_live: bool = False) -> PipelineResult:
    """One real-time run of ``stations`` simulated athletes for ``duration_s`` through a fresh broker,
    with ``analyzers`` analyzer processes in one consumer group (as deployed: one per core); with
    ``views``, the API service and that many station views in headless Chromium as well. The simulated
    sensors' samples are synthesised before the session (a sensor's samples cost the server nothing),
    or with ``synth_live`` while it runs, as the demo does."""
    await asyncio.to_thread(workdir.mkdir, parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    ctx = mp.get_context("spawn")
    # Partitions as `kinesync run` sets them on the embedded broker, unless the environment says otherwise.
    partitions = {} if "KINESYNC_PARTITIONS" in os.environ else {"partitions": embedded_partitions(analyzers)}
    with EmbeddedBroker(log_path=workdir / "broker.log") as broker:
        settings = Settings(
            **partitions, bootstrap_servers=broker.bootstrap, analyzer_group=f"bench-analyzer-{tag}",
            writer_group=f"bench-writer-{tag}", sqlite_path=str(workdir / f"bench-{tag}.db"),
            sim_stations=stations, sim_realtime=True, sim_duration_s=duration_s,
            sim_bar=False,  # a standard athlete: EMG kit and force plates, no bar sensor
            sim_presynth_s=0.0 if synth_live else duration_s,
        )
        bus = KafkaBus(settings)
        await bus.ensure_topics()
        store = _TimedStore(Path(settings.sqlite_path))
        await store.start()
        stop = asyncio.Event()
        received: dict[tuple[str, int], tuple[int, dict[str, Any]]] = {}
        visible: dict[tuple[str, int], int] = {}
        last_msg = [time.monotonic()]
        writer = asyncio.create_task(run_writer(bus, store, settings, stop))
        probe = asyncio.create_task(_probe(bus, Path(settings.sqlite_path), stop, received, visible, last_msg))
        doc = settings.model_dump()
        assigned, an_stop, gw_q = ctx.Array("i", analyzers), ctx.Event(), ctx.Queue()
        an_qs = [ctx.Queue() for _ in range(analyzers)]
        procs = [ctx.Process(target=_analyzer_child, args=(doc, assigned, i, an_stop, q), daemon=True)
                 for i, q in enumerate(an_qs)]
        for proc in procs:
            proc.start()
        every_partition = len(INPUT_TOPICS) * settings.partitions
        api, painter, painted, cue_note = None, None, {}, None
        try:
            # The gateway starts only once the analyzers share every input partition: no startup backlog
            # and no rebalance during the run.
            t_ready = time.monotonic()
            while not (all(assigned[:]) and sum(assigned[:]) == every_partition):
                if time.monotonic() - t_ready > 60 or not all(p.is_alive() for p in procs):
                    raise RuntimeError(f"the bench analyzers did not share the input partitions within 60 s "
                                       f"(held: {list(assigned[:])} of {every_partition})")
                await asyncio.sleep(0.05)
            if views:
                cue_note = browser_missing()
                if cue_note is None:
                    api_config, api_log = api_settings(settings, str(workdir)), workdir / "api.log"
                    api = await start_api(api_config, api_log)
                    await wait_healthy(api_config.api_port, api, api_log)
                    painter = Painter(api_config.api_port, station_names(stations)[: min(views, stations)])
                    await painter.open()
            gateway = ctx.Process(target=_gateway_child, args=(doc, gw_q), daemon=True)
            gateway.start()
            _, origin_ns = await _get(gw_q, gateway, "gateway", 60)
            status, gw = await _get(gw_q, gateway, "gateway", duration_s * 4 + 60)
            if status == "error":
                raise RuntimeError(gw)
            gateway.join()
            # Drain: the analyzer is done once metrics stop coming (bounded, in case it fell far behind).
            t_end = time.monotonic()
            last_msg[0] = max(last_msg[0], t_end)
            while time.monotonic() - last_msg[0] < _QUIET_S and time.monotonic() - t_end < drain_s:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
            if painter is not None:
                await asyncio.sleep(1.0)  # the last cues of the run reach the views
                painted = await painter.painted()
            an_stop.set()
            results = [await _get(q, proc, "analyzer", 60) for q, proc in zip(an_qs, procs, strict=True)]
            errors = [r for status, r in results if status == "error"]
            if errors:
                raise RuntimeError("; ".join(errors))
            an = {k: sum(r[k] for _, r in results) for k in ("frames", "windows", "reps", "partial", "cpu_s")}
            for proc in procs:
                proc.join()
            # Let the writer store what it has read (its batch interval) before stopping it.
            t_flush = time.monotonic()
            flush_s = settings.batch_interval_s + 3.0
            while len(visible) < len(received) and time.monotonic() - t_flush < flush_s:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        finally:
            if painter is not None:
                await painter.close()
            if api is not None:
                await stop_api(api)
            an_stop.set()
            stop.set()
            await asyncio.gather(writer, probe, return_exceptions=True)
            await store.close()
            for proc in procs:
                proc.join(5)
    # Measured once every station has done its first rep: a freshly opened station view's first cue took
    # the two cores for about half a second (16 views at once; the frames then reached the analyzer up to
    # 138 ms late, p50 79 ms, against under 30 ms without views), a start-up cost of the views hosted here.
    measured_from_s = max(warm_s, max(settings.sim_rep_periods_s))
    start_ns = origin_ns + round(measured_from_s * NS)
    rep_lat, win_lat, sto_lat, rep_in, rep_out, rep_proc = [], [], [], [], [], []
    for key, (recv_ns, m) in received.items():
        if m["window_end_ns"] >= start_ns:
            lat = (recv_ns - m["window_end_ns"]) / 1e6
            win_lat.append(lat)
            if m.get("rep_peak_ns") is not None:
                rep_lat.append(lat)
                rep_in.append((m["emitted_at_ns"] - m["window_end_ns"]) / 1e6)
                rep_out.append((recv_ns - m["emitted_at_ns"]) / 1e6)
                rep_proc.append(m["_produced_ms"] - m["emitted_at_ns"] / 1e6)
        if key in visible:
            sto_lat.append((visible[key] - recv_ns) / 1e6)
    cue_lat, cue_in, cue_metric = [], [], []
    if painter is not None:
        shown_for = set(painter.stations)
        reps_seen = [(recv_ns, m) for recv_ns, m in received.values() if m.get("rep_peak_ns") is not None
                     and m["station"] in shown_for and m["window_end_ns"] >= start_ns]
        for recv_ns, m in reps_seen:
            times = painted.get(f"{m['station']}|{m['rep_peak_ns']}")
            if times is not None:
                cue_in.append(times[0] - m["window_end_ns"] / 1e6)
                cue_lat.append(times[1] - m["window_end_ns"] / 1e6)
                cue_metric.append((recv_ns - m["window_end_ns"]) / 1e6)
        if len(cue_lat) < len(reps_seen):
            cue_note = f"{len(reps_seen) - len(cue_lat)} of {len(reps_seen)} reps on the views never painted"
    span = ((store.last_ns or 0) - (store.first_ns or 0)) / NS
    return PipelineResult(
        stations=stations, duration_s=duration_s, warm_s=measured_from_s, frames_sent=gw["sent"],
        frames_expected=2 * stations * round(duration_s / 0.05),
        frames_analyzed=an["frames"], windows=an["windows"], partial_windows=an["partial"], reps=an["reps"],
        analyzers=analyzers, partitions=settings.partitions, analyzer_cpu_s=an["cpu_s"], gateway_cpu_s=gw["cpu_s"],
        stations_per_analyzer=[r["stations"] for _, r in results],
        gateway_late_s=max(0.0, gw["wall_s"] - duration_s), rep_latency_ms=rep_lat, window_latency_ms=win_lat,
        storage_latency_ms=sto_lat, rep_input_ms=rep_in, rep_output_ms=rep_out, rep_analyzer_ms=rep_proc,
        stored=len(visible), cue_latency_ms=cue_lat, cue_received_ms=cue_in, cue_metric_ms=cue_metric,
        cue_run_input_ms=rep_in if painter is not None else [],
        cue_views=len(painter.stations) if painter else 0, cue_note=cue_note,
        writer_points=store.points, writer_busy_s=store.busy_s,
        writer_span_s=span,
    )
