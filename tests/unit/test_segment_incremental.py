"""The incremental rep segmentation equals the plain whole-history definition, however it is fed.

``AscentTracker`` is what the analyzer runs (each force sample looked at once); the reference below
is the definition written out on one array: velocity integrated from the last quiet stretch, an
ascent after a descent is a rep, the take-off search ahead of it. Fed the whole recording at once or
in blocks of any size, the tracker finds the same reps at the same samples.
"""

from __future__ import annotations

import numpy as np
import pytest

from kinesync.sim.athlete import AthleteSpec, SimAthlete
from kinesync.sim.physiology import EXERCISES, PhysiologySpec, simulate_session
from kinesync.streaming.segment import (
    AscentTracker,
    SegmentConfig,
    _last_true,
    _run_starts,
    _trailing_quiet,
    ascents,
)

G = 9.80665
CFG = SegmentConfig()


def reference_ascents(f: np.ndarray, rate: float, cfg: SegmentConfig) -> list[int] | None:
    """The definition on one whole array (the analyzer's segmentation before it went incremental)."""
    steady, mean, _ = _trailing_quiet(f, rate, cfg)
    if not steady.any():
        return None
    quiet = _at_rest(steady, mean, rate, cfg)
    last = _last_true(quiet)
    ok = last >= 0
    ref = np.where(ok, mean[np.maximum(last, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(ok, (f - ref) / (ref / G), 0.0)
    c = np.cumsum(acc) / rate
    v = c - c[np.maximum(last, 0)]
    v[~ok] = np.nan
    with np.errstate(invalid="ignore"):
        down, up = _run_starts(v < -cfg.v_up_m_s), _run_starts(v > cfg.v_up_m_s)
    shortest = max(1, round(cfg.min_flight_s * rate))
    low = f < cfg.flight_threshold_n
    flights = [int(a) + shortest - 1 for a in _run_starts(low)
               if a + shortest <= f.size and low[a : a + shortest].all()]
    marks = sorted([(int(i), 0) for i in _run_starts(quiet)] + [(i, 1) for i in flights]
                   + [(int(i), 2) for i in down] + [(int(i), 3) for i in up])
    rebound = round(cfg.rebound_s * rate)
    out: list[int] = []
    armed = landed = False
    for i, kind in marks:
        if kind == 0:
            landed = False
        elif kind == 1:
            armed, landed = False, True
        elif kind == 2:
            armed = True
        elif armed:
            armed = False
            below = np.flatnonzero(~(v[:i] > 0.0))
            start = int(below[-1]) + 1 if below.size else i
            takeoff = np.flatnonzero(low[start : start + rebound + 1])
            if landed and not takeoff.size:
                continue
            out.append(start + int(takeoff[0]) // 2 if takeoff.size else start)
    return sorted(out)


def _at_rest(steady: np.ndarray, mean: np.ndarray, rate: float, cfg: SegmentConfig) -> np.ndarray:
    """Which steady stretches are rests: a run of them is at rest from its first stretch within
    ``rest_level_share`` of the last rest's mean, or once it has held ``new_rest_level_s``."""
    hold = max(1, round((cfg.new_rest_level_s - cfg.quiet_s) * rate))
    rest = steady.copy()
    ref = np.nan
    starts = _run_starts(steady)
    ends = _run_starts(~steady)
    for a in starts:
        later = ends[ends > a]
        b = int(later[0]) if later.size else steady.size
        if not np.isnan(ref):
            ok = [j for j in range(a, b) if abs(mean[j] - ref) <= cfg.rest_level_share * abs(ref) or j - a + 1 >= hold]
            first = ok[0] if ok else b
            rest[a:first] = False
            if first >= b:
                continue
        ref = mean[b - 1]
    return rest


def _session_force(exercise: str, seed: int) -> tuple[np.ndarray, float]:
    spec = PhysiologySpec(exercise=exercise, seed=seed, eccentric=True, heavy_share=0.4, paused_share=0.3)
    session = simulate_session(spec, n_reps=6)
    return session.force.sum(axis=0), float(spec.force_rate_hz)


def _fed(f: np.ndarray, rate: float, sizes: list[int]) -> list[int]:
    tracker = AscentTracker(rate, CFG, first_index=1000)
    i = 0
    for n in sizes:
        tracker.feed(f[i : i + n])
        i += n
    tracker.feed(f[i:])
    tracker.finish()
    return [r - 1000 for r in tracker.reps]


@pytest.mark.parametrize("exercise", [e for e in EXERCISES if e != "bench_press"])
def test_fed_in_blocks_equals_the_whole_history_definition(exercise: str) -> None:
    f, rate = _session_force(exercise, seed=4)
    expected = reference_ascents(f, rate, CFG)
    assert expected is not None and len(expected) >= 6
    assert ascents(f, rate, CFG) == expected
    rng = np.random.default_rng(1)
    for sizes in ([50] * (f.size // 50), list(rng.integers(1, 700, f.size // 100)), [1] * 3000 + [250] * 200):
        assert _fed(f, rate, sizes) == expected


def test_a_jump_is_decided_at_its_takeoff_and_a_squat_after_the_rebound_span() -> None:
    f, rate = _session_force("back_squat", seed=2)
    expected = reference_ascents(f, rate, CFG)
    tracker = AscentTracker(rate, CFG)
    seen_at: dict[int, int] = {}
    for i in range(0, f.size, 50):
        tracker.feed(f[i : i + 50])
        for r in tracker.reps:
            seen_at.setdefault(r, tracker.next_index)
    assert sorted(seen_at) == expected
    # A squat's rep is known once the take-off search has run out (no flight), and not later.
    span = round(CFG.rebound_s * rate)
    assert all(r + span < at <= r + span + 50 for r, at in seen_at.items())


def test_nobody_on_the_plates_gives_no_reps_and_no_velocity() -> None:
    rate = 1000.0
    assert ascents(np.zeros(5000), rate, CFG) is None
    tracker = AscentTracker(rate, CFG)
    tracker.feed(np.random.default_rng(0).normal(0.0, 2.0, 5000))
    assert tracker.last_quiet == -1 and tracker.reps == []


def test_the_velocity_stops_integrating_long_after_the_last_quiet_stretch() -> None:
    rate = 1000.0
    stand = np.full(2000, 800.0)
    # Never quiet again (20 N of noise), loaded 20 N below and above body weight in turns: the
    # integrated velocity swings between about ±0.5 m/s, a rep every 4 s for as long as it is trusted.
    n = 30_000
    square = np.where((np.arange(n) // 2000) % 2 == 0, -20.0, 20.0)
    restless = 800.0 + square + np.random.default_rng(3).normal(0.0, 20.0, n)
    f = np.concatenate((stand, restless))
    tracker = AscentTracker(rate, CFG)
    tracker.feed(f)
    tracker.finish()
    limit = 2000 + round(CFG.max_integration_s * rate)
    assert tracker.last_quiet < 2000 + round(CFG.quiet_s * rate)
    assert tracker.reps and all(r < limit for r in tracker.reps)


def test_a_load_flickering_at_the_flight_threshold_keeps_the_take_off_search_short() -> None:
    """An empty plate whose noise crosses the flight threshold for hours makes a low run every few
    samples: those no future rep can take off from are forgotten, so memory and time stay bounded."""
    rate = 1000.0
    tracker = AscentTracker(rate, CFG)
    noise = np.random.default_rng(4).normal(CFG.flight_threshold_n, 5.0, 600_000)
    for block in np.split(noise, 2400):  # 10 min in 250 ms hops
        tracker.feed(block)
    assert tracker.reps == []
    assert len(tracker._lows) <= 2


def test_a_slow_ascent_that_holds_its_force_steady_is_one_rep() -> None:
    """A heavy squat's ascent at a near-constant deceleration holds the force steady (within 1 %) but
    about 12 % below the body weight for longer than a quiet stretch: that is no rest, and the stop at
    the top is no second rep (it was one, with the velocity restarted against the ascent's force)."""
    ascent_s = 0.4 / 0.468  # 0.4 m at the mean concentric velocity of an 80 kg bar on this athlete
    spec = AthleteSpec.for_exercise("back_squat", depth_m=0.4, movement_s=0.7 + ascent_s, rep_period_s=4.0,
                                    concentric_share=ascent_s / (0.7 + ascent_s), bar_mass_kg=80.0, seed=3)
    rate = spec.force_rate_hz
    f = SimAthlete(spec).force(0, round(17.0 * rate)).sum(axis=0)
    steady, mean, _ = _trailing_quiet(f, rate, CFG)
    weight = float(np.median(mean[steady]))
    off = steady & (np.abs(mean - weight) > 0.1 * weight)
    assert off.any(), "the simulated ascent no longer holds a steady force below the body weight"
    reps = ascents(f, rate, CFG)
    assert reps is not None and len(reps) == 4  # one every 4 s
    assert reps == reference_ascents(f, rate, CFG)
    assert _fed(f, rate, [50] * (f.size // 50)) == reps


def test_a_new_weight_held_for_a_second_is_a_rest() -> None:
    """A bar taken from the rack: the plates carry more, steadily. The velocity integrates against the
    old weight until the new one has held ``new_rest_level_s``, then rests on it."""
    rate = 1000.0
    rng = np.random.default_rng(5)
    stand, loaded = 800.0 + rng.normal(0.0, 1.0, 2000), 1300.0 + rng.normal(0.0, 1.0, 3000)
    tracker = AscentTracker(rate, CFG)
    tracker.feed(stand)
    tracker.feed(loaded[:700])
    assert tracker.last_quiet == 1999  # the old weight's last rest: 0.7 s at the new one is not yet one
    tracker.feed(loaded[700:])
    assert tracker.last_quiet == 4999
    assert tracker.reps == []  # no descent before it: loading the bar is no rep
