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


def test_handling_until_a_rep_gives_the_slices_windows_and_stops_after_the_first_rep() -> None:
    """The analyzer's worker takes slices of 16 until one owns a rep: the same windows as a call per slice."""
    ticks = _messages(3, 9.0)
    batch = [m for t in ticks for m in t]
    now = ORIGIN_NS + len(ticks) * NS // 20
    per_slice, calls = AnalyzerEngine(), []
    for k in range(0, len(batch), 16):
        calls.append(per_slice.handle_batch(batch[k : k + 16], now))

    def owns_rep(out) -> bool:
        return any(m.rep_peak_ns is not None for m in out.metrics)

    until, outs, used_all = AnalyzerEngine(), [], 0
    while used_all < len(batch):
        out, used = until.handle_until_rep(batch[used_all:], now, 16)
        covered = calls[used_all // 16 : -(-(used_all + used) // 16)]
        # It stops right after the first slice whose windows own a rep (or at the end), never before.
        assert not any(owns_rep(c) for c in covered[:-1])
        assert owns_rep(covered[-1]) or used_all + used == len(batch)
        assert len(out.frames) == used
        outs.append(out)
        used_all += used
    assert len(outs) > 2  # the recording has several reps: several calls
    assert _dump([m for o in outs for m in o.metrics]) == _dump([m for c in calls for m in c.metrics])
    assert [f is None for o in outs for f in o.frames] == [f is None for c in calls for f in c.frames]
    assert sum(len(o.dead_letters) for o in outs) == 1
    # Asked to stop early (a session change waits for the engine), it ends after the slice it is in.
    early, used = AnalyzerEngine().handle_until_rep(batch, now, 16, stop_early=lambda: True)
    assert used == 16 and len(early.frames) == 16
