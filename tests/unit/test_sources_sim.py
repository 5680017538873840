"""The sim source paced to the wall clock: the same frames as unpaced, synthesised ahead, never early."""

from __future__ import annotations

import time

import numpy as np
import pytest

from kinesync.sources.sim import SimSource, _Device, sim_stations

NS = 1_000_000_000


async def _collect(source: SimSource, duration_s: float) -> list[list]:
    return [frames async for frames in source.ticks(duration_s)]


def _same(a: list[list], b: list[list]) -> None:
    assert len(a) == len(b)
    for ta, tb in zip(a, b, strict=True):
        assert [(f.device, f.seq, f.t0_ns) for f in ta] == [(f.device, f.seq, f.t0_ns) for f in tb]
        for fa, fb in zip(ta, tb, strict=True):
            np.testing.assert_array_equal(fa.samples, fb.samples)


async def test_paced_ticks_are_the_unpaced_ticks() -> None:
    stations = sim_stations(3, (80.0, 120.0), 11)
    origin = time.time_ns() - 60 * NS  # every tick already due: paced runs flat out, late
    paced = await _collect(SimSource(stations, realtime=True, origin_ns=origin, lookahead_s=0.3), 3.4)
    unpaced = await _collect(SimSource(stations, realtime=False, origin_ns=origin), 3.4)
    assert len(paced) == 68
    _same(paced, unpaced)


async def test_paced_ticks_synthesise_ahead_and_are_never_early() -> None:
    origin = time.time_ns() + NS // 10
    source = SimSource(sim_stations(2, (100.0,), 3), realtime=True, origin_ns=origin, lookahead_s=0.4)
    seen: list[tuple[int, int, int]] = []
    async for frames in source.ticks(0.5):
        now = time.time_ns()
        end_ns = max(f.t0_ns + round(f.samples.shape[1] * NS / f.rate_hz) for f in frames)
        seen.append((now, end_ns, source.devices[0].next_index))
    assert len(seen) == 10
    for now, end_ns, _ in seen:
        assert now >= end_ns - NS // 1000  # a frame leaves once its last sample exists (sleep's ms grain)
    # The first tick went out with 0.4 s of the EMG already synthesised (the look-ahead), the last
    # with no more than the session holds.
    emg_rate = source.devices[0].rate_hz
    assert seen[0][2] == round(0.4 * emg_rate)
    assert seen[-1][2] == round(0.5 * emg_rate)


async def test_paced_ticks_without_stations_still_tick() -> None:
    source = SimSource([], realtime=True, origin_ns=time.time_ns() - NS)
    assert await _collect(source, 0.2) == [[], [], [], []]


def test_a_paced_session_starts_on_the_frame_grid_so_window_ends_are_frame_ends() -> None:
    source = SimSource(sim_stations(1, (100.0,), 3), frame_s=0.05)
    assert source.origin_ns % (NS // 20) == 0
    assert 0 <= source.origin_ns - time.time_ns() <= NS // 20


async def test_a_presynthesised_session_gives_the_same_frames_and_starts_after_its_synthesis(monkeypatch) -> None:
    done: list[int] = []  # when each device's synthesis ended
    synthesise = _Device.presynthesise

    def timed(self: _Device, session_s: float) -> None:
        synthesise(self, session_s)
        done.append(time.time_ns())

    monkeypatch.setattr(_Device, "presynthesise", timed)
    stations = sim_stations(3, (80.0, 120.0), 11)
    ahead = SimSource(stations, realtime=False, presynth_s=2.0)
    assert len(done) == 6 and all(d._ready is not None and d._ready.shape[1] == round(2.0 * d.rate_hz)
                                  for d in ahead.devices)
    # Its clock starts once the samples exist, on the frame grid.
    assert ahead.origin_ns % (NS // 20) == 0
    assert max(done) <= ahead.origin_ns <= time.time_ns() + NS // 20
    live = SimSource(stations, realtime=False, origin_ns=ahead.origin_ns)
    # 3 s of session: 2 s cut from the synthesised samples, the last second synthesised as it goes.
    _same(await _collect(ahead, 3.0), await _collect(live, 3.0))


def test_stations_keep_their_own_tempo_from_a_seeded_range() -> None:
    spread = [st.spec.rep_period_s for st in sim_stations(64, (100.0,), 7, (3.0, 3.6))]
    assert all(3.0 <= p <= 3.6 for p in spread)
    assert max(spread) - min(spread) > 0.4  # spread over the range, not bunched
    assert spread == [st.spec.rep_period_s for st in sim_stations(64, (100.0,), 7, (3.0, 3.6))]
    assert spread != [st.spec.rep_period_s for st in sim_stations(64, (100.0,), 8, (3.0, 3.6))]
    # Equal ends: the whole floor in step, as before the range existed.
    assert {st.spec.rep_period_s for st in sim_stations(5, (100.0,), 7)} == {3.0}
    # Apart after a few reps: the floor's rep ends spread over most of a period by the fourth rep.
    ends = sorted((4 * p) % 3.0 for p in spread)
    assert max(np.diff(ends)) < 0.5


def test_a_falling_tempo_range_is_refused() -> None:
    with pytest.raises(ValueError, match="low <= high"):
        sim_stations(2, (100.0,), 7, (3.4, 3.0))
