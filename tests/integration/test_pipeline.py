"""The whole pipeline through the real embedded broker: gateway → analyzer → writer → SQLite."""

from __future__ import annotations

import asyncio
import logging
import statistics
import time

import pytest

from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import DEADLETTER, EMG, METRICS
from kinesync.gateway.runner import run_sim_gateway
from kinesync.models import DeadLetter, WindowMetric
from kinesync.settings import Settings
from kinesync.storage.runner import run_writer
from kinesync.storage.sqlite import SqliteStore
from kinesync.streaming.runner import run_analyzer

pytestmark = pytest.mark.integration

TRUE_LAGS_MS = [60.0, 90.0, 110.0, 150.0]
FLOOD = 48  # garbage frames in a row from one source


async def _wait_for(predicate, timeout_s: float, interval_s: float = 0.25) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval_s)
    return False


async def test_four_stations_median_lag_within_3ms_of_truth(kafka_settings: Settings) -> None:
    session_s = 90.0  # 30 reps per station at the simulator's 3 s rep period
    settings = kafka_settings.model_copy(
        update={
            "sim_stations": 4,
            "sim_lags_ms": TRUE_LAGS_MS,
            "sim_realtime": False,
            "sim_duration_s": session_s,
            "batch_interval_s": 0.2,
            # Accuracy, not latency, is under test: a loaded machine must not turn windows partial.
            "max_wait_s": 15.0,
        }
    )
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    store = SqliteStore(settings.sqlite_path)
    await store.start()
    stop = asyncio.Event()
    analyzer = asyncio.create_task(run_analyzer(bus, settings, stop))
    writer = asyncio.create_task(run_writer(bus, store, settings, stop))
    sent = await run_sim_gateway(bus, settings, stop)
    assert sent > 0
    # Windows lie on a 250 ms grid; the last one that fits the session closes at its end.
    expected_per_station = int((session_s - settings.window_s) / settings.hop_s) - 1

    async def all_stored() -> bool:
        rows = await store.query()
        counts = {}
        for m in rows:
            counts[m.station] = counts.get(m.station, 0) + 1
        return len(counts) == 4 and min(counts.values()) >= expected_per_station

    try:
        assert await _wait_for(all_stored, 90.0), "not every window reached storage"
    finally:
        stop.set()
        await asyncio.gather(analyzer, writer)
    rows = await store.query()
    await store.close()
    by_station: dict[str, list[WindowMetric]] = {}
    for m in rows:
        by_station.setdefault(m.station, []).append(m)
    report = []
    for i, truth in enumerate(TRUE_LAGS_MS):
        station = f"station-{i + 1:02d}"
        metrics = by_station[station]
        starts = [m.window_start_ns for m in metrics]
        assert len(starts) == len(set(starts)), "a window was stored twice"
        lags = [m.lag_ms for m in metrics if m.lag_ms is not None]
        assert len(lags) >= 25, f"{station}: only {len(lags)} reps measured in {session_s} s"
        median = statistics.median(lags)
        report.append(f"{station} truth {truth:.0f} ms: median {median:.2f} ms over {len(lags)} reps")
        assert abs(median - truth) <= 3.0, report[-1]
        expected_in = 80.0 <= truth <= 120.0
        in_flags = [m.in_window for m in metrics if m.lag_ms is not None]
        assert statistics.mode(in_flags) is expected_in, report[-1]
        assert metrics[0].athlete == f"Athlete {i + 1:02d}"
        forces = [m for m in metrics if m.rfd_0_100_n_per_s is not None]
        assert forces, f"{station}: no force onset found"
        assert all(m.body_weight_n and 700 < m.body_weight_n < 900 for m in forces)
    print("\n" + "\n".join(report))


async def test_malformed_frame_goes_to_deadletter_and_analyzer_keeps_running(
    kafka_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings = kafka_settings.model_copy(
        update={
            "sim_stations": 1,
            "sim_realtime": False,
            "sim_duration_s": 6.0,
        }
    )
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    stop = asyncio.Event()
    analyzer = asyncio.create_task(run_analyzer(bus, settings, stop))
    producer = bus.producer()
    await producer.start()
    await producer.send(EMG, b"KS\x01garbage", b"station-01")
    await producer.send(EMG, b"not a frame at all, just some bytes long enough for a header", b"station-01")
    # a broken gateway's second: every frame garbage
    await producer.send_many([(EMG, b"station-01", b"KS\x01garbage %d" % i) for i in range(FLOOD)])
    await producer.flush()
    await producer.stop()
    await run_sim_gateway(bus, settings, stop)

    dead = bus.consumer([DEADLETTER], None)
    metrics = bus.consumer([METRICS], None)
    await dead.start()
    await metrics.start()
    letters: list[DeadLetter] = []
    windows: list[WindowMetric] = []

    async def seen() -> bool:
        letters.extend(DeadLetter.model_validate_json(m.value) for m in await dead.getmany(timeout_ms=100))
        windows.extend(WindowMetric.model_validate_json(m.value) for m in await metrics.getmany(timeout_ms=100))
        return len(letters) >= 2 + FLOOD and len(windows) >= 10

    try:
        with caplog.at_level(logging.WARNING, logger="kinesync.analyzer"):
            assert await _wait_for(seen, 60.0)
    finally:
        stop.set()
        await asyncio.gather(analyzer)
        await dead.stop()
        await metrics.stop()
    reasons = sorted(dl.reason for dl in letters)
    assert any("truncated header" in r for r in reasons), reasons
    assert any("wrong magic" in r for r in reasons), reasons
    assert all(dl.source_topic == EMG and dl.key == "station-01" for dl in letters)
    assert len({dl.offset for dl in letters}) == len(letters) == 2 + FLOOD  # each once, none lost
    # the log names the source and its reason once, not a line per frame
    told = [r.getMessage() for r in caplog.records if r.getMessage().startswith("dead letter from")]
    assert len(told) == 1 and "station-01" in told[0], told
    assert not analyzer.exception()
