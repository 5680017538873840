"""Reps read back from a real InfluxDB 1.x equal the SQLite store's: session report data, priming effect,
trends (report, CLI and API). The reps are written through InfluxV1Store, the writer's own store and line
protocol; the simulated sessions come from the analysis engine, the trends reps have known weekly truth."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import pytest

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens
from kinesync.api.sessions_out import ListSessionSink
from kinesync.cli import main
from kinesync.facility.models import AthleteIn, SessionIn, StationIn
from kinesync.facility.registry import Registry
from kinesync.models import RepMetric
from kinesync.report import from_store
from kinesync.report.data import SessionData
from kinesync.report.trends import trends_from_store
from kinesync.settings import Settings
from kinesync.storage.influx_v1 import InfluxV1Store
from kinesync.storage.readers import InfluxRepReader, RepReader, open_rep_reader, without_envelopes
from kinesync.storage.sqlite import SqliteStore
from kinesync.training.priming import priming_effect
from tests.fixtures.influx import InfluxServer
from tests.unit.test_priming import analysed_session, history
from tests.unit.test_trends import NS, UNTIL, WEEKS
from tests.unit.test_trends import _reps as trend_reps

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": "Bearer adm"}
UNTIL_NS = round(UNTIL.timestamp()) * NS


@pytest.fixture(scope="module")
def reps() -> list[RepMetric]:
    """Ada: an unprimed session 1 and a primed session 2 (engine output, envelopes included); Cy: weeks of
    reps with known truth (trend_reps, moved to another athlete and sessions so the two sets stay apart)."""
    primed = history(analysed_session((170.0, 135.0, 100.0), seed=21))
    weekly, _ = trend_reps()
    cy = [r.model_copy(update={"athlete": "Cy" if r.athlete == "Ada" else r.athlete, "session": f"t{r.session}"})
          for r in weekly]
    return primed + cy


@pytest.fixture
async def stores(influxdb: InfluxServer, reps: list[RepMetric], tmp_path: Path):
    database = influxdb.new_database("reps")
    async with InfluxV1Store(influxdb.url, database) as writer:
        await writer.write(reps)  # what the writer does with kinesync.reps
    sqlite = SqliteStore(tmp_path / "k.db")
    await sqlite.write(reps)
    settings = Settings(influx_url=influxdb.url, influx_database=database)
    influx = open_rep_reader(settings)
    assert isinstance(influx, InfluxRepReader)
    yield influx, sqlite, settings
    await influx.close()
    await sqlite.close()


def _comparable(d: SessionData) -> dict:
    return {"reps": d.reps, "t0": d.t0_ns, "target": d.target_ms, "athlete": d.athlete, "exercise": d.exercise,
            "station": d.station, "notes": d.notes, "priming": d.priming}


async def test_session_reps_and_report_data_equal_sqlite(stores, reps: list[RepMetric]) -> None:
    influx, sqlite, _ = stores
    got, want = await influx.session_reps("2"), await sqlite.session_reps("2")
    assert len(want) == sum(r.session == "2" for r in reps) > 0
    assert got == want  # every field, the envelopes included
    assert sum(len(r.envelopes_uv.get("pectoralis", [])) for r in got) > 20 * len(got)

    a, b = await from_store(influx, "2"), await from_store(sqlite, "2")
    assert a.priming is not None and a.priming.baseline_sessions == ["1"]
    assert _comparable(a) == _comparable(b)
    assert a.source.startswith("storage InfluxDB") and "k.db" in b.source


async def test_athlete_reps_time_range_and_chunks(stores, reps: list[RepMetric]) -> None:
    influx, sqlite, _ = stores
    ada = without_envelopes(sorted((r for r in reps if r.athlete == "Ada"), key=lambda r: r.rep_peak_ns))
    assert await influx.athlete_reps("Ada") == ada == await sqlite.athlete_reps("Ada")
    middle = ada[len(ada) // 2].rep_peak_ns
    assert await influx.athlete_reps("Ada", since_ns=middle) == [r for r in ada if r.rep_peak_ns >= middle]
    assert await influx.athlete_reps("Ada", until_ns=middle) == [r for r in ada if r.rep_peak_ns < middle]
    assert await influx.athlete_reps("Nobody") == [] and await influx.session_reps("nope") == []
    # Answers split in chunks of 7 rows (series cut in the middle) rebuild the same records.
    small = InfluxRepReader(influx.store, chunk_rows=7)
    assert await small.session_reps("2") == await sqlite.session_reps("2")
    assert await small.athlete_reps("Cy") == await sqlite.athlete_reps("Cy")
    # A quote in a tag value is a literal, not InfluxQL.
    assert await influx.athlete_reps("x' OR athlete = 'Ada") == []


async def test_recent_reps_of_every_station_equal_sqlite(stores, reps: list[RepMetric]) -> None:
    """A restarted API's set lags and cues start from the recent reps (``RecentReader``): the same from
    both stores, every station's, in time order, none before ``since_ns``."""
    influx, sqlite, _ = stores
    ordered = without_envelopes(sorted(reps, key=lambda r: (r.rep_peak_ns, r.station)))
    since = ordered[len(ordered) * 3 // 4].rep_peak_ns
    want = [r for r in ordered if r.rep_peak_ns >= since]
    assert len({r.athlete for r in want}) >= 1 and len(want) < len(ordered)
    assert await influx.recent_reps(since) == want == await sqlite.recent_reps(since)
    assert await influx.recent_reps(ordered[-1].rep_peak_ns + 1) == []


async def test_priming_and_trends_equal_sqlite(stores) -> None:
    influx, sqlite, _ = stores
    effect = priming_effect("2", await influx.athlete_reps("Ada"))
    assert effect == priming_effect("2", await sqlite.athlete_reps("Ada")) and effect.n_primed_reps > 0
    a = await trends_from_store(influx, "Cy", WEEKS, UNTIL_NS)
    b = await trends_from_store(sqlite, "Cy", WEEKS, UNTIL_NS)
    assert a == b and sum(w.reps for w in a.weekly) > 0 and len(a.sessions) == 6
    with pytest.raises(LookupError, match="no reps of athlete 'Nobody'"):
        await trends_from_store(influx, "Nobody", WEEKS, UNTIL_NS)


async def test_api_priming_and_trends_read_influxdb(stores, tmp_path: Path) -> None:
    influx, sqlite, _ = stores
    registry = Registry(tmp_path / "registry.db")
    ada = await registry.create_athlete(AthleteIn(name="Ada"))
    cy = await registry.create_athlete(AthleteIn(name="Cy"))
    await registry.create_station(StationIn(id="station-01"))
    for _ in range(2):  # sessions 1 and 2, as in the stores
        s = await registry.start_session(SessionIn(station_id="station-01", athlete_id=ada.id, exercise="back_squat"))
        await registry.stop_session(s.id)
    bodies = []
    try:
        for store in (influx, sqlite):
            app = create_app(LiveState(), tokens=ApiTokens.from_settings(Settings(api_admin_token="adm")))
            app.state.registry, app.state.session_sink, app.state.rep_store = registry, ListSessionSink(), store
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c:
                p = await c.get(f"/api/v1/athletes/{ada.id}/priming", params={"session": 2}, headers=ADMIN)
                t = await c.get(f"/api/v1/athletes/{cy.id}/trends", params={"weeks": 104}, headers=ADMIN)
            assert p.status_code == 200 and t.status_code == 200, (p.text, t.text)
            bodies.append((p.json(), t.json()))
    finally:
        await registry.close()
    (p_influx, t_influx), (p_sqlite, t_sqlite) = bodies
    timing = next(e for e in p_influx["effects"] if e["metric"] == "timing_improvement_ms")
    assert timing["ci_low"] > 0 and p_influx == p_sqlite
    assert sum(w["reps"] for w in t_influx["weekly"]) > 0 and t_influx == t_sqlite


def test_report_command_reads_influxdb(influxdb: InfluxServer, reps: list[RepMetric], tmp_path: Path, monkeypatch,
                                       capsys) -> None:
    database = influxdb.new_database("cli")

    async def fill() -> None:
        async with InfluxV1Store(influxdb.url, database) as writer:
            await writer.write(reps)

    asyncio.run(fill())
    monkeypatch.setenv("KINESYNC_INFLUX_URL", influxdb.url)
    monkeypatch.setenv("KINESYNC_INFLUX_DATABASE", database)
    out, table = tmp_path / "s.html", tmp_path / "t.csv"
    assert main(["report", "--session", "2", "--out", str(out), "--no-pdf"]) == 0, capsys.readouterr().err
    page = out.read_text(encoding="utf-8")
    embedded = json.loads(re.search(r'id="reps-json">(.*?)</script>', page, re.S).group(1))
    assert len(embedded["reps"]) == sum(r.session == "2" for r in reps)
    assert 'id="priming"' in page and "InfluxDB" in page
    assert main(["report", "--athlete", "Cy", "--weeks", str(WEEKS), "--until", "2026-11-26", "--out",
                 str(tmp_path / "tr.html"), "--csv", str(table), "--no-pdf"]) == 0, capsys.readouterr().err
    assert sum(1 for line in table.read_text().splitlines() if line.startswith("week,")) == WEEKS


def test_both_stores_are_rep_readers(tmp_path: Path) -> None:
    from kinesync.storage import readers
    from kinesync.streaming import station

    assert readers.ENVELOPE_STEP_NS == station.ENVELOPE_STEP_NS  # the grid a one-bin envelope is rebuilt on
    assert isinstance(SqliteStore(tmp_path / "k.db"), RepReader)
    assert isinstance(open_rep_reader(Settings(sqlite_path=str(tmp_path / "k.db"))), SqliteStore)
    with pytest.raises(ValueError, match="KINESYNC_INFLUX_TOKEN"):
        open_rep_reader(Settings(influx_url="http://127.0.0.1:1", influx_version="2"))


async def test_overlapping_windows_keep_each_reps_bins(influxdb: InfluxServer, reps: list[RepMetric]) -> None:
    """Reps 1.5 s apart have 2 s windows that overlap: the stored bins there are shared (same series and time,
    the later write wins), and each rep gets back exactly its own bins' span, its own values outside."""
    first = next(r for r in reps if r.session == "2" and r.envelopes_uv)
    shift = 1_500_000_000
    moved = {k: getattr(first, k) + shift for k in ("rep_peak_ns", "rep_start_ns", "window_start_ns", "window_end_ns",
                                                    "envelope_t0_ns")}
    second = first.model_copy(update={**moved, "envelopes_uv": {m: [v + 1000.0 for v in vs]
                                                                 for m, vs in first.envelopes_uv.items()}})
    async with InfluxV1Store(influxdb.url, influxdb.new_database("overlap")) as store:
        await store.write([first, second])
        got = await InfluxRepReader(store).session_reps("2")
    assert [r.rep_peak_ns for r in got] == [first.rep_peak_ns, second.rep_peak_ns]
    assert got[1] == second
    a = got[0]
    assert (a.envelope_t0_ns, a.envelope_step_ns) == (first.envelope_t0_ns, first.envelope_step_ns)
    own = (second.envelope_t0_ns - first.envelope_t0_ns) // first.envelope_step_ns
    for muscle, values in first.envelopes_uv.items():
        assert len(a.envelopes_uv[muscle]) == len(values)
        assert a.envelopes_uv[muscle][:own] == values[:own]
        assert a.envelopes_uv[muscle][own:] == second.envelopes_uv[muscle][: len(values) - own]


async def test_recent_windows_read_back_from_influxdb_equal_the_sqlite_store_s(
    influxdb: InfluxServer, tmp_path: Path
) -> None:
    """The wall of a restarted API starts from the stored windows (``RecentReader``): InfluxDB answers the
    same windows as SQLite, flags, booleans and the target band included, and none before ``since_ns``."""
    from kinesync.models import WindowMetric

    s = 1_000_000_000
    t0 = 1_780_000_000 * s
    windows = [
        WindowMetric(station=station, athlete="Ada" if station == "station-01" else None, team="Firsts",
                     window_start_ns=t0 + k * s // 4, window_end_ns=t0 + k * s // 4 + 2 * s,
                     rep_peak_ns=t0 + k * s // 4 + s if k % 12 == 0 else None,
                     lag_ms=97.5 if k % 12 == 0 else None, in_window=True if k % 12 == 0 else None,
                     partial=k == 5, flags=["clipped:pec_l", "weighing_carried"] if k == 7 else [],
                     target_low_ms=80.0, target_high_ms=120.0, target_source="personal" if k > 20 else "fixed",
                     emitted_at_ns=t0 + k * s // 4 + 2 * s + 40_000_000)
        for k in range(30) for station in ("station-01", "station-02")
    ]
    database = influxdb.new_database("windows")
    async with InfluxV1Store(influxdb.url, database) as writer:
        await writer.write(windows)
    sqlite = SqliteStore(tmp_path / "k.db")
    await sqlite.write(windows)
    reader = open_rep_reader(Settings(influx_url=influxdb.url, influx_database=database))
    try:
        since = t0 + 10 * s // 4
        from_influx = await reader.recent_windows(since)
        from_sqlite = await sqlite.recent_windows(since)
    finally:
        await reader.close()
        await sqlite.close()
    expected = sorted((w for w in windows if w.window_start_ns >= since), key=lambda w: (w.station, w.window_start_ns))
    assert len(from_influx) == 40
    assert from_influx == from_sqlite == expected
