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
from kinesync.models import SessionAssignment, WindowMetric
from kinesync.settings import Settings

ADMIN = {"Authorization": "Bearer adm"}
OPENED = ("registry", "personal_store", "session_sink", "rep_store", "alerts_store")


def settings_in(folder: Path) -> Settings:
    return Settings(registry_db=str(folder / "registry.db"), alerts_db=str(folder / "alerts.db"),
                    sqlite_path=str(folder / "kinesync.db"), influx_url=None, alert_rules=None,
                    api_admin_token="adm", api_viewer_token=None, api_admin_token_sha256=None,
                    api_viewer_token_sha256=None, console_secret=None)


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api", headers=ADMIN)


async def test_lifespan_opens_the_stores_publishes_sessions_and_follows_the_metrics(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    bus = MemoryBus()
    await bus.ensure_topics()
    state = LiveState()
    app = create_app(state, tokens=ApiTokens.from_settings(settings), settings=settings, bus=bus)
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
