"""Cue logic, the cue hub's latency arithmetic, and the cue WebSocket and station view of the app."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from kinesync.analysis.cues import cue_for, judge, no_timing_reason
from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens, sha256_hex
from kinesync.api.cue_hub import CueHub, cue_stats_line, percentile
from kinesync.models import RepMetric

T0 = 1_700_000_000_000_000_000


def rep(lag: float | None, k: int = 0, station: str = "station-01", **kw: object) -> RepMetric:
    return RepMetric(station=station, athlete="Ada", rep_peak_ns=T0 + k * 3_000_000_000, rep_start_ns=T0,
                     window_start_ns=T0 - 875_000_000, window_end_ns=T0 + 1_125_000_000, lag_ms=lag, **kw)


@pytest.mark.parametrize(("lag", "text", "off"), [
    (80.0, "on time", 0), (120.0, "on time", 0), (100.0, "on time", 0),
    (79.6, "early by 1 ms", -1), (67.4, "early by 13 ms", -13), (120.2, "late by 1 ms", 1),
    (151.0, "late by 31 ms", 31),
])
def test_judge(lag: float, text: str, off: int) -> None:
    kind, got_off, got_text = judge(lag, 80.0, 120.0)
    assert (got_text, got_off) == (text, off)
    assert kind == text.split(" by ")[0].replace(" ", "_")


def test_no_timing_says_why() -> None:
    cue = cue_for(rep(None, flags=["flat:pec"]))
    assert (cue.kind, cue.text, cue.off_ms) == ("no_timing", "no timing", None)
    assert "flat" in (cue.reason or "")
    assert no_timing_reason([]) == "no lag measured"
    assert no_timing_reason(["no_pec_activity"]) == "no chest activity"


def test_cue_uses_the_window_that_judged_the_rep() -> None:
    cue = cue_for(rep(130.0, target_low_ms=125.0, target_high_ms=150.0, target_source="personal"))
    assert (cue.text, cue.target_source, cue.rep_end_ns) == ("on time", "personal", T0 + 1_125_000_000)
    legacy = rep(130.0).model_copy(update={"window_end_ns": None})
    assert cue_for(legacy, window_s=2.0).rep_end_ns == legacy.window_start_ns + 2_000_000_000


def test_hub_latency_is_independent_of_the_view_clock() -> None:
    now = [T0 + 1_125_000_000 + 100_000_000]  # pushed 100 ms after rep end
    hub = CueHub(clock_ns=lambda: now[0])
    q = hub.listen("station-01")
    other = hub.listen(None)
    cue = hub.publish(rep(100.0))
    assert q.get_nowait() == cue and other.get_nowait() == cue
    sent = now[0]
    now[0] = sent + 40_000_000  # the acknowledgement arrives 40 ms later: 15 ms each way + 10 ms painting
    latency = hub.shown(f"station-01|{cue.rep_peak_ns}", sent, processing_ms=10.0)
    assert latency == pytest.approx(100.0 + 15.0 + 10.0)
    assert hub.shown("station-01|0", sent, 1.0) is None  # unknown cue
    stats = hub.stats()
    assert stats["shown"].count == 1 and stats["pushed"].p99_ms == pytest.approx(100.0)
    line = cue_stats_line(stats, instance="api-1", at_ns=5)
    assert line is not None and line.startswith("pipeline,service=api,instance=api-1 cues_shown=1i,cues_pushed=1i,")
    assert "cue_latency_ms_p99=125.0" in line and line.endswith(" 5")
    assert percentile([5.0, 1.0, 3.0, 2.0, 4.0], 50) == 3.0


def test_station_view_and_cue_socket() -> None:
    state = LiveState()
    app = create_app(state, tokens=ApiTokens(viewer_sha256=sha256_hex("v")))
    client = TestClient(app)
    page = client.get("/station/station-01")
    assert page.status_code == 200 and '"station-01"' in page.text and "{{" not in page.text
    assert client.get("/station/bad%22id").status_code == 422
    with client.websocket_connect("/ws/stations/station-01/cues?token=v") as ws:
        hello = json.loads(ws.receive_text())
        assert hello["type"] == "hello" and hello["recent"] == []
        app.state.cues.publish(rep(150.0, k=1))
        app.state.cues.publish(rep(100.0, k=1, station="station-02"))  # not for this view
        app.state.cues.publish(rep(70.0, k=2))
        msgs = [json.loads(ws.receive_text()) for _ in range(2)]
        assert [m["cue"]["text"] for m in msgs] == ["late by 30 ms", "early by 10 ms"]
        ws.send_text(json.dumps({"type": "shown", "id": msgs[0]["id"], "processing_ms": 3}))
        ws.send_text("not json")  # ignored, not fatal
        status = json.loads(ws.receive_text())
        assert status["type"] == "status"
    assert client.get("/api/v1/cues/latency", headers={"Authorization": "Bearer v"}).json()["shown"]["count"] == 1
    recent = client.get("/api/v1/stations/station-01/cues", headers={"Authorization": "Bearer v"}).json()
    assert [c["text"] for c in recent] == ["late by 30 ms", "early by 10 ms"]
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/ws/cues") as ws:  # no token
        ws.receive_text()
    assert closed.value.code == 1008
