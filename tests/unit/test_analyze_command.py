"""`kinesync analyze` as a user runs it: files in, per-rep table and JSON out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kinesync.cli import main
from kinesync.sim.athlete import AthleteSpec
from kinesync.validation.grid import simulated_recording

G = 9.80665
ROOT = Path(__file__).resolve().parents[2]


def write_csv(path: Path, t: np.ndarray, columns: dict[str, np.ndarray], header_lines: int = 0) -> None:
    with path.open("w", encoding="utf-8-sig") as f:
        for i in range(header_lines):
            f.write(f"exported by a vendor tool, line {i}\n")
        f.write(",".join(["time", *columns]) + "\n")
        data = np.column_stack([t, *columns.values()])
        np.savetxt(f, data, delimiter=",", fmt="%.9g")


@pytest.fixture(scope="module")
def sim_csvs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    spec = AthleteSpec(lag_ms=160.0, lag_jitter_ms=5.0, emg_rate_hz=2148.148, seed=11)
    rec, athlete = simulated_recording(spec, 31.0)
    folder = tmp_path_factory.mktemp("sim")
    emg, force = rec.tracks
    t_emg = np.arange(emg.samples.shape[1]) / emg.rate_hz + 100.0
    t_force = np.arange(force.samples.shape[1]) / force.rate_hz + 100.0
    columns = {"VL_right": emg.samples[0], "gmax": emg.samples[1], "pec_major": emg.samples[2]}
    write_csv(folder / "emg.csv", t_emg, columns, header_lines=3)
    fz = force.samples
    write_csv(folder / "force.csv", t_force, {"fz_left": fz[:4].sum(0), "fz_right": fz[4:].sum(0)})
    return folder / "emg.csv", folder / "force.csv", athlete.reps(0, 31.0)


def test_emg_and_force_csv_pair_gives_per_rep_metrics_near_truth(sim_csvs, tmp_path: Path, capsys) -> None:
    emg, force, truth = sim_csvs
    out = tmp_path / "reps.json"
    assert main(["analyze", "--emg", str(emg), "--force", str(force), "--exercise", "back_squat",
                 "--json", str(out)]) == 0
    table = capsys.readouterr().out
    assert "lag ms" in table and "reps:" in table
    doc = json.loads(out.read_text())
    reps = doc["reps"]
    assert len(reps) >= len(truth) - 2
    for key in ("rep_start_s", "lag_ms", "onset_lag_ms", "in_window", "coupling", "peak_propulsive_force_n",
                "rfd_0_100_n_per_s", "propulsive_impulse_n_s", "transfer_index", "flags"):
        assert key in reps[0], key
    true_lags = {round(t.leg_peak_s, 1): t.lag_s * 1000 for t in truth}
    errors = []
    for r in reps:
        k = min(true_lags, key=lambda p: abs(p - r["rep_peak_s"]))
        assert abs(k - r["rep_peak_s"]) < 0.3
        errors.append(r["lag_ms"] - true_lags[k])
    assert np.median(np.abs(errors)) <= 6.0, errors
    assert all(r["in_window"] is False for r in reps)  # 160 ms is outside 80-120 ms
    assert all(r["flags"] == [] for r in reps), [r["flags"] for r in reps]
    assert doc["summary"]["reps"] == len(reps)


def test_force_only_csv_gives_force_metrics_and_no_lag(sim_csvs, tmp_path: Path) -> None:
    _, force, truth = sim_csvs
    out = tmp_path / "reps.json"
    assert main(["analyze", "--force", str(force), "--json", str(out), "--quiet"]) == 0
    reps = json.loads(out.read_text())["reps"]
    assert len(reps) >= len(truth) - 2
    assert all(r["lag_ms"] is None for r in reps)
    for r in reps:
        assert r["peak_propulsive_force_n"] > r["body_weight_n"] > 0
        assert r["rfd_0_100_n_per_s"] is not None


def test_unusable_input_gets_a_clear_error(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["analyze", "--force", str(bad)]) == 2
    assert "no time column 'time' in the header row (a, b)" in capsys.readouterr().err
    assert main(["analyze"]) == 2
    assert "nothing to analyse" in capsys.readouterr().err


def test_real_squat_jumps_all_found_with_flight_heights_of_a_hand_calculation(
    shared_data: Path, tmp_path: Path
) -> None:
    # Recording: andrewlba/ACL_squat_jump (MIT), see shared/data/PROVENANCE.md.
    path = shared_data / "squat_jump_dual_forceplates_1000hz.csv"
    mapping = ROOT / "docs" / "mappings" / "squat_jump_dual_forceplates.json"  # the gateway's mapping of it
    out = tmp_path / "jumps.json"
    assert main(["analyze", "--force", str(path), "--map", str(mapping), "--exercise", "squat_jump",
                 "--json", str(out), "--quiet"]) == 0
    reps = [r for r in json.loads(out.read_text())["reps"] if r["jump_height_flight_m"] is not None]
    # Hand calculation: flight = total vertical force below 20 N; h = g·t²/8.
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("time"))
    header = lines[start].split(",")
    data = np.loadtxt(lines[start + 1 :], delimiter=",")
    total = data[:, header.index("ground_force1_vy")] + data[:, header.index("ground_force2_vy")]
    air = np.concatenate(([0], (total < 20.0).astype(int), [0]))
    edges = np.flatnonzero(np.diff(air))
    flights = [(b - a) / 1000.0 for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a > 50]
    hand = [G * t * t / 8 for t in flights]
    assert len(hand) == 3
    assert len(reps) == 3, reps
    for r, h in zip(reps, hand, strict=True):
        assert abs(r["jump_height_flight_m"] - h) < 0.01, (r["jump_height_flight_m"], h)
        if r["jump_height_impulse_m"] is not None and abs(r["jump_height_impulse_m"] - h) > 0.02:
            assert "jump_heights_disagree" in r["flags"]
    print("\nflight-time heights (m):", [round(r["jump_height_flight_m"], 3) for r in reps], "hand:",
          [round(h, 3) for h in hand])


def test_an_old_name_role_mapping_is_converted_with_a_note_and_can_be_saved_as_json(
    sim_csvs, tmp_path: Path, capsys
) -> None:
    _, force, _ = sim_csvs
    old = tmp_path / "map.txt"
    old.write_text("fz_left = fz_left\nfz_right = -\n", encoding="utf-8")
    saved = tmp_path / "map.json"
    out = tmp_path / "reps.json"
    assert main(["analyze", "--force", str(force), "--map", str(old), "--save-map", str(saved),
                 "--json", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # stderr holds only the one line of a failure
    (note,) = [line for line in captured.out.splitlines() if line.startswith("note:")]
    assert f"{old} is an old 'name=role' mapping; it was converted on load" in note and '"devices"' in note
    assert "--save-map" in note
    mapping = json.loads(saved.read_text())
    (device,) = mapping["devices"]
    assert device["kind"] == "force" and [c["name"] for c in device["channels"]] == ["fz_left"]
    # The saved JSON gives the same reps, without the note.
    again = tmp_path / "again.json"
    assert main(["analyze", "--force", str(force), "--map", str(saved), "--json", str(again)]) == 0
    assert "note:" not in capsys.readouterr().out
    assert json.loads(again.read_text())["reps"] == json.loads(out.read_text())["reps"]
