"""The API's lifespan: given settings it opens every store not handed to it (and closes only those),
given a bus it publishes sessions and runs the Kafka workers; without settings it opens nothing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
from fastapi import FastAPI

from kinesync.alerts.store import AlertStore
from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens
from kinesync.api.sessions_out import PersonalSessionSink
from kinesync.bus.memory import MemoryBus
from kinesync.bus.topics import METRICS, SESSIONS
from kinesync.facility.models import TeamIn
from kinesync.facility.registry import Registry
from kinesync.models import RepMetric, SessionAssignment, WindowMetric
from kinesync.settings import Settings

ADMIN = {"Authorization": "Bearer adm"}
OPENED = ("registry", "personal_store", "session_sink", "rep_store", "alerts_store")


def settings_in(folder: Path, alert_rules: str | None = None) -> Settings:
    return Settings(registry_db=str(folder / "registry.db"), alerts_db=str(folder / "alerts.db"),
                    sqlite_path=str(folder / "kinesync.db"), influx_url=None, alert_rules=alert_rules,
                    api_admin_token="adm", api_viewer_token=None, api_admin_token_sha256=None,
                    api_viewer_token_sha256=None, console_secret=None)


async def app_with_bus(folder: Path, alert_rules: str | None = None) -> tuple[LiveState, MemoryBus, FastAPI]:
    """An app with settings (its stores in ``folder``) and an in-memory bus: the lifespan runs the workers."""
    settings = settings_in(folder, alert_rules)
    bus = MemoryBus()
    await bus.ensure_topics()
    state = LiveState()
    return state, bus, create_app(state, tokens=ApiTokens.from_settings(settings), settings=settings, bus=bus)


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api", headers=ADMIN)


async def test_lifespan_opens_the_stores_publishes_sessions_and_follows_the_metrics(tmp_path: Path) -> None:
    state, bus, app = await app_with_bus(tmp_path)
    async with app.router.lifespan_context(app), client(app) as c:
        assert all(getattr(app.state, name, None) is not None for name in OPENED)
        assert isinstance(app.state.session_sink, PersonalSessionSink)
        ada = (await c.post("/api/v1/athletes", json={"name": "Ada"})).json()
        assert (await c.post("/api/v1/stations", json={"id": "station-01"})).status_code == 201
        started = await c.post("/api/v1/sessions", json={"station_id": "station-01", "athlete_id": ada["id"],
                                                         "exercise": "back_squat"})
        assert started.status_code == 201, started.text
        published = [SessionAssignment.model_validate_json(m.value) for part in bus.logs[SESSIONS] for m in part]
        assert any(a.athlete == "Ada" and a.target_mode == "fixed" for a in published)  # with the personal fields
        assert (await c.get("/api/alerts/subscriptions")).json() == []

        # the metrics follower starts at the end of the topic: send until the wall shows the station
        producer = bus.producer()
        await producer.start()
        metric = WindowMetric(station="station-01", athlete="Ada", window_start_ns=0, window_end_ns=1, lag_ms=95.0)
        for _ in range(100):
            await producer.send(METRICS, metric.model_dump_json().encode(), b"station-01")
            await asyncio.sleep(0.02)
            if len(state):
                break
        await producer.stop()
        assert [s["station"] for s in (await c.get("/api/stations")).json()] == ["station-01"]
    assert not any(hasattr(app.state, name) for name in OPENED)  # closed and forgotten


async def wall_alert_after_out_reps(bus: MemoryBus, c: httpx.AsyncClient, expected: str) -> str | None:
    """Out-of-window reps of Ada's on the bus until the wall's tile shows ``expected`` (10 s at most)."""
    producer = bus.producer()
    await producer.start()
    tile: dict = {}
    for i in range(200):
        out = WindowMetric(station="station-01", athlete="Ada", window_start_ns=i, window_end_ns=i + 1,
                           lag_ms=150.0, in_window=False, target_low_ms=80.0, target_high_ms=120.0)
        await producer.send(METRICS, out.model_dump_json().encode(), b"station-01")
        await asyncio.sleep(0.05)
        tile = next(iter((await c.get("/api/stations")).json()), {})
        if tile.get("last_alert") == expected:
            break
    await producer.stop()
    return tile.get("last_alert")


async def test_the_walls_last_alert_follows_the_rules_made_in_the_api(tmp_path: Path) -> None:
    # The wall judges by the rules the alerts service sends by: a rule made in the console or the API
    # reaches the tile's "last alert" without a restart.
    _, bus, app = await app_with_bus(tmp_path)
    async with app.router.lifespan_context(app), client(app) as c:
        rule = {"kind": "lag_out_of_window", "id": "every-rep", "n": 1, "m": 1, "resolve_at_most": 0,
                "cooldown_s": 0}
        assert (await c.post("/api/alerts/rules", json=rule)).status_code == 201
        # The rules are looked at every 2 s: until then the default rule (3 of the last 5) judges; after,
        # the API's rule, and its first out-of-window rep fires.
        expected = "Ada: lag out of 80-120 ms in 1 of the last 1 reps (latest 150 ms)"
        assert await wall_alert_after_out_reps(bus, c, expected) == expected


async def test_a_broken_rules_file_leaves_the_wall_on_the_default_rule(tmp_path: Path) -> None:
    broken = tmp_path / "alerts.yaml"
    broken.write_text("rules:\n  - {id: x, kind: no_such_kind}\n")
    _, bus, app = await app_with_bus(tmp_path, alert_rules=str(broken))
    async with app.router.lifespan_context(app), client(app) as c:
        expected = "Ada: lag out of 80-120 ms in 5 of the last 5 reps (latest 150 ms)"
        assert await wall_alert_after_out_reps(bus, c, expected) == expected


async def test_lifespan_leaves_what_it_was_given(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    app = create_app(LiveState(), tokens=ApiTokens.from_settings(settings), settings=settings)
    mine = app.state.registry = Registry(tmp_path / "mine.db")
    alerts = app.state.alerts_store = AlertStore(tmp_path / "mine-alerts.db")
    try:
        async with app.router.lifespan_context(app), client(app) as c:
            assert app.state.registry is mine and app.state.alerts_store is alerts
            assert (await c.post("/api/v1/teams", json={"name": "Firsts"})).status_code == 201
            ada = (await c.post("/api/v1/athletes", json={"name": "Ada"})).json()
            await c.post("/api/v1/stations", json={"id": "station-01"})
            no_bus = await c.post("/api/v1/sessions", json={"station_id": "station-01", "athlete_id": ada["id"],
                                                            "exercise": "back_squat"})
            assert no_bus.status_code == 503 and "no session publisher" in no_bus.text  # no bus: no sink
        assert app.state.registry is mine and app.state.alerts_store is alerts
        assert not hasattr(app.state, "personal_store")
        await mine.create_team(TeamIn(name="Seconds"))  # still open
    finally:
        await mine.close()
        alerts.close()


async def test_without_settings_the_lifespan_opens_nothing() -> None:
    app = create_app(LiveState())
    async with app.router.lifespan_context(app), client(app) as c:
        r = await c.get("/api/v1/teams")
        assert r.status_code == 503 and r.json()["detail"] == "facility registry not configured"
        assert (await c.get("/api/alerts/deliveries")).status_code == 503


async def test_a_restarted_api_shows_the_stored_floor_at_once_aged_honestly(tmp_path: Path) -> None:
    """``follow_metrics`` starts at the end of the topic: the wall starts from the last minute of stored
    windows (``seed_from_store``) instead of empty tiles, each aged from when the analyzer emitted it, and
    its set lags and the station views' last cues from the stored reps."""
    import time

    from kinesync.storage.sqlite import SqliteStore

    settings = settings_in(tmp_path)
    s = 1_000_000_000
    now = time.time_ns()
    windows = []
    for k in range(40):  # the last 10 s of two stations: a window every 0.25 s, a rep every 3 s
        start = now - 12 * s + k * s // 4
        for station, athlete, lag in (("station-01", "Ada", 95.0), ("station-02", "Bo", 130.0)):
            rep = k % 12 == 0
            windows.append(WindowMetric(
                station=station, athlete=athlete, window_start_ns=start, window_end_ns=start + 2 * s,
                lag_ms=lag + k if rep else None, in_window=(80 <= lag + k <= 120) if rep else None,
                rep_peak_ns=start + s if rep else None, alignment=0.5 if rep else None,
                flags=["analysis_error"] if (station, k) == ("station-02", 30) else [],
                emitted_at_ns=start + 2 * s + s // 20))
    # A station that went quiet five minutes ago is not brought back.
    quiet = WindowMetric(station="station-09", window_start_ns=now - 300 * s, window_end_ns=now - 298 * s,
                         lag_ms=100.0, emitted_at_ns=now - 298 * s)
    # Ada's set: two reps 2 and 1 minutes before the last minute's, one rep of an earlier set 3 minutes
    # before that (more than SET_GAP_S apart), and one beyond the five minutes read back.
    reps = [
        RepMetric(station="station-01", athlete="Ada", rep_peak_ns=w.rep_peak_ns, rep_start_ns=w.rep_peak_ns - s,
                  window_start_ns=w.window_start_ns, window_end_ns=w.window_end_ns, lag_ms=w.lag_ms,
                  in_window=w.in_window, emitted_at_ns=w.emitted_at_ns)
        for w in windows if w.station == "station-01" and w.rep_peak_ns is not None
    ]
    reps = [r.model_copy(update={"rep_peak_ns": r.rep_peak_ns - back * s, "lag_ms": lag})
            for r in reps[:1] for back, lag in ((400, 50.0), (240, 60.0), (120, 100.0), (60, 104.0))] + reps
    store = SqliteStore(settings.sqlite_path)
    await store.write([*windows, quiet, *reps])
    await store.close()

    state = LiveState()
    app = create_app(state, tokens=ApiTokens.from_settings(settings), settings=settings)  # no bus: no live windows
    async with app.router.lifespan_context(app), client(app) as c:
        rows = {r["station"]: r for r in (await c.get("/api/stations")).json()}
        assert set(rows) == {"station-01", "station-02"}
        emitted_last = windows[-1].emitted_at_ns / 1e9
        for station, lag, athlete in (("station-01", 95.0 + 36, "Ada"), ("station-02", 130.0 + 36, "Bo")):
            r = rows[station]
            assert r["athlete"] == athlete and r["lag_ms"] == lag
            assert r["window_start_ns"] == windows[-1].window_start_ns
            # Aged from the last window's emission (0.2 s before the start), the lag from its rep window's
            # (k = 36, emitted 0.95 s before).
            assert abs(r["age_s"] - (time.time() - emitted_last)) < 0.5 and not r["stale"], r
            assert 0.9 < r["lag_age_s"] < 1.9, r
        assert rows["station-01"]["in_window"] is False and rows["station-01"]["alignment"] == 0.5
        # Stored errors are no news of errors since this API started.
        assert state.analysis_errors()["total"] == 0
        # The set lag and the station view's last cues come back from the stored reps (seed_from_store): the
        # set of the last minutes (the rep 240 s back is another set's, the one 400 s back not read).
        set_lag = rows["station-01"]["set_lag"]
        lags = [100.0, 104.0, 95.0, 107.0, 119.0, 131.0]
        assert set_lag["reps"] == set_lag["n"] == len(lags) and set_lag["mean_ms"] == round(sum(lags) / len(lags), 1)
        assert rows["station-02"]["set_lag"] is None
        cues = (await c.get("/api/v1/stations/station-01/cues")).json()
        assert [q["lag_ms"] for q in cues] == [60.0, *lags]
        assert cues[-1]["rep_peak_ns"] == reps[-1].rep_peak_ns and cues[-1]["set_lag"] == set_lag
        assert (await c.get("/api/v1/cues/latency")).json()["pushed"]["count"] == 0  # nothing was pushed


async def test_a_restarted_api_shows_each_tiles_last_alert_from_the_alerts_services_state(tmp_path: Path) -> None:
    """The wall's rules continue from the state the alerts service saved (``rules_in_force``), and each tile
    whose athlete and session are still on it gets its last alert back, dated when it happened."""
    import time

    from kinesync.alerts.config import DEFAULT_RULES
    from kinesync.alerts.engine import RuleEngine
    from kinesync.storage.sqlite import SqliteStore

    settings = settings_in(tmp_path)
    s = 1_000_000_000
    now = time.time_ns()
    # The last 30 s of three stations: Ada drifts out of her window in session s-1; Bo drifted in an
    # earlier session and is now in another one; Cy (no sessions) drifted in the same place two hours ago.
    onto = (("station-01", "Ada", "s-1"), ("station-02", "Bo", "s-2"), ("station-03", "Cy", None))
    windows = [
        WindowMetric(station=station, athlete=athlete, session=session, window_start_ns=now - 30 * s + k * 3 * s,
                     window_end_ns=now - 28 * s + k * 3 * s, lag_ms=150.0, in_window=False,
                     target_low_ms=80.0, target_high_ms=120.0, emitted_at_ns=now - 28 * s + k * 3 * s)
        for k in range(8) for station, athlete, session in onto
    ]
    store = SqliteStore(settings.sqlite_path)
    await store.write(windows)
    await store.close()
    service = RuleEngine(DEFAULT_RULES)  # what the alerts service ran and saved
    fired = [e for w in windows if w.station == "station-01" for e in service.observe(w)]
    earlier = windows[0].model_copy(update={"station": "station-02", "athlete": "Bo", "session": "s-0"})
    bo = [e for k in range(5)
          for e in service.observe(earlier.model_copy(update={"window_start_ns": earlier.window_start_ns - k * s}))]
    cy = [e for w in windows if w.station == "station-03"
          for e in service.observe(w.model_copy(update={"window_start_ns": w.window_start_ns - 7200 * s}))]
    assert [e.state for e in fired] == ["firing"] and [e.state for e in bo] == ["firing"]
    assert [e.state for e in cy] == ["firing"]
    alerts = AlertStore(settings.alerts_db)
    alerts.record([], service.snapshot(), {}, now)
    alerts.close()

    app = create_app(LiveState(), tokens=ApiTokens.from_settings(settings), settings=settings)
    async with app.router.lifespan_context(app), client(app) as c:
        rows = {r["station"]: r for r in (await c.get("/api/stations")).json()}
    ada = rows["station-01"]
    assert (ada["last_alert"], ada["last_alert_state"]) == (fired[0].message, "firing")
    assert abs(ada["last_alert_age_s"] - (time.time() - fired[0].at_ns / 1e9)) < 1.0, ada
    assert rows["station-02"]["last_alert"] is None  # Bo's alert was about another session
    assert rows["station-03"]["last_alert"] is None  # two hours ago: another run, or another day
