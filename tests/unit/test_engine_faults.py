"""Fault isolation at the station boundary, and force plates that carry nobody."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kinesync.bus.base import Message
from kinesync.codec.frame import Frame, SensorKind
from kinesync.streaming.engine import ANALYSIS_SOURCE, AnalyzerEngine
from kinesync.streaming.station import AnalysisConfig, StationAnalyzer
from tests.sim_messages import sim_tick_messages

NS = 1_000_000_000
ORIGIN_NS = 1_700_000_000 * NS
HOP_NS = NS // 4


def _ticks(n_stations: int, session_s: float, force=None) -> list[list[Message]]:
    """50 ms ticks of a simulated floor as messages; ``force(frame)`` may rewrite force frames."""
    rewrite = None if force is None else (lambda f: force(f) if f.kind == SensorKind.FORCE else f)
    return sim_tick_messages(n_stations, session_s, (90.0, 110.0), 5, ORIGIN_NS, rewrite)


def _run(engine: AnalyzerEngine, ticks: list[list[Message]]) -> tuple[list, list, list]:
    windows, reps, faults = [], [], []
    for k, tick in enumerate(ticks):
        now = ORIGIN_NS + (k + 1) * NS // 20
        windows += engine.handle_batch(tick, now).metrics + engine.tick(now)
        reps += engine.take_reps()
        faults += engine.take_faults()
    return windows, reps, faults


def _by_station(windows) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for w in windows:
        out.setdefault(w.station, []).append(w.window_start_ns)
    return out


def test_a_window_that_raises_is_flagged_and_the_station_goes_on() -> None:
    ticks = _ticks(2, 10.0)
    clean, clean_reps, _ = _run(AnalyzerEngine(), ticks)
    engine = AnalyzerEngine(AnalysisConfig(fault_drill_stations=frozenset({"station-02"})))
    windows, reps, faults = _run(engine, ticks)

    ok = [w for w in windows if w.station == "station-01"]
    assert [w.model_dump(exclude={"emitted_at_ns"}) for w in ok] == [
        w.model_dump(exclude={"emitted_at_ns"}) for w in clean if w.station == "station-01"]
    assert {r.rep_peak_ns for r in reps} == {r.rep_peak_ns for r in clean_reps if r.station == "station-01"}
    bad = [w for w in windows if w.station == "station-02"]
    assert [w.window_start_ns for w in bad] == [w.window_start_ns for w in clean if w.station == "station-02"]
    assert all(w.flags == ["analysis_error"] and w.lag_ms is None for w in bad)
    assert [f.window_start_ns for f in faults] == [w.window_start_ns for w in bad]
    assert all(f.station == "station-02" and f.source_topic == ANALYSIS_SOURCE and f.error_type == "RuntimeError"
               for f in faults)
    assert engine.counters.analysis_errors == len(bad)


def test_a_station_whose_intake_raises_is_rebuilt_and_the_others_are_untouched(monkeypatch) -> None:
    ticks = _ticks(3, 12.0)
    clean, _, _ = _run(AnalyzerEngine(), ticks)
    real_add = StationAnalyzer.add
    calls = {"n": 0}

    def add(self: StationAnalyzer, frame: Frame, now: int, batch=None) -> int:  # type: ignore[no-untyped-def]
        if self.station == "station-02" and frame.kind == SensorKind.EMG:
            calls["n"] += 1
            if calls["n"] == 80:  # 4 s in: the station has emitted windows already
                raise ValueError("ring buffer corrupted")
        return real_add(self, frame, now, batch)

    monkeypatch.setattr(StationAnalyzer, "add", add)
    engine = AnalyzerEngine()
    windows, _, faults = _run(engine, ticks)
    before = _by_station(clean)
    after = _by_station(windows)
    for other in ("station-01", "station-03"):
        assert after[other] == before[other]
    # One dead letter naming the frame that raised, one flagged window in the station's place.
    assert len(faults) == 1
    f = faults[0]
    assert f.station == "station-02" and f.error_type == "ValueError" and f.source_topic == "kinesync.emg"
    assert f.offset is not None and "ring buffer corrupted" in f.reason
    flagged = [w for w in windows if "analysis_error" in w.flags]
    assert [w.window_start_ns for w in flagged] == [f.window_start_ns]
    # Rebuilt from its next frames: windows again after the fault, each key at most once.
    st2 = after["station-02"]
    assert len(st2) == len(set(st2))
    assert max(st2) == max(before["station-02"])
    assert sum(1 for t in st2 if t > f.window_start_ns) > 10


def _constant_force(value_n: float, sd_n: float = 1.0):
    rng = np.random.default_rng(0)

    def rewrite(frame: Frame) -> Frame:
        noise = rng.normal(value_n, sd_n, frame.samples.shape) / frame.samples.shape[0]
        return dataclasses.replace(frame, samples=noise.astype(np.float32))

    return rewrite


@pytest.mark.parametrize(("force", "flag"), [
    (_constant_force(0.0), "plate_unloaded"),  # nobody on the plates, or zeroed with the athlete on them
    (_constant_force(-700.0, 3.0), "force_negative"),  # stored downward
])
def test_a_plate_without_a_weighing_gives_a_flag_and_no_force_metrics(force, flag) -> None:
    engine = AnalyzerEngine()
    windows, reps, faults = _run(engine, _ticks(1, 12.0, force))
    assert not faults and windows
    assert len(reps) >= 3  # the EMG still finds the reps and times them
    for r in reps:
        assert flag in r.flags, r.flags
        assert r.body_weight_n is None and r.peak_propulsive_force_n is None and r.jump_height_flight_m is None
        assert r.lag_ms is not None


def test_body_weight_is_never_taken_from_an_empty_plate_or_a_flight() -> None:
    from kinesync.dsp.force import body_weight

    rng = np.random.default_rng(1)
    fs = 1000.0
    standing = 700.0 + rng.normal(0, 3.0, 3000)  # SD 3 N: a person standing
    empty = rng.normal(0, 0.5, 3000)  # SD 0.5 N: steadier than anyone
    f = np.concatenate([empty, standing, empty])
    assert body_weight(f, fs)[0] == pytest.approx(0.0, abs=1)  # the old rule takes the empty plate
    bw, sd = body_weight(f, fs, min_load_n=50.0, flight_threshold_n=20.0)
    assert bw == pytest.approx(700.0, abs=0.5) and sd == pytest.approx(3.0, rel=0.1)
    assert body_weight(empty, fs, min_load_n=50.0, flight_threshold_n=20.0) is None
    # A 1 s window holding part of a flight never counts, however steady the rest.
    jump = np.concatenate([standing[:1500], np.zeros(300), standing[1500:]])
    windows = body_weight(jump, fs, min_load_n=50.0, flight_threshold_n=20.0)
    assert windows is not None and windows[0] == pytest.approx(700.0, abs=0.5)


@pytest.mark.parametrize("rate_hz", [1.0, 100.0, 500.0, 999.5])
def test_emg_at_low_rates_is_flagged_not_fatal(rate_hz: float) -> None:
    from kinesync.streaming.transforms import EmgTransform

    tf = EmgTransform(("R Rect", "Pec Maj"), rate_hz, 6.0)
    expected = "emg_rate_too_low" if rate_hz < 200 else "emg_rate_low"
    assert tf.rate_flag == expected
    assert tf.usable == (expected == "emg_rate_low")
    out = tf(np.ones((2, 50), dtype=np.float32))
    assert out.shape == (tf.n_out, 50) and np.isfinite(out).all()
