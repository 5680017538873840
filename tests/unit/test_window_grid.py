"""Each station's windows lie on a grid of its own: offset within the hop by a multiple of the stagger,
picked by the station's name, so a class squatting on one count does not close every rep window at once."""

from __future__ import annotations

import dataclasses
import itertools
from collections import Counter

from kinesync.streaming.engine import AnalyzerEngine
from kinesync.streaming.station import AnalysisConfig, window_grid_offset_ns
from tests.sim_messages import sim_tick_messages

NS = 1_000_000_000
ORIGIN_NS = 1_700_000_000 * NS
HOP_NS = NS // 4
STAGGER_NS = NS // 20


def _window_starts(config: AnalysisConfig, n_stations: int, session_s: float) -> dict[str, list[int]]:
    engine = AnalyzerEngine(config)
    starts: dict[str, list[int]] = {}
    for k, tick in enumerate(sim_tick_messages(n_stations, session_s, (100.0,), 3, ORIGIN_NS), 1):
        for w in engine.handle_batch(tick, ORIGIN_NS + k * NS // 20).metrics:
            starts.setdefault(w.station, []).append(w.window_start_ns)
    return starts


def test_the_offset_is_a_multiple_of_the_stagger_below_the_hop_and_the_same_every_time() -> None:
    names = [f"station-{i:02d}" for i in range(1, 65)]
    offsets = [window_grid_offset_ns(n, HOP_NS, STAGGER_NS) for n in names]
    assert all(o % STAGGER_NS == 0 and 0 <= o < HOP_NS for o in offsets)
    assert offsets == [window_grid_offset_ns(n, HOP_NS, STAGGER_NS) for n in names]  # no per-process salt
    spread = Counter(offsets)
    assert len(spread) == HOP_NS // STAGGER_NS and max(spread.values()) <= 2 * len(names) // len(spread)
    assert {window_grid_offset_ns(n, HOP_NS, 0) for n in names} == {0}
    assert {window_grid_offset_ns(n, HOP_NS, HOP_NS) for n in names} == {0}


def test_every_window_of_a_station_starts_on_its_own_grid() -> None:
    config = AnalysisConfig()
    starts = _window_starts(config, 8, 4.0)
    assert len(starts) == 8
    for station, found in starts.items():
        offset = window_grid_offset_ns(station, HOP_NS, STAGGER_NS)
        assert found and all((s - offset) % HOP_NS == 0 for s in found), station
        assert all(b - a == HOP_NS for a, b in itertools.pairwise(found))
    # Stations on different grids close their windows at different moments.
    assert len({found[0] % HOP_NS for found in starts.values()}) > 1


def test_no_stagger_puts_every_station_on_one_grid() -> None:
    starts = _window_starts(dataclasses.replace(AnalysisConfig(), stagger_s=0.0), 8, 4.0)
    assert len(starts) == 8
    assert all(s % HOP_NS == 0 for found in starts.values() for s in found)
