"""kill -9 of the analyzer mid-stream, then a restart: every window reaches storage, none twice.

After the kill the restarted analyzer replays from its last safe commit and emits some windows to
``kinesync.metrics`` a second time (at-least-once). What must hold is downstream: storage holds
each window exactly once, with no window missing from first to last for any station.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import METRICS, REPS
from kinesync.gateway.runner import run_sim_gateway
from kinesync.models import WindowMetric
from kinesync.settings import Settings
from kinesync.sources.sim import sim_stations
from kinesync.storage.runner import run_writer
from kinesync.storage.sqlite import TABLE, SqliteStore
from tests.faults.pipeline_procs import committed_offsets

pytestmark = pytest.mark.integration
NS = 1_000_000_000
HOP_NS = NS // 4
WindowKey = tuple[str, int]


def start_analyzer(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KINESYNC_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "KINESYNC_PARTITIONS": str(settings.partitions), "KINESYNC_ANALYZER_GROUP": settings.analyzer_group,
           "KINESYNC_MAX_WAIT_S": "30"}
    return subprocess.Popen([sys.executable, "-m", "kinesync_services.analyzer"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def stored_windows(path: str) -> tuple[int, int, dict[str, list[int]]]:
    """Rows, distinct (station, window start) keys, and each station's window starts as stored.

    Counted in SQL over the physical rows, so a table whose key did not make windows unique would
    show more rows than keys.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        rows, keys = conn.execute(
            f"SELECT (SELECT COUNT(*) FROM {TABLE}),"
            f" (SELECT COUNT(*) FROM (SELECT DISTINCT station, window_start_ns FROM {TABLE}))"
        ).fetchone()
        starts: dict[str, list[int]] = {}
        for station, start in conn.execute(f"SELECT station, window_start_ns FROM {TABLE} ORDER BY 1, 2"):
            starts.setdefault(station, []).append(start)
    finally:
        conn.close()
    return rows, keys, starts


def span_count(starts: list[int]) -> int:
    """Windows a gap-free run from the first to the last start holds."""
    return (starts[-1] - starts[0]) // HOP_NS + 1


async def log_ends(settings: Settings, topics: tuple[str, ...]) -> dict[tuple[str, int], int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.bootstrap_servers, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(t, p) for t in topics for p in range(settings.partitions)]
        return {(tp.topic, tp.partition): n for tp, n in (await consumer.end_offsets(parts)).items()}
    finally:
        await consumer.stop()


async def emitted_windows(settings: Settings, timeout_s: float = 30.0) -> Counter[WindowKey]:
    """Every window record on the metrics topic, counted per key, read by a consumer group of its own."""
    ends = {part: n for (_, part), n in (await log_ends(settings, (METRICS,))).items() if n > 0}
    consumer = AIOKafkaConsumer(METRICS, bootstrap_servers=settings.bootstrap_servers,
                                group_id=f"audit-{uuid.uuid4().hex[:8]}", enable_auto_commit=False,
                                auto_offset_reset="earliest")
    await consumer.start()
    counts: Counter[WindowKey] = Counter()
    try:
        deadline = time.monotonic() + timeout_s
        while ends:
            assert time.monotonic() < deadline, f"metrics partitions not read to their end: {ends}"
            for tp, records in (await consumer.getmany(timeout_ms=500)).items():
                for r in records:
                    m = WindowMetric.model_validate_json(r.value)
                    counts[(m.station, m.window_start_ns)] += 1
                if records and records[-1].offset + 1 >= ends.get(tp.partition, 0):
                    ends.pop(tp.partition, None)
    finally:
        await consumer.stop()
    return counts


