"""Cue logic, the cue hub's latency arithmetic, and the cue WebSocket and station view of the app."""

from __future__ import annotations

import json
import math

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from kinesync.analysis.cues import Z95, SetTracker, cue_for, judge, no_timing_reason, same_set, set_lag, t95
from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens, sha256_hex
from kinesync.api.cue_hub import CueHub, cue_stats_line, percentile
from kinesync.models import RepMetric, WindowMetric

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


# Uncertainty: the rep's 95 % interval, the set's mean lag and its interval


@pytest.mark.parametrize(("lag", "half", "kind", "off"), [
    (100.0, 10.0, "on_time", 0),      # 90..110 inside 80..120
    (115.0, 10.0, "uncertain", 0),    # 105..125 straddles 120
    (85.0, 10.0, "uncertain", 0),     # 75..95 straddles 80
    (125.0, 10.0, "uncertain", 5),    # 115..125 straddles 120: out by the point estimate, not sure
    (140.0, 10.0, "late", 20),        # 130..150 wholly above
    (60.0, 10.0, "early", -20),       # 50..70 wholly below
    (110.0, 10.0, "on_time", 0),      # 100..120 touches the edge: not across it
    (100.0, 30.0, "uncertain", 0),    # 70..130 wider than the window: both edges inside it
    (125.0, None, "late", 5),         # no interval: the point estimate alone, as before
    (125.0, 0.0, "late", 5),
    (125.0, float("nan"), "late", 5),
])
def test_judge_with_an_interval(lag: float, half: float | None, kind: str, off: int) -> None:
    got_kind, got_off, text = judge(lag, 80.0, 120.0, half)
    assert (got_kind, got_off) == (kind, off)
    assert text == {"uncertain": "uncertain", "on_time": "on time"}.get(kind, f"{kind} by {abs(off)} ms")


def test_cue_is_uncertain_when_the_reps_interval_straddles_an_edge() -> None:
    # 1.96 * 5 = 9.8 ms: 115 ± 9.8 crosses 120, 105 ± 9.8 does not, 135 ± 9.8 is wholly late
    assert cue_for(rep(115.0, lag_se_ms=5.0)).text == "uncertain"
    on = cue_for(rep(105.0, lag_se_ms=5.0))
    assert (on.kind, on.lag_se_ms, on.lag_half_ms) == ("on_time", 5.0, 9.8)
    assert cue_for(rep(135.0, lag_se_ms=5.0)).text == "late by 15 ms"
    assert cue_for(rep(75.0, lag_se_ms=5.0)).kind == "uncertain"
    # the window that judged the rep is the one the interval is held against
    assert cue_for(rep(128.0, lag_se_ms=5.0, target_low_ms=125.0, target_high_ms=150.0)).kind == "uncertain"
    # without lag_se_ms: exactly as before
    legacy = cue_for(rep(115.0))
    assert (legacy.kind, legacy.text, legacy.lag_se_ms, legacy.lag_half_ms) == ("on_time", "on time", None, None)
    assert cue_for(rep(None, lag_se_ms=5.0)).kind == "no_timing"


def test_set_lag_independent_reps_of_one_lag_use_the_reps_own_errors() -> None:
    reps = [rep(lag, k, lag_se_ms=se) for k, (lag, se) in enumerate([(100.0, 6.0), (100.0, 8.0), (100.0, 10.0)])]
    s = set_lag(reps)
    assert s is not None and (s.n, s.reps, s.mean_ms) == (3, 3, 100.0)
    within = math.sqrt(36 + 64 + 100) / 3  # sqrt(sum se^2) / n = 4.714 ms
    assert s.se_within_ms == pytest.approx(within, abs=0.01) and s.se_between_ms == 0.0
    assert s.half_ms == pytest.approx(Z95 * within, abs=0.05)  # 9.2 ms
    assert (s.low_ms, s.high_ms, s.kind) == (pytest.approx(100.0 - 9.2, abs=0.05), pytest.approx(109.2, abs=0.05),
                                              "on_time")


def test_set_lag_variable_reps_use_the_sample_sd_with_students_t() -> None:
    lags = [90.0, 100.0, 110.0, 100.0]  # SD 8.165, SE of the mean 4.082
    s = set_lag([rep(lag, k, lag_se_ms=1.0) for k, lag in enumerate(lags)])
    assert s is not None and s.mean_ms == 100.0
    assert s.se_between_ms == pytest.approx(8.165 / 2, abs=0.01)
    assert s.half_ms == pytest.approx(3.1824 * 8.165 / 2, abs=0.05)  # t(0.975, 3) · SD/√n = 13.0 ms
    assert s.kind == "on_time"  # 87..113
    wide = set_lag([rep(lag, k, lag_se_ms=1.0) for k, lag in enumerate([100.0, 120.0])])
    assert wide is not None and wide.half_ms == pytest.approx(12.7062 * 10.0, abs=0.05) and wide.kind == "uncertain"


