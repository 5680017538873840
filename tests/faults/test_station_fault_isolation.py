"""One station whose analysis raises never stops the others, nor the analyzer.

Four simulated stations stream through the embedded broker into a real analyzer process and a
writer into SQLite. Station-04 is hostile twice over: nobody stands on its plates (they read
0 N plus noise, which once made the body-weight search return 0 N and the jump analysis raise) and
the analyzer runs a fault drill on it (``KINESYNC_FAULT_DRILL_STATIONS``), so every one of its
windows raises inside the analysis. The other three stations must be stored in full, with no gap and
the same numbers as the offline analysis; station-04's windows come out flagged ``analysis_error``;
the dead-letter topic names the station, the window and the exception; the analyzer never exits.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from aiokafka import AIOKafkaConsumer

from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import DEADLETTER
from kinesync.codec.frame import SensorKind
from kinesync.models import DeadLetter
from kinesync.settings import Settings
from tests.faults.pipeline_procs import (
    NS,
    Service,
    SimFloor,
    Truth,
    compare,
    ground_truth_async,
    service_env,
    sqlite_stored,
    start_publisher,
    wait_until,
)

pytestmark = pytest.mark.integration

STATIONS = 4
FAULTY = "station-04"
SESSION_S = 30.0
SPEED = 2.0
HOP_NS = NS // 4


def _nobody_on_the_faulty_plates():
    """Station-04's force frames as an empty plate reads them: 0 N plus noise."""
    rng = np.random.default_rng(4)

    def rewrite(f):
        if f.station == FAULTY and f.kind == SensorKind.FORCE:
            return dataclasses.replace(f, samples=rng.normal(0.0, 1.0, f.samples.shape).astype(np.float32))
        return f

    return rewrite


async def _dead_letters(settings: Settings) -> list[DeadLetter]:
    consumer = AIOKafkaConsumer(DEADLETTER, bootstrap_servers=settings.bootstrap_servers, group_id=None,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        out: list[DeadLetter] = []
        while True:
            batch = await consumer.getmany(timeout_ms=1500)
            if not batch:
                return out
            out.extend(DeadLetter.model_validate_json(m.value) for msgs in batch.values() for m in msgs)
    finally:
        await consumer.stop()


async def test_a_station_whose_analysis_raises_leaves_the_others_whole(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    settings = kafka_settings.model_copy(update={"batch_interval_s": 0.2, "max_wait_s": 30.0})
    floor = SimFloor.of(settings, STATIONS, SESSION_S, SPEED)
    floor.rewrite = _nobody_on_the_faulty_plates()
    full = await ground_truth_async(settings, floor)
    truth = Truth({k: w for k, w in full.windows.items() if k[0] != FAULTY},
                  {k: r for k, r in full.reps.items() if k[0] != FAULTY})
    assert len(truth.stations()) == STATIONS - 1 and len(truth.reps) > 3 * 5

    bus = KafkaBus(settings)
    await bus.ensure_topics()
    analyzer = Service("analyzer", service_env(settings, {"KINESYNC_FAULT_DRILL_STATIONS": FAULTY}),
                       tmp_path / "analyzer.log").start()
    writer = Service("writer", service_env(settings), tmp_path / "writer.log").start()
    stop = asyncio.Event()
    publisher, sender = start_publisher(bus, stop)
    feed = asyncio.create_task(floor.run(publisher, stop))
    try:
        await asyncio.wait_for(feed, SESSION_S / SPEED + 60)
        expected = set(truth.windows)

        def healthy_stored() -> bool:
            return expected <= {k for k, _ in sqlite_stored(settings.sqlite_path).windows}

        await wait_until(healthy_stored, 90, "every window of the three healthy stations", poll_s=0.5)
        await wait_until(lambda: set(truth.reps) <= {k for k, _ in sqlite_stored(settings.sqlite_path).reps}, 30,
                         "every rep of the three healthy stations")
        analyzer_alive = analyzer.alive
    finally:
        stop.set()
        await asyncio.gather(feed, sender, return_exceptions=True)
        codes = {s.name: s.stop() for s in (analyzer, writer)}
    stored = sqlite_stored(settings.sqlite_path)
    reports = compare(truth, stored)
    faulty = sorted((k[1], rec) for k, rec in stored.windows if k[0] == FAULTY)
    letters = [d for d in await _dead_letters(settings) if d.station == FAULTY]

    print(f"\nfault isolation: {len(truth.windows)} healthy windows and {len(truth.reps)} reps expected")
    for r in reports:
        print(f"  {r.line()}")
    print(f"  {FAULTY}: {len(faulty)} windows stored, {sum('analysis_error' in rec['flags'] for _, rec in faulty)} "
          f"flagged analysis_error; {len(letters)} dead letters, e.g. {letters[0].reason if letters else None!r}")

    assert analyzer_alive and analyzer.starts == 1, analyzer.log_tail()
    assert codes == {"analyzer": 0, "writer": 0}, codes
    assert "Traceback" not in analyzer.log_text(), analyzer.log_tail()
    for r in reports:
        assert r.missing == 0 and r.duplicates == 0 and r.unexpected == 0, r.line() + f" {r.missing_keys[:5]}"
        assert r.mismatched == 0, r.line() + "\n" + "\n".join(r.mismatches)
        assert r.reps_missing == 0 and r.reps_duplicates == 0, r.line()
    for station in truth.stations():  # no gap from the first stored window to the last
        starts = sorted(k[1] for k, _ in stored.windows if k[0] == station)
        assert starts and all(b - a == HOP_NS for a, b in itertools.pairwise(starts)), station
    # The faulty station goes on too: a contiguous run of windows, every one flagged, none with numbers.
    assert len(faulty) > 20
    assert all(b[0] - a[0] == HOP_NS for a, b in itertools.pairwise(faulty))
    assert all(rec["flags"] == ["analysis_error"] and rec.get("lag_ms") is None for _, rec in faulty)
    by_window = {d.window_start_ns for d in letters}
    assert {t for t, _ in faulty} <= by_window, "a flagged window without its dead letter"
    d = letters[0]
    assert d.source_topic == "analysis" and d.error_type == "RuntimeError" and "fault drill" in d.reason
    assert json.loads(d.model_dump_json())["station"] == FAULTY
