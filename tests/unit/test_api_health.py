"""``/health`` of the API: windows the analyzer could not analyse, and restarts under ``kinesync run``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kinesync.api import LiveState, create_app
from kinesync.models import WindowMetric
from kinesync.runtime.supervisor import STATE_ENV

T0 = 1_700_000_000_000_000_000
HOP = 250_000_000


def metric(station: str, i: int, flags: list[str] | None = None, **kw: object) -> WindowMetric:
    values: dict[str, object] = dict(
        station=station, athlete="ath1", session="sess1", window_start_ns=T0 + i * HOP,
        window_end_ns=T0 + i * HOP + 2_000_000_000, flags=flags or [],
    )
    return WindowMetric.model_validate({**values, **kw})


@pytest.fixture(autouse=True)
def no_supervisor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STATE_ENV, raising=False)


def test_health_counts_windows_flagged_analysis_error_per_station_and_in_total() -> None:
    state = LiveState()
    client = TestClient(create_app(state))
    assert client.get("/health").json()["analysis_errors"] == {"total": 0, "by_station": {}}
    state.update(metric("s01", 0))
    state.update(metric("s01", 1, ["analysis_error"]))
    state.update(metric("s01", 2, ["emg_clipping", "analysis_error"]))
    state.update(metric("s02", 0, ["emg_clipping"]))
    state.update(metric("s03", 0, ["analysis_error"]))
    state.update(metric("s03", 1, ["analysis_error"], athlete="ath2"))  # a new athlete keeps the count
    state.forget("s03")
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["stations"] == 2
    assert body["analysis_errors"] == {"total": 4, "by_station": {"s01": 2, "s03": 2}}


def test_health_counts_an_old_window_it_did_not_show() -> None:
    state = LiveState()
    state.update(metric("s01", 5))
    # A replay after an analyzer restart: not shown (older than the tile), still received.
    assert state.update(metric("s01", 1, ["analysis_error"])) is False
    body = TestClient(create_app(state)).get("/health").json()
    assert body["analysis_errors"] == {"total": 1, "by_station": {"s01": 1}}


def test_health_without_a_supervisor_has_no_restarts() -> None:
    assert "restarts" not in TestClient(create_app(LiveState())).get("/health").json()


def test_health_reports_restarts_from_the_supervisor_state_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "supervisor.json"
    monkeypatch.setenv(STATE_ENV, str(path))
    client = TestClient(create_app(LiveState()))
    assert "restarts" not in client.get("/health").json()  # not written yet
    services = {name: {"restarts": 0, "last_exit_code": None} for name in ("gateway", "analyzer", "api")}
    services["analyzer"] = {"restarts": 2, "last_exit_code": -9, "last_error": "killed by SIGKILL"}
    path.write_text(json.dumps({"pid": 1, "services": services}))
    assert client.get("/health").json()["restarts"] == {"gateway": 0, "analyzer": 2, "api": 0}
    path.write_text('{"pid": 1, "services": {"analy')  # a torn file: the last good reading stays
    assert client.get("/health").json()["restarts"] == {"gateway": 0, "analyzer": 2, "api": 0}