def test_set_lag_without_errors_and_with_one_rep() -> None:
    one = set_lag([rep(97.0)])
    assert one is not None and (one.n, one.half_ms, one.low_ms, one.kind) == (1, None, None, "on_time")
    one_se = set_lag([rep(97.0, lag_se_ms=4.0)])
    assert one_se is not None and one_se.half_ms == pytest.approx(7.8, abs=0.05)
    # a rep without an SE still counts in the mean; the others' mean SE^2 stands in for it
    mixed = set_lag([rep(90.0, 0, lag_se_ms=6.0), rep(110.0, 1), rep(None, 2, flags=["no_pec_activity"])])
    assert mixed is not None and (mixed.n, mixed.reps, mixed.mean_ms) == (2, 3, 100.0)
    assert mixed.se_within_ms == pytest.approx(6.0 / math.sqrt(2), abs=0.01)
    assert mixed.half_ms == pytest.approx(12.7062 * 10.0, abs=0.05)  # SD 14.14/√2 = 10 dominates
    assert set_lag([rep(None)]) is None and set_lag([]) is None
    assert t95(1) == 12.7062 and t95(30) == 2.0423
    assert t95(31) == pytest.approx(2.0395, abs=1e-3) and t95(1000) == pytest.approx(1.9623, abs=1e-3)


def test_sets_by_plan_position_gap_and_assignment() -> None:
    a = rep(100.0, 0)
    assert same_set(a, rep(100.0, 10))  # 30 s apart
    far = rep(100.0).model_copy(update={"rep_peak_ns": a.rep_peak_ns + 61_000_000_000})
    assert not same_set(a, far)  # more than 60 s: a new set
    assert not same_set(a, rep(100.0, 1).model_copy(update={"athlete": "Bea"}))
    assert not same_set(a, rep(100.0, 1, session="7"))
    planned = rep(100.0, 0, block_index=1, set_index=0)
    assert same_set(planned, far.model_copy(update={"block_index": 1, "set_index": 0}))  # the plan decides
    assert not same_set(planned, rep(100.0, 1, block_index=1, set_index=1))
    assert not same_set(planned, rep(100.0, 1))  # the plan stopped counting

    tracker = SetTracker()
    assert tracker.add(rep(100.0, 0, lag_se_ms=5.0)).n == 1  # type: ignore[union-attr]
    assert tracker.add(rep(110.0, 1, lag_se_ms=5.0)).n == 2  # type: ignore[union-attr]
    again = tracker.add(rep(110.0, 1, lag_se_ms=5.0))  # redelivered: counted once
    assert again is not None and again.n == 2 and again.mean_ms == 105.0
    new = tracker.add(far.model_copy(update={"rep_peak_ns": a.rep_peak_ns + 3_000_000_000 + 61_000_000_000}))
    assert new is not None and (new.n, new.first_rep_peak_ns) == (1, a.rep_peak_ns + 64_000_000_000)
    assert tracker.add(rep(90.0, 0)) is None  # an old rep of the earlier set: the current set stays
    assert tracker.add(rep(100.0, 30)).n == 2  # type: ignore[union-attr]


def test_hub_puts_the_set_on_cues_and_on_the_wall() -> None:
    state = LiveState()
    app = create_app(state)
    hub: CueHub = app.state.cues
    state.update(WindowMetric(station="station-01", athlete="Ada", window_start_ns=T0, window_end_ns=T0 + 1))
    cues = [hub.publish(rep(lag, k, lag_se_ms=4.0)) for k, lag in enumerate([96.0, 104.0, 100.0])]
    assert [c.set_lag.n for c in cues if c.set_lag] == [1, 2, 3]
    (tile,) = state.snapshot()
    assert tile.set_lag is not None and tile.set_lag == cues[-1].set_lag and tile.set_lag.mean_ms == 100.0
    # t(0.975, 2) · 4 / √3 = 9.94 ms > 1.96 · 4 / √3 = 4.53 ms
    assert tile.set_lag.half_ms == pytest.approx(9.9, abs=0.05)
    # another athlete on the plate: the old set is not theirs
    state.update(WindowMetric(station="station-01", athlete="Bea", window_start_ns=T0 + 5, window_end_ns=T0 + 6))
    assert state.snapshot()[0].set_lag is None
