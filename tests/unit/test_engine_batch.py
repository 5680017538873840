"""The analyzer service hands the engine whole fetched batches: same windows and reps as frame by frame."""

from __future__ import annotations

from kinesync.bus.base import Message
from kinesync.streaming.engine import AnalyzerEngine
from tests.sim_messages import sim_tick_messages

NS = 1_000_000_000
ORIGIN_NS = 1_700_000_000 * NS


def _messages(n_stations: int, session_s: float) -> list[list[Message]]:
    ticks = sim_tick_messages(n_stations, session_s, (70.0, 130.0), 3, ORIGIN_NS)
    # A bad frame in the middle: a dead letter in its place, the rest of the batch goes on.
    offset = sum(len(t) for t in ticks)
    ticks[40].insert(1, Message("kinesync.emg", 0, offset, b"station-01", b"not a frame", 0))
    return ticks


def _dump(metrics) -> list[dict]:
    return sorted((m.model_dump(exclude={"emitted_at_ns"}) for m in metrics),
                  key=lambda d: (d["station"], d["window_start_ns"], d.get("rep_peak_ns") or 0))


def test_batches_of_any_size_give_the_frame_by_frame_windows_and_reps() -> None:
    ticks = _messages(3, 9.0)
    one = AnalyzerEngine()
    windows, reps = [], []
    for k, tick in enumerate(ticks):
        now = ORIGIN_NS + (k + 1) * NS // 20
        for msg in tick:
            out = one.handle(msg, now)
            windows += out.metrics
            reps += out.reps
        windows += one.tick(now)
        reps += one.take_reps()
    assert reps and windows and one.counters.dead_letters == 1

    # Batches of 1, 7 and 40 ticks (2 s: a backlog, polled per hop of data within the batch).
    for size in (1, 7, 40):
        eng = AnalyzerEngine()
        b_windows, b_reps, dead = [], [], 0
        for k in range(0, len(ticks), size):
            now = ORIGIN_NS + (k + size) * NS // 20
            batch = [m for t in ticks[k : k + size] for m in t]
            out = eng.handle_batch(batch, now)
            assert len(out.frames) == len(batch)
            dead += len(out.dead_letters)
            b_windows += out.metrics + eng.tick(now)
            b_reps += eng.take_reps()
        assert dead == 1
        assert _dump(b_windows) == _dump(windows), size
        assert _dump(b_reps) == _dump(reps), size