async def test_kill_9_analyzer_then_restart_loses_and_duplicates_nothing(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    session_s = 60.0
    settings = kafka_settings.model_copy(update={
        "sim_stations": 3, "sim_realtime": True, "sim_duration_s": session_s, "batch_interval_s": 0.2,
        "max_wait_s": 30.0,
    })
    stations = {st.station for st in sim_stations(settings.sim_stations, settings.sim_lags_ms, settings.sim_seed)}
    # The windows cover the session up to its last window length (2 s) and a hop, with some slack.
    min_span_ns = round((session_s - 4) * NS)
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    store = SqliteStore(settings.sqlite_path)
    await store.start()
    stop = asyncio.Event()
    log = tmp_path / "analyzer.log"
    analyzer = start_analyzer(settings, log)
    writer = asyncio.create_task(run_writer(bus, store, settings, stop))
    # Real time: the analyzer is killed while frames keep arriving, as on a live floor.
    gateway_settings = settings.model_copy(update={"sim_duration_s": session_s})
    gateway = asyncio.create_task(run_sim_gateway(bus, gateway_settings, stop))
    drained = False
    try:
        await asyncio.sleep(20.0)
        before = await store.count()
        analyzer.send_signal(signal.SIGKILL)
        analyzer.wait()
        await asyncio.sleep(3.0)  # frames pile up in Kafka meanwhile
        analyzer = start_analyzer(settings, log)
        await gateway
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            _, _, starts = stored_windows(settings.sqlite_path)
            if set(starts) == stations and all(
                v[-1] - v[0] >= min_span_ns and len(v) == span_count(v) for v in starts.values()
            ):
                break
            await asyncio.sleep(0.5)
        # The analyzer stops first, then the writer stores everything on the topics: every window
        # emitted is then in storage, and storage can be compared with the topic record for record.
        analyzer.send_signal(signal.SIGTERM)
        analyzer.wait(20)
        ends = await log_ends(settings, (METRICS, REPS))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not drained:
            done = await committed_offsets(settings, settings.writer_group, (METRICS, REPS))
            drained = all(done.get(tp, 0) >= n for tp, n in ends.items())
            await asyncio.sleep(0.25)
    finally:
        stop.set()
        if analyzer.poll() is None:
            analyzer.send_signal(signal.SIGTERM)
            try:
                analyzer.wait(20)
            except subprocess.TimeoutExpired:
                analyzer.kill()
        await asyncio.gather(writer, gateway, return_exceptions=True)
    emitted = await emitted_windows(settings)
    rows, keys, starts = stored_windows(settings.sqlite_path)
    reps = await store.query_reps()
    await store.close()
    assert before > 0, "nothing was stored before the kill"
    assert drained, "the writer did not store everything on the metrics topics"
    assert set(starts) == stations, f"stations stored {sorted(starts)}, expected {sorted(stations)}"
    report = []
    for station in sorted(stations):
        st_starts = starts[station]
        steps = Counter(b - a for a, b in itertools.pairwise(st_starts))
        on_topic = {k: n for k, n in emitted.items() if k[0] == station}
        peaks = sorted(r.rep_peak_ns for r in reps if r.station == station)
        near_duplicates = sum(1 for a, b in itertools.pairwise(peaks) if b - a < NS // 2)
        report.append(f"{station}: windows stored {len(st_starts)} over {span_count(st_starts)} hops, "
                      f"on the topic {sum(on_topic.values())} records of {len(on_topic)} windows "
                      f"({sum(n - 1 for n in on_topic.values())} re-emitted); reps {len(peaks)}, "
                      f"duplicate reps {near_duplicates}")
        # Consecutive windows one hop apart from the first to the last: no gap, no window twice.
        assert steps == Counter({HOP_NS: len(st_starts) - 1}), report[-1] + f" steps {dict(steps)}"
        assert st_starts[-1] - st_starts[0] >= min_span_ns, report[-1] + " (the windows stop early)"
        # Storage holds exactly what was emitted, however often it was emitted.
        assert set(on_topic) == {(station, s) for s in st_starts}, report[-1]
        assert near_duplicates == 0, report[-1]
        assert len(peaks) >= (session_s - 10) / 3
        # The replay after the restart rebuilt the bar buffers too: no rep lost its bar velocity.
        no_bar = [r.flags for r in reps if r.station == station and r.mean_concentric_velocity_m_s is None]
        assert not no_bar, f"{station}: reps without bar velocity {no_bar[:3]}"
    expected = sum(span_count(v) for v in starts.values())
    assert rows == keys == expected, f"rows {rows}, distinct windows {keys}, expected from the spans {expected}"
    print("\n" + "\n".join(report) + f"\nwindows re-emitted to the topic after the kill: "
          f"{sum(n - 1 for n in emitted.values())}, stored twice: {rows - keys}")
