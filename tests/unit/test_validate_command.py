"""`kinesync validate`: the accuracy table against simulated truth, and plots of the real recordings."""

from __future__ import annotations

import json
from pathlib import Path

from kinesync.cli import main


def test_validate_small_grid_meets_targets_and_plots_every_recording(
    shared_data: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "validate.json"
    plots = tmp_path / "plots"
    code = main([
        "validate", "--exercises", "back_squat", "--snr", "20", "30", "--lags", "60", "180",
        "--rates", "1925.926", "2148.148", "--reps", "30", "--data", str(shared_data), "--plots", str(plots),
        "--json", str(out), "--no-progress",
    ])
    text = capsys.readouterr().out
    doc = json.loads(out.read_text())
    cells = doc["cells"]
    assert len(cells) == 8
    judged = [c for c in cells if c["cell"]["snr_db"] == 20.0]
    assert len(judged) == 4 and all(c["passed"] for c in judged), text
    assert code == 0
    for c in cells:
        assert c["reps_with_lag"] >= 27, c
        assert c["median_abs_ms"] <= 4.0 and c["p95_abs_ms"] <= 12.0
        assert c["mean10_abs_ms"] <= 2.0  # BRIEF: the mean of 10 reps within 2 ms
    names = {r["name"]: r for r in doc["real"]}
    assert set(names) == {
        "squat_jump_dual_forceplates_1000hz.csv", "gait_emg_forceplates_1000hz.c3d",
        "emg_single_channel_bursts_1000hz.txt",
    }
    assert names["squat_jump_dual_forceplates_1000hz.csv"]["summary"]["jumps"] == 3
    for r in doc["real"]:
        png = Path(r["plot"])
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert "at 20 dB: 4 of 4 cells meet" in text


def test_validate_prints_the_information_limit_beside_the_product(tmp_path: Path, capsys) -> None:
    out = tmp_path / "validate.json"
    code = main([
        "validate", "--grid", "physiology", "--exercises", "push_press", "--shapes", "independent",
        "--lags", "120", "--rates", "2000", "--reps", "4", "--bound", "2", "--no-real", "--json", str(out),
        "--no-progress",
    ])
    text = capsys.readouterr().out
    assert code == 0
    (row,) = json.loads(out.read_text())["information_limit"]
    assert row["exercise"] == "push_press" and row["reps"] == 2
    # more unknowns, a wider bound; a 10-rep mean averages ten independent reps
    assert 0 < row["peak_only_sd_ms"] < row["widths_unknown_sd_ms"] < 100
    assert 0 < row["set_share_at_most"] < 1
    assert "information limit" in text and "push_press" in text.split("information limit")[1]
