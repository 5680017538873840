"""C3D and CSV sources on the real recordings, and the replay clock.

Recordings (../shared/data, see PROVENANCE.md): gait_emg_forceplates_1000hz.c3d from
PhilD001/biomechZoo (Apache-2.0); squat_jump_dual_forceplates_1000hz.csv from andrewlba/ACL_squat_jump
(MIT, copyright (c) 2022 andrewlba); emg_single_channel_bursts_1000hz.txt from PIA-Group/BioSPPy
(BSD-3-Clause, copyright (c) 2015 Instituto de Telecomunicações).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import numpy as np
import pytest

from kinesync.codec.frame import SensorKind, decode, encode
from kinesync.sources.c3d import C3DFile, auto_mapping, emg_channel_name, read_c3d
from kinesync.sources.csv import CsvFile, read_csv
from kinesync.sources.mapping import LegacyMapping, SourceMapping, load_mapping
from kinesync.sources.recording import Recording, RecordingError, Track
from kinesync.sources.replay import ReplaySource
from kinesync.sources.text import read_text
from kinesync.streaming.roles import emg_role

REPO = Path(__file__).resolve().parents[2]


def test_emg_names_follow_the_analysis_roles() -> None:
    assert emg_channel_name("R Rect") == "quad_right"
    assert emg_channel_name("L Gluteus Max") == "glute_left"
    assert emg_channel_name("Pec Major R") == "pec_right"
    assert emg_channel_name("L Tib Ant") == "tib_ant_left"
    assert emg_role("tib_ant_left") is None and emg_role("hams_right") is None


def test_c3d_auto_mapping_flips_downward_force_to_vertical_up(shared_data: Path) -> None:
    rec = C3DFile.open(shared_data / "gait_emg_forceplates_1000hz.c3d")
    assert rec.rate_hz == 1000.0 and rec.n_samples == 1970 and len(rec.plates) == 2
    mapping = auto_mapping(rec, "gait")
    emg, force = mapping.devices
    assert emg.kind == "emg" and len(emg.channels) == 12 and emg.channels[1].name == "quad_right"
    by_name = {c.name: c for c in force.channels}
    assert by_name["fz_left"].source == "Fz1" and by_name["fz_left"].scale == -1.0
    assert by_name["fz_right"].source == "Fz2" and by_name["mx_right"].unit == "Nmm"
    tracks = {t.device: t for t in read_c3d(shared_data / "gait_emg_forceplates_1000hz.c3d", station="gait").tracks}
    fz = tracks["gait-force"].samples[list(tracks["gait-force"].channels).index("fz_left")]
    assert fz.dtype == np.float32 and fz.min() >= 0 and fz.max() == pytest.approx(501.41, abs=0.01)


def test_c3d_mapping_file_selects_and_renames(shared_data: Path, tmp_path: Path) -> None:
    path = tmp_path / "map.json"
    path.write_text(json.dumps({"devices": [{"station": "s", "device": "d", "kind": "force",
                                             "channels": [{"source": "Fz2", "name": "fz", "scale": -1}]}]}))
    rec = read_c3d(shared_data / "gait_emg_forceplates_1000hz.c3d", load_mapping(path), station="ignored")
    (track,) = rec.tracks
    assert rec.station == "s" and track.channels == ("fz",) and track.samples.shape == (1, 1970)
    bad = SourceMapping.model_validate({"devices": [{"station": "s", "device": "d", "kind": "emg",
                                                     "channels": [{"source": "Nope", "name": "x"}]}]})
    with pytest.raises(ValueError, match="'Nope' is not in the recording"):
        read_c3d(shared_data / "gait_emg_forceplates_1000hz.c3d", bad)
    with pytest.raises(ValueError, match="does not exist"):
        load_mapping(tmp_path / "missing.json")


def test_old_name_role_mapping_is_converted_against_the_file_with_a_warning(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lines = tmp_path / "map.txt"
    lines.write_text("# old format\nR Rect = quad\nL Spare = -\nFz2 = fz_right\n", encoding="utf-8")
    with caplog.at_level("WARNING", logger="kinesync.sources.mapping"):
        legacy = load_mapping(lines)
    assert isinstance(legacy, LegacyMapping) and legacy.renames == {"R Rect": "quad", "L Spare": "-", "Fz2": "fz_right"}
    (warning,) = caplog.records
    assert "converted on load" in warning.getMessage() and '"devices"' in warning.getMessage()
    rec = read_c3d(shared_data / "gait_emg_forceplates_1000hz.c3d", legacy, station="gait")
    emg, force = rec.tracks
    assert "quad" in emg.channels and "quad_right" not in emg.channels and "spare_left" not in emg.channels
    assert "quad_left" in emg.channels and len(emg.channels) == 11
    assert rec.mapping is not None and rec.mapping.devices[0].channels[1].source == "R Rect"
    # The converted mapping, saved as JSON, reads the file the same way.
    saved = tmp_path / "map.json"
    saved.write_text(rec.mapping.model_dump_json(), encoding="utf-8")
    again = read_c3d(shared_data / "gait_emg_forceplates_1000hz.c3d", load_mapping(saved))
    assert [t.channels for t in again.tracks] == [t.channels for t in rec.tracks]
    np.testing.assert_array_equal(again.tracks[1].samples, force.samples)
    flat = tmp_path / "flat.json"
    flat.write_text('{"ground_force1_vy": "fz_left"}', encoding="utf-8")
    assert load_mapping(flat) == LegacyMapping(flat, {"ground_force1_vy": "fz_left"})
    broken = tmp_path / "broken.json"
    broken.write_text('{"devices": [', encoding="utf-8")
    with pytest.raises(RecordingError, match="is invalid"):
        load_mapping(broken)


def test_csv_with_bom_header_lines_and_vertical_y(shared_data: Path) -> None:
    path = shared_data / "squat_jump_dual_forceplates_1000hz.csv"
    rec = CsvFile.open(path)
    assert rec.rate_hz == 1000.0 and len(rec.columns["time"]) == 7850 and rec.time_column == "time"  # BOM stripped
    (track,) = read_csv(path, load_mapping(REPO / "docs/mappings/squat_jump_dual_forceplates.json")).tracks
    assert track.kind is SensorKind.FORCE and track.channels[:2] == ("fz_left", "fz_right")
    total = track.samples[0].astype(np.float64) + track.samples[1]
    assert total.max() == pytest.approx(2372, abs=1)
    assert np.median(total[:500]) == pytest.approx(583, abs=15)  # quiet standing
    assert int(np.sum(total < 20)) == 956  # flight phase
    assert track.units[-1] == "m"


def test_csv_without_a_header_row_is_a_clear_error(tmp_path: Path) -> None:
    p = tmp_path / "x.csv"
    p.write_text("1,2\n3,4\n")
    with pytest.raises(ValueError, match="no column-name row"):
        CsvFile.open(p)


def test_csv_emg_and_force_files_each_give_the_devices_of_their_kind(tmp_path: Path) -> None:
    t = np.arange(200) / 100.0 + 5.0
    emg = tmp_path / "emg.csv"
    emg.write_text("time,VL_right,pec\n" + "".join(f"{x:.2f},{i},{-i}\n" for i, x in enumerate(t)))
    force = tmp_path / "force.csv"
    force.write_text("time,fz_left,fz_right,temperature\n" + "".join(f"{x:.2f},1,2,20\n" for x in t))
    rec = read_csv(emg=emg, force=force, station="rack-1")
    assert [(tr.device, tr.channels, tr.units) for tr in rec.tracks] == [
        ("rack-1-emg", ("VL_right", "pec"), ("V", "V")), ("rack-1-force", ("fz_left", "fz_right"), ("N", "N"))]
    assert rec.t0_ns == 5_000_000_000 and rec.tracks[0].rate_hz == 100.0
    one = SourceMapping.model_validate({"devices": [{"station": "s", "device": "d", "kind": "emg",
                                                     "channels": [{"source": "pec", "name": "pec"}]}]})
    with pytest.raises(RecordingError, match="needs the emg CSV file"):
        read_csv(mapping=one, force=force)


def test_simple_text_emg_takes_rate_and_label_from_its_header(shared_data: Path) -> None:
    rec = read_text(shared_data / "emg_single_channel_bursts_1000hz.txt", station="lab")
    (track,) = rec.tracks
    assert (track.kind, track.device, track.channels, track.rate_hz) == (SensorKind.EMG, "lab-emg", ("emg",), 1000.0)
    assert track.n_samples == 63880 and abs(float(np.median(track.samples)) - 2040) < 20  # 12-bit ADC counts


def _rec(n: int, rate: float = 100.0) -> Recording:
    data = np.arange(n, dtype=np.float32)[None, :]
    return Recording("s", [Track(SensorKind.FORCE, "d", ("fz",), ("N",), rate, data)])


async def test_replay_frames_are_contiguous_and_loop_continues_time() -> None:
    source = ReplaySource([_rec(25)], frame_s=0.1, speed=None, loop=True, max_loops=3, origin_ns=0)
    frames = [f async for tick in source.ticks() for f in tick]
    data = np.concatenate([f.samples[0] for f in frames])
    np.testing.assert_array_equal(data, np.tile(np.arange(25), 3))
    assert [f.t0_ns for f in frames] == [i * 100_000_000 for i in range(len(frames))][: len(frames)]
    assert [f.seq for f in frames] == list(range(len(frames)))


async def test_replay_at_real_time_takes_the_recordings_duration() -> None:
    source = ReplaySource([_rec(30)], frame_s=0.05, speed=1.0)
    loop = asyncio.get_running_loop()
    t = loop.time()
    n = sum([f.n_samples async for tick in source.ticks() for f in tick])
    assert n == 30 and 0.25 <= loop.time() - t < 0.6


async def test_replay_keeps_each_tracks_start_and_sends_empty_cells_as_gap_markers() -> None:
    emg = np.ones((1, 20), dtype=np.float32)
    emg[0, 5] = np.nan  # an empty cell of the export
    force = np.ones((1, 10), dtype=np.float32)
    rec = Recording("s", [Track(SensorKind.EMG, "e", ("quad",), ("V",), 100.0, emg, t0_ns=2_000_000_000),
                          Track(SensorKind.FORCE, "f", ("fz",), ("N",), 100.0, force, t0_ns=2_500_000_000)])
    source = ReplaySource([rec], frame_s=0.1, speed=None, origin_ns=0)
    frames = [f async for tick in source.ticks() for f in tick]
    first = {f.device: f for f in sorted(frames, key=lambda f: f.seq, reverse=True)}
    assert first["e"].t0_ns == 0 and first["f"].t0_ns == 500_000_000  # the force export started 0.5 s later
    assert all(f.nan_allowed == (f.device == "e") for f in frames)
    assert all(decode(encode(f)).device == f.device for f in frames)  # valid on the wire
