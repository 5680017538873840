"""`kinesync analyze` and the gateway read a recording alike: the same devices, channels and roles, and
through the live analysis the same per-rep metrics (issue 18: analyze named the gait file's plates
``fz_plate1/2``, the gateway ``fz_left/right``, so only live saw two sides).

Recordings: ../shared/data/gait_emg_forceplates_1000hz.c3d from PhilD001/biomechZoo (Apache-2.0), see
shared/data/PROVENANCE.md; and a dual-plate C3D with reps that the corpus writes (tests/corpus/files.py).
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kinesync.analysis.rep_records import rep_record
from kinesync.cli import build_parser, main
from kinesync.codec.frame import Frame, decode, encode
from kinesync.commands.analyze import load
from kinesync.gateway.configured_source import replay_source
from kinesync.models import SessionAssignment
from kinesync.settings import Settings
from kinesync.sources.recording import Recording
from kinesync.streaming.offline import analyze_recording, replay_frames
from kinesync.streaming.roles import emg_role_rows, force_rows
from kinesync.streaming.station import AnalysisConfig
from tests.corpus.files import dual_plates, emg_channels, simulate, write_c3d

GAIT = "gait_emg_forceplates_1000hz.c3d"
STATION = "gait-lab"


async def gateway_frames(path: Path, station: str) -> list[Frame]:
    """What the gateway's c3d source publishes, through the wire format."""
    settings = Settings(gateway_source="c3d", gateway_file=str(path), gateway_station=station,
                        gateway_speed=0.0, gateway_port=0)
    source = replay_source(settings)
    # analyze puts a file's first sample at t = 0, the gateway at the moment it starts; the analysis
    # windows sit on a grid of absolute time, so one origin for both compares the readers, not the clocks.
    source.origin_ns = 0
    return [decode(encode(f)) async for tick in source.ticks() for f in tick]


def analyze_reads(path: Path, station: str) -> Recording:
    """The recording exactly as `kinesync analyze FILE --station S` reads it."""
    return load(build_parser().parse_args(["analyze", str(path), "--station", station]))


def devices_of(frames: list[Frame]) -> dict[str, tuple]:
    by_device: dict[str, list[Frame]] = {}
    for f in sorted(frames, key=lambda f: (f.device, f.seq)):
        by_device.setdefault(f.device, []).append(f)
    out = {}
    for device, fs in by_device.items():
        first = fs[0]
        units = first.units if len(first.units) == len(first.channels) else first.units * len(first.channels)
        out[device] = (first.kind, first.channels, units, first.rate_hz,
                       np.concatenate([f.samples for f in fs], axis=1))
    return out


def devices_of_recording(rec: Recording) -> dict[str, tuple]:
    return {t.device: (t.kind, t.channels, t.units if len(t.units) == len(t.channels) else t.units * len(t.channels),
                       t.rate_hz, t.samples) for t in rec.tracks}


def assert_same_devices(rec: Recording, frames: list[Frame]) -> None:
    ours, theirs = devices_of_recording(rec), devices_of(frames)
    assert ours.keys() == theirs.keys()
    for device, (kind, channels, units, rate, samples) in ours.items():
        assert theirs[device][:4] == (kind, channels, units, rate), device
        np.testing.assert_array_equal(theirs[device][4], samples, err_msg=device)
        assert emg_role_rows(channels) == emg_role_rows(theirs[device][1])
        assert force_rows(channels) == force_rows(theirs[device][1])


def gateway_analysis(frames: list[Frame], config: AnalysisConfig, station: str, exercise: str | None):
    # The assignment and configuration `kinesync analyze` gives its replay (streaming.offline).
    assignment = SessionAssignment(station=station, exercise=exercise, target_low_ms=80.0, target_high_ms=120.0)
    return replay_frames(frames, replace(config, expected=frozenset(f.kind for f in frames)), assignment)


async def test_the_gait_c3d_reads_the_same_in_analyze_and_the_gateway_with_left_and_right_plates(
    shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = shared_data / GAIT
    rec = analyze_reads(path, STATION)
    frames = await gateway_frames(path, STATION)
    assert_same_devices(rec, frames)
    emg = next(t for t in rec.tracks if t.device == f"{STATION}-emg")
    force = next(t for t in rec.tracks if t.device == f"{STATION}-force")
    assert emg.channels[:2] == ("quad_left", "quad_right") and emg_role_rows(emg.channels) == {"quad": [0, 1]}
    vertical, left, right = force_rows(force.channels)
    assert [force.channels[i] for i in vertical] == ["fz_left", "fz_right"] and left and right
    assert force.samples[left].max() == pytest.approx(501.4, abs=0.1)  # vertical-up (the file stores it down)
    assert force.samples[right].max() == pytest.approx(482.7, abs=0.1)

    # 1.97 s is shorter than one 2 s window: neither path gives a rep, and analyze says so.
    assert main(["analyze", str(path)]) == 2
    assert "too short (1.97 s of data)" in capsys.readouterr().err
    live = gateway_analysis(frames, AnalysisConfig(), STATION, None)
    assert live.windows == [] and live.reps == []
    # On 1 s windows the file gives windows: the same ones either way, down to every field.
    short = AnalysisConfig(window_s=1.0)
    offline = analyze_recording(rec, short)
    live = gateway_analysis(frames, short, STATION, None)
    assert offline.windows and [w.model_dump() for w in live.windows] == [w.model_dump() for w in offline.windows]
    assert live.reps == offline.reps


async def test_dual_plate_reps_get_the_same_metrics_and_asymmetry_either_way(tmp_path: Path) -> None:
    emg, load_cells = simulate(1000.0, 7.0)
    path = write_c3d(tmp_path / "dual.c3d", 1000.0, emg_channels(emg), dual_plates(2, load_cells))
    out = tmp_path / "reps.json"
    assert main(["analyze", str(path), "--station", "rack-1", "--exercise", "back_squat", "--json", str(out)]) == 0
    analyzed = json.loads(out.read_text())["reps"]

    frames = await gateway_frames(path, "rack-1")
    assert_same_devices(analyze_reads(path, "rack-1"), frames)
    live = gateway_analysis(frames, AnalysisConfig(), "rack-1", "back_squat")
    published = json.loads(json.dumps([rep_record(r, 0) for r in live.reps]))
    assert len(analyzed) == 2 and published == analyzed
    assert all(r["asymmetry_propulsive_impulse_pct"] is not None and r["lag_ms"] is not None for r in analyzed)
