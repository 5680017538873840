"""kill -9 of the analyzer mid-stream, then a restart: every window reaches storage, none twice."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kinesync.bus.kafka import KafkaBus
from kinesync.settings import Settings
from kinesync.storage.sqlite import SqliteStore
from kinesync_services.gateway.main import run_sim_gateway
from kinesync_services.writer.main import run_writer

pytestmark = pytest.mark.integration
NS = 1_000_000_000


def start_analyzer(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KINESYNC_BOOTSTRAP_SERVERS": settings.bootstrap_servers,
           "KINESYNC_PARTITIONS": str(settings.partitions), "KINESYNC_ANALYZER_GROUP": settings.analyzer_group,
           "KINESYNC_MAX_WAIT_S": "30"}
    return subprocess.Popen([sys.executable, "-m", "kinesync_services.analyzer"], env=env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


async def test_kill_9_analyzer_then_restart_loses_and_duplicates_nothing(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    session_s = 60.0
    settings = kafka_settings.model_copy(update={
        "sim_stations": 3, "sim_realtime": True, "sim_duration_s": session_s, "batch_interval_s": 0.2,
        "max_wait_s": 30.0,
    })
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
    try:
        await asyncio.sleep(20.0)
        before = await store.count()
        analyzer.send_signal(signal.SIGKILL)
        analyzer.wait()
        await asyncio.sleep(3.0)  # frames pile up in Kafka meanwhile
        analyzer = start_analyzer(settings, log)
        await gateway
        deadline = time.monotonic() + 60
        expected = None
        while time.monotonic() < deadline:
            rows = await store.query()
            by_station: dict[str, list[int]] = {}
            for m in rows:
                by_station.setdefault(m.station, []).append(m.window_start_ns)
            if len(by_station) == 3:
                first = min(min(v) for v in by_station.values())
                last = max(max(v) for v in by_station.values())
                expected = (last - first) // (NS // 4) + 1
                if all(len(v) >= expected - 1 for v in by_station.values()) and last - first > (session_s - 8) * NS:
                    break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # let the last writes land
    finally:
        stop.set()
        analyzer.send_signal(signal.SIGTERM)
        try:
            analyzer.wait(20)
        except subprocess.TimeoutExpired:
            analyzer.kill()
        await asyncio.gather(writer, gateway, return_exceptions=True)
    rows = await store.query()
    reps = await store.query_reps()
    await store.close()
    assert before > 0, "nothing was stored before the kill"
    report = []
    for station in sorted({m.station for m in rows}):
        starts = sorted(m.window_start_ns for m in rows if m.station == station)
        grid = range(starts[0], starts[-1] + 1, NS // 4)
        missing = sorted(set(grid) - set(starts))
        peaks = sorted(r.rep_peak_ns for r in reps if r.station == station)
        near_duplicates = sum(1 for a, b in itertools.pairwise(peaks) if b - a < NS // 2)
        report.append(f"{station}: windows expected {len(grid)}, stored {len(starts)}, duplicates "
                      f"{len(starts) - len(set(starts))}, missing {len(missing)}; reps {len(peaks)}, "
                      f"duplicate reps {near_duplicates}")
        assert not missing, report[-1] + f" {missing[:5]}"
        assert near_duplicates == 0, report[-1]
        assert len(peaks) >= (session_s - 10) / 3
        # The replay after the restart rebuilt the bar buffers too: no rep lost its bar velocity.
        no_bar = [r.flags for r in reps if r.station == station and r.mean_velocity_m_s is None]
        assert not no_bar, f"{station}: reps without bar velocity {no_bar[:3]}"
    print("\n" + "\n".join(report))
