"""C3D and CSV sources on the real recordings, and the replay clock.

Recordings (../shared/data, see PROVENANCE.md): gait_emg_forceplates_1000hz.c3d from
PhilD001/biomechZoo (Apache-2.0); squat_jump_dual_forceplates_1000hz.csv from andrewlba/ACL_squat_jump
(MIT, copyright (c) 2022 andrewlba).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from kinesync.codec.frame import SensorKind
from kinesync.sources.c3d import auto_mapping, c3d_devices, emg_channel_name, read_c3d
from kinesync.sources.csv import csv_devices, read_csv
from kinesync.sources.mapping import SourceMapping, load_mapping
from kinesync.sources.replay import RecordedDevice, ReplaySource
from kinesync.streaming.roles import emg_role

REPO = Path(__file__).resolve().parents[2]


def test_emg_names_follow_the_analysis_roles() -> None:
    assert emg_channel_name("R Rect") == "quad_right"
    assert emg_channel_name("L Gluteus Max") == "glute_left"
    assert emg_channel_name("Pec Major R") == "pec_right"
    assert emg_channel_name("L Tib Ant") == "tib_ant_left"
    assert emg_role("tib_ant_left") is None and emg_role("hams_right") is None


def test_c3d_auto_mapping_flips_downward_force_to_vertical_up(shared_data: Path) -> None:
    rec = read_c3d(shared_data / "gait_emg_forceplates_1000hz.c3d")
    assert rec.rate_hz == 1000.0 and rec.n_samples == 1970 and len(rec.plates) == 2
    mapping = auto_mapping(rec, "gait")
    emg, force = mapping.devices
    assert emg.kind == "emg" and len(emg.channels) == 12 and emg.channels[1].name == "quad_right"
    by_name = {c.name: c for c in force.channels}
    assert by_name["fz_left"].source == "Fz1" and by_name["fz_left"].scale == -1.0
    assert by_name["fz_right"].source == "Fz2" and by_name["mx_right"].unit == "Nmm"
    devices = {d.device: d for d in c3d_devices(shared_data / "gait_emg_forceplates_1000hz.c3d", "gait")}
    fz = devices["gait-force"].data[list(devices["gait-force"].channels).index("fz_left")]
    assert fz.dtype == np.float32 and fz.min() >= 0 and fz.max() == pytest.approx(501.41, abs=0.01)


def test_c3d_mapping_file_selects_and_renames(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"devices": [{"station": "s", "device": "d", "kind": "force",
                                             "channels": [{"source": "Fz2", "name": "fz", "scale": -1}]}]}))
    (dev,) = c3d_devices(shared_data / "gait_emg_forceplates_1000hz.c3d", "ignored", load_mapping(path))
    assert dev.channels == ("fz",) and dev.data.shape == (1, 1970)
    bad = SourceMapping.model_validate({"devices": [{"station": "s", "device": "d", "kind": "emg",
                                                     "channels": [{"source": "Nope", "name": "x"}]}]})
    with pytest.raises(ValueError, match="'Nope' is not in the recording"):
        c3d_devices(shared_data / "gait_emg_forceplates_1000hz.c3d", "s", bad)
    with pytest.raises(ValueError, match="does not exist"):
        load_mapping(tmp_path / "missing.json")


def test_csv_with_bom_header_lines_and_vertical_y(shared_data: Path) -> None:
    path = shared_data / "squat_jump_dual_forceplates_1000hz.csv"
    rec = read_csv(path)
    assert rec.rate_hz == 1000.0 and len(rec.columns["time"]) == 7850 and "time" in rec.columns  # BOM stripped
    (dev,) = csv_devices(path, load_mapping(REPO / "docs/mappings/squat_jump_dual_forceplates.json"))
    assert dev.kind is SensorKind.FORCE and dev.channels[:2] == ("fz_left", "fz_right")
    total = dev.data[0].astype(np.float64) + dev.data[1]
    assert total.max() == pytest.approx(2372, abs=1)
    assert np.median(total[:500]) == pytest.approx(583, abs=15)  # quiet standing
    assert int(np.sum(total < 20)) == 956  # flight phase
    assert dev.units[-1] == "m"


def test_csv_without_a_header_row_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("1,2\n3,4\n")
    with pytest.raises(ValueError, match="no column-name row"):
        read_csv(p)


def _dev(n: int, rate: float = 100.0) -> RecordedDevice:
    return RecordedDevice("s", "d", SensorKind.FORCE, ("fz",), ("N",), rate, np.arange(n, dtype=np.float32)[None, :])


async def test_replay_frames_are_contiguous_and_loop_continues_time() -> None:
    source = ReplaySource([_dev(25)], frame_s=0.1, speed=None, loop=True, max_loops=3, origin_ns=0)
    frames = [f async for tick in source.ticks() for f in tick]
    data = np.concatenate([f.samples[0] for f in frames])
    np.testing.assert_array_equal(data, np.tile(np.arange(25), 3))
    assert [f.t0_ns for f in frames] == [i * 100_000_000 for i in range(len(frames))][: len(frames)]
    assert [f.seq for f in frames] == list(range(len(frames)))


async def test_replay_at_real_time_takes_the_recordings_duration() -> None:
    source = ReplaySource([_dev(30)], frame_s=0.05, speed=1.0)
    loop = asyncio.get_running_loop()
    t = loop.time()
    n = sum([f.n_samples async for tick in source.ticks() for f in tick])
    assert n == 30 and 0.25 <= loop.time() - t < 0.6
