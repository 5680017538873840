"""Every panel query of every committed dashboard, run against a real InfluxDB 1.x after a pipeline run.

No Grafana server can run here, so this does what Grafana would: substitute the template variables
and the time range into each raw InfluxQL target, send it to InfluxDB, and check that every panel
gets non-empty series with plausible values. Also: replaying the same metrics leaves the same points.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Iterator

import pytest

from kinesync.bus.kafka import KafkaBus
from kinesync.dashboards.build import DEFAULT_DIR
from kinesync.dashboards.influxql import interpolate
from kinesync.gateway.runner import run_sim_gateway
from kinesync.settings import Settings
from kinesync.storage.influx_v1 import InfluxV1Store
from kinesync.storage.runner import run_writer
from kinesync.streaming.runner import run_analyzer
from tests.fixtures.influx import InfluxServer

pytestmark = pytest.mark.integration

SESSION_S = 24.0
TRUE_LAGS_MS = [60.0, 90.0, 110.0, 150.0]
# station-01's true lag (60 ms) is out of the target band, so its alert rule fires within the session.
VARIABLES = {"team": ["first-team"], "exercise": ["back_squat"], "athlete": ["Athlete 01"], "station": ["station-01"]}

# Fields and measurements a panel queries before any service writes them. ONLY these may come back
# empty; each entry names who adds it. Remove an entry as soon as its data exists.
PENDING_FIELDS: dict[str, str] = {
    # Written by the API only while station views are open and acknowledge cues; this pipeline run has
    # no API and no browser (tests/integration/test_station_cues_browser.py covers the figures).
    "cue_latency_ms_p50": "the API, from station views' acknowledgements",
    "cue_latency_ms_p99": "the API, from station views' acknowledgements",
    "cue_push_latency_ms_p99": "the API, from station views' acknowledgements",
}
PENDING_MEASUREMENTS: dict[str, str] = {}

# Plausible ranges per selected column (the alias InfluxDB returns); strings and booleans by value.
PLAUSIBLE: dict[str, tuple[float, float]] = {
    "Lag": (-100.0, 400.0), "lag": (-100.0, 400.0),
    "Alignment": (0.0, 1.0), "alignment": (0.0, 1.0), "coupling": (0.0, 1.0),
    "Transfer": (0.0, 1.0), "transfer": (0.0, 1.0),
    "target low": (80.0, 80.0), "target high": (120.0, 120.0),
    # negative when the onset is an unweighting dip (countermovement) rather than the drive
    "RFD 0-100 ms": (-50_000.0, 100_000.0), "peak propulsive force": (500.0, 5000.0),
    "windows": (1.0, 1e6), "windows/s": (0.01, 1e5), "dead letters": (0.0, 1e6), "analysis errors": (0.0, 1e6),
    # sim_realtime=False runs ahead of the wall clock, so window end → stored can be negative here
    "e2e max": (-120_000.0, 120_000.0),
    "window end → stored, mean": (-120_000.0, 120_000.0), "window end → stored, max": (-120_000.0, 120_000.0),
    "emitted → stored, mean": (0.0, 60_000.0), "consumer lag": (0.0, 60_000.0),
    "envelope": (0.0, 20_000.0),  # µV: a surface-EMG linear envelope stays well below 20 mV
    "mean concentric velocity": (0.1, 3.0),  # m/s: a loaded bar's mean concentric velocity
}
ALLOWED_STRINGS: dict[str, set[str]] = {"Alert": {"firing", "resolved"}, "state": {"firing", "resolved"}}


def _dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(DEFAULT_DIR.glob("*.json"))}


def _panels(board: dict) -> Iterator[dict]:
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


async def _wait_for(predicate, timeout_s: float, interval_s: float = 0.3) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval_s)
    return False


async def _count(store: InfluxV1Store, measurement: str = "window_metrics") -> int:
    body = await store.query(f'SELECT count("window_end_ns") FROM "{measurement}"')
    series = body["results"][0].get("series", [])
    return int(series[0]["values"][0][1]) if series else 0


async def _run_pipeline(settings: Settings, store: InfluxV1Store, expected: int) -> None:
    bus = KafkaBus(settings)
    await bus.ensure_topics()
    stop = asyncio.Event()
    analyzer = asyncio.create_task(run_analyzer(bus, settings, stop))
    writer = asyncio.create_task(run_writer(bus, store, settings, stop))
    try:
        assert await run_sim_gateway(bus, settings, stop) > 0

        async def all_stored() -> bool:
            return await _count(store) >= expected

        assert await _wait_for(all_stored, 90.0), "not every window reached InfluxDB"
        # The analyzer may close a few windows more than ``expected`` at the end: wait until the store
        # stops growing, so the replay below finds every window stored once already.
        last = [await _count(store)]

        async def settled() -> bool:
            await asyncio.sleep(2 * settings.batch_interval_s + 0.5)
            now = await _count(store)
            same, last[0] = now == last[0], now
            return same

        assert await _wait_for(settled, 30.0, interval_s=0.0), "the store kept growing"
    finally:
        stop.set()
        await asyncio.gather(analyzer, writer)


async def _replay(settings: Settings, store: InfluxV1Store) -> None:
    """A second writer group reads kinesync.metrics from the beginning and writes everything again."""
    replay = settings.model_copy(update={"writer_group": f"replay-{uuid.uuid4().hex[:8]}"})
    bus = KafkaBus(replay)
    stop = asyncio.Event()
    writer = asyncio.create_task(run_writer(bus, store, replay, stop))

    async def replayed() -> bool:
        # Done when the writers' acknowledged points add up to every stored window written twice.
        body = await store.query('SELECT sum("points") FROM "pipeline"')
        series = body["results"][0].get("series")
        return bool(series) and series[0]["values"][0][1] >= 2 * await _count(store)

    try:
        assert await _wait_for(replayed, 60.0), "the replaying writer did not write everything again"
    finally:
        stop.set()
        await writer


@pytest.fixture
def pipeline_settings(kafka_settings: Settings, influxdb: InfluxServer) -> Settings:
    return kafka_settings.model_copy(update={
        "sim_stations": 4, "sim_lags_ms": TRUE_LAGS_MS, "sim_realtime": False, "sim_duration_s": SESSION_S,
        "batch_interval_s": 0.2, "influx_url": influxdb.url, "influx_database": influxdb.new_database("dash"),
    })


async def test_every_panel_query_returns_plausible_series_and_replay_adds_nothing(
    pipeline_settings: Settings,
) -> None:
    settings = pipeline_settings
    store = InfluxV1Store(settings.influx_url or "", settings.influx_database)
    await store.start()
    started_ms = time.time_ns() // 1_000_000
    expected = 4 * (int((SESSION_S - settings.window_s) / settings.hop_s) - 1)
    try:
        await _run_pipeline(settings, store, expected)
        stored = await _count(store)

        # Replaying the same metrics leaves the same number of points.
        await _replay(settings, store)
        assert await _count(store) == stored

        window = {"start_ms": started_ms - 60_000, "end_ms": time.time_ns() // 1_000_000 + 120_000,
                  "interval_ms": 1000}
        checked, pending = await _check_all_panels(store, window)
    finally:
        await store.close()
    print(f"\n{stored} windows; {checked} panel queries checked; pending (allow-listed): {pending or 'none'}")


async def _check_all_panels(store: InfluxV1Store, window: dict) -> tuple[int, list[str]]:
    checked = 0
    pending: list[str] = []
    for name, board in _dashboards().items():
        for var in board["templating"].get("list", []):
            query = interpolate(var["query"], VARIABLES, **window)
            values = [v[1] for s in (await store.query(query))["results"][0].get("series", []) for v in s["values"]]
            assert values, f"{name}: variable ${var['name']} lists nothing: {query}"
            expected = VARIABLES[var["name"]][0]
            assert expected in values, f"{name}: ${var['name']} = {values}"
        for panel in _panels(board):
            targets = panel.get("targets", [])
            assert targets or panel["type"] == "row", f"{name}: panel {panel['title']!r} has no query"
            for t in targets:
                query = interpolate(t["query"], VARIABLES, **window)
                label = f"{name} / {panel['title']} / {t['refId']}"
                series = (await store.query(query, epoch="ms"))["results"][0].get("series", [])
                checked += 1
                if not series:
                    reason = _pending_reason(query)
                    assert reason, f"{label}: no data for\n  {query}"
                    pending.append(f"{label}: {reason}")
                    continue
                _assert_plausible(label, series)
    return checked, pending


def _pending_reason(query: str) -> str | None:
    for measurement, reason in PENDING_MEASUREMENTS.items():
        if f'FROM "{measurement}"' in query:
            return reason
    for field, reason in PENDING_FIELDS.items():
        if f'"{field}"' in query:
            return reason
    return None


def _assert_plausible(label: str, series: list[dict]) -> None:
    seen = 0
    for s in series:
        for column_index, column in enumerate(s["columns"][1:], start=1):
            for row in s["values"]:
                value = row[column_index]
                if value is None:
                    continue
                seen += 1
                if column in ALLOWED_STRINGS:
                    assert value in ALLOWED_STRINGS[column], f"{label}: {column} = {value!r}"
                elif isinstance(value, bool):
                    continue
                elif isinstance(value, str):
                    assert value.strip(), f"{label}: empty {column}"
                else:
                    low, high = PLAUSIBLE[column]
                    assert math.isfinite(value) and low <= value <= high, f"{label}: {column} = {value}"
    assert seen, f"{label}: series without a single value"
