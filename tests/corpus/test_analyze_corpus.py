"""`kinesync analyze` on odd but valid recordings: per-rep output, or one line on stderr saying why not.

The rule for every file: exit 0 with per-rep output, or exit 2 with exactly one line on stderr; never
a traceback. An unexpected error (a bug) is one line naming the file and pointing to ``--debug``,
exit 1. Run with ``-s`` to see the table of outcomes.
"""

from __future__ import annotations

import dataclasses
import json
import statistics
import subprocess
import sys
from pathlib import Path

import ezc3d
import numpy as np
import pytest

from kinesync.cli import main
from kinesync.codec.frame import MAX_CHANNELS, SensorKind
from kinesync.sources.c3d import read_c3d
from kinesync.sources.replay import read_recordings
from kinesync.streaming.roles import force_rows
from kinesync.streaming.station import AnalysisConfig
from tests.corpus.files import (
    BODY_WEIGHT_N,
    CORPUS,
    CorpusFile,
    dual_plates,
    emg_channels,
    simulate,
    write_c3d,
)

ROOT = Path(__file__).resolve().parents[2]
NO_BODY_WEIGHT_FLAGS = {"no_body_weight", "plate_unloaded", "force_negative", "plate_saturated"}
OUTCOMES: dict[str, str] = {}  # case → outcome, for the table printed after the module


@pytest.fixture(scope="module", autouse=True)
def outcome_table():
    yield
    if OUTCOMES:
        width = max(len(name) for name in OUTCOMES)
        print(f"\n{'file':<{width}}  outcome")
        for name, outcome in OUTCOMES.items():
            print(f"{name:<{width}}  {outcome}")


def run_analyze(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, list[str]]:
    code = main(["analyze", *args])
    captured = capsys.readouterr()
    return code, captured.out, [line for line in captured.err.splitlines() if line.strip()]


def check_rule(code: int, out: str, err: list[str], reps: list[dict] | None) -> None:
    """Per-rep output with exit 0, or one line on stderr with exit 2; never a traceback."""
    assert not any("Traceback" in line for line in err), "\n".join(err)
    if code == 0:
        assert reps, "exit 0 without per-rep output"
        assert "lag ms" in out and "reps:" in out, out
        assert err == [], err
    else:
        assert code == 2, f"exit {code}: {err}"
        assert len(err) == 1, err
        assert err[0].startswith("kinesync analyze: "), err


def describe(code: int, reps: list[dict] | None, err: list[str], folder: Path) -> str:
    if code == 0 and reps:
        flags = sorted({f for r in reps for f in r["flags"]})
        lags = [r["lag_ms"] for r in reps if r["lag_ms"] is not None]
        weights = [r["body_weight_n"] for r in reps if r.get("body_weight_n") is not None]
        parts = [f"{len(reps)} reps"]
        parts.append(f"lag {statistics.median(lags):.0f} ms" if lags else "no lag")
        parts.append(f"BW {statistics.median(weights):.4g} N" if weights else "no BW")
        if flags:
            parts.append("flags " + ",".join(flags))
        return "; ".join(parts)
    return f"exit {code}: " + " ".join(err).replace(str(folder), "…")


def check_expectations(case: CorpusFile, code: int, reps: list[dict] | None, err: list[str]) -> None:
    e = case.expect
    if e.exit_code is not None:
        assert code == e.exit_code, (code, err)
    if e.line is not None and code != 0:
        assert e.line.lower() in err[0].lower(), err
    if code != 0 or not reps:
        return
    if e.reps is not None:
        assert e.reps[0] <= len(reps) <= e.reps[1], len(reps)
    if e.body_weight_n is not None:
        weights = [r["body_weight_n"] for r in reps if r.get("body_weight_n") is not None]
        assert weights, [r["flags"] for r in reps]
        assert all(abs(w - e.body_weight_n) <= 0.02 * e.body_weight_n for w in weights), weights
    if e.lag_ms is not None:
        lags = [r["lag_ms"] for r in reps if r["lag_ms"] is not None]
        assert lags and abs(statistics.median(lags) - e.lag_ms) <= 20.0, lags
    if e.no_body_weight:
        for r in reps:
            assert r.get("body_weight_n") is None, r
            assert NO_BODY_WEIGHT_FLAGS & set(r["flags"]), r["flags"]
    if e.no_lag:
        assert all(r["lag_ms"] is None for r in reps), [r["lag_ms"] for r in reps]
    for prefix in e.flags:
        assert all(any(f.startswith(prefix) for f in r["flags"]) for r in reps), [r["flags"] for r in reps]


# Cases where the analysis (not the reader or the command) is at fault; the mark goes when it is fixed.
ANALYSIS_FAULTS: dict[str, str] = {}  # case name → reason, e.g. "analysis raises: ValueError ..."


def _params(cases: tuple[CorpusFile, ...]) -> list:
    return [
        pytest.param(c, id=c.name, marks=[pytest.mark.xfail(strict=True, reason=ANALYSIS_FAULTS[c.name])]
                     if c.name in ANALYSIS_FAULTS else [])
        for c in cases
    ]


@pytest.mark.parametrize("case", _params(CORPUS))
def test_analyze_gives_reps_or_one_line(
    case: CorpusFile, tmp_path: Path, capsys: pytest.CaptureFixture[str], record_property
) -> None:
    args = case.build(tmp_path)
    out_json = tmp_path / "reps.json"
    code, out, err = run_analyze([*args, "--json", str(out_json)], capsys)
    reps = json.loads(out_json.read_text())["reps"] if out_json.is_file() else None
    outcome = describe(code, reps, err, tmp_path)
    OUTCOMES[case.name] = outcome
    record_property("outcome", outcome)
    check_rule(code, out, err, reps)
    check_expectations(case, code, reps, err)


def _case(name: str) -> CorpusFile:
    return next(c for c in CORPUS if c.name == name)


def _kinesync() -> list[str]:
    script = Path(sys.executable).with_name("kinesync")
    return [str(script)] if script.is_file() else [sys.executable, "-m", "kinesync.cli"]


@pytest.mark.parametrize(("name", "code"), [
    ("plate_type_4_cal_matrix", 0), ("frames_0", 2), ("csv_rate_changes_halfway", 2),
])
def test_real_command_exit_code_and_no_traceback(name: str, code: int, tmp_path: Path) -> None:
    args = _case(name).build(tmp_path)
    proc = subprocess.run([*_kinesync(), "analyze", *args], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == code, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    err = [line for line in proc.stderr.splitlines() if line.strip()]
    if code == 0:
        assert err == [] and "lag ms" in proc.stdout, (proc.stdout, proc.stderr)
    else:
        assert len(err) == 1 and err[0].startswith("kinesync analyze: "), err


def test_unexpected_error_is_one_line_naming_the_file_and_debug_shows_the_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = _case("plate_type_2").build(tmp_path)

    def broken(*_a, **_k):
        raise ZeroDivisionError("division by zero\nin a place nobody expected")

    monkeypatch.setattr("kinesync.commands.analyze.analyze_recording", broken)
    code, _, err = run_analyze(args, capsys)
    assert code == 1
    assert len(err) == 1, err
    assert args[0] in err[0] and "--debug" in err[0] and "ZeroDivisionError" in err[0], err
    for argv in (["analyze", *args, "--debug"], ["--debug", "analyze", *args]):
        assert main(argv) == 1
        text = capsys.readouterr().err
        assert "Traceback" in text and "in a place nobody expected" in text, text


def test_any_command_failing_unexpectedly_ends_in_one_line_or_with_debug_in_the_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_args):
        raise RuntimeError("state lost\nhalfway")

    monkeypatch.setattr("kinesync.commands.analyze.cmd_analyze", broken)
    assert main(["analyze"]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert err == ["kinesync analyze: unexpected error (RuntimeError: state lost halfway); "
                   "run again with --debug to see the traceback"], err
    with pytest.raises(RuntimeError, match="state lost"):
        main(["--debug", "analyze"])


def test_a_window_the_analysis_could_not_compute_is_a_bug_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The analyzer isolates a window that raises (flagged analysis_error) and goes on; offline that is
    # still a bug to report, with the exception behind --debug.
    args = _case("plate_type_2").build(tmp_path)
    if "fault_drill_stations" not in {f.name for f in dataclasses.fields(AnalysisConfig)}:
        pytest.skip("this analyzer has no fault drill")
    drill = AnalysisConfig(fault_drill_stations=frozenset({"replay"}))
    monkeypatch.setattr("kinesync.commands.analyze.AnalysisConfig", lambda: drill)
    code, _, err = run_analyze(args, capsys)
    assert code == 1, err
    assert len(err) == 1 and args[0] in err[0] and "--debug" in err[0] and "fault drill" in err[0], err
    assert main(["analyze", *args, "--debug"]) == 1
    text = capsys.readouterr().err
    assert "Traceback" in text and "fault drill" in text, text


@pytest.mark.parametrize("ptype", [1, 2, 3, 4])
@pytest.mark.parametrize("sign", [-1.0, 1.0], ids=["stored_down", "stored_up"])
def test_vertical_force_is_the_platform_force_of_the_c3d_layout_published_up(
    ptype: int, sign: float, tmp_path: Path
) -> None:
    emg, load = simulate(1000.0, 3.0)
    path = write_c3d(tmp_path / "plates.c3d", 1000.0, emg_channels(emg), dual_plates(ptype, load, sign=sign))
    force = next(t for t in read_c3d(path).tracks if t.kind == SensorKind.FORCE)
    _, left, right = force_rows(force.channels)
    plates = [force.samples[rows].astype(np.float64).sum(0) for rows in (left, right)]  # type 3: four sensors
    # ezc3d's own platform extraction (types 1–4, calibration matrix applied) gives the same magnitude.
    reference = ezc3d.c3d(str(path), extract_forceplat_data=True)["data"]["platform"]
    for k, plate in enumerate(reference):
        np.testing.assert_allclose(plates[k], np.abs(plate["force"][2]), rtol=1e-5, atol=0.01)
    np.testing.assert_allclose(plates[0], load[:4].sum(0), atol=0.05)
    np.testing.assert_allclose(plates[1], load[4:].sum(0), atol=0.05)
    assert abs(float(np.median(plates[0] + plates[1])) - BODY_WEIGHT_N) < 0.02 * BODY_WEIGHT_N


@pytest.mark.parametrize("case", [c for c in CORPUS if c.name != "ten_minutes_1000hz"], ids=lambda c: c.name)
def test_gateway_c3d_source_reads_or_says_why(case: CorpusFile, tmp_path: Path) -> None:
    args = case.build(tmp_path)
    if not args[0].endswith(".c3d"):
        pytest.skip("CSV input: the gateway reads it through a mapping")
    try:
        (rec,) = read_recordings("c3d", args[0], None, "rack-1")
    except ValueError as exc:  # the gateway's way of saying what to change
        assert str(exc) and "\n" not in str(exc)
        if case.name == "frames_0":
            assert "no samples" in str(exc), exc
    else:
        assert rec.tracks and all(t.n_samples > 0 and len(t.channels) <= MAX_CHANNELS for t in rec.tracks)


@pytest.mark.parametrize("unit", ["mV", "uV", "µV"])
def test_emg_in_millivolts_and_microvolts_is_read_in_volts(unit: str, tmp_path: Path) -> None:
    emg, load = simulate(1000.0, 1.0)
    volts = write_c3d(tmp_path / "v.c3d", 1000.0, emg_channels(emg, "V"), dual_plates(2, load))
    other = write_c3d(tmp_path / "other.c3d", 1000.0, emg_channels(emg, unit), dual_plates(2, load))
    a, b = (next(t for t in read_c3d(p).tracks if t.kind == SensorKind.EMG) for p in (volts, other))
    assert a.channels == b.channels and set(b.units) == {"V"}
    np.testing.assert_allclose(b.samples, a.samples, rtol=1e-6, atol=1e-12)


def test_real_recordings_give_reps_or_one_line(shared_data: Path, tmp_path: Path, capsys) -> None:
    # Recordings and licences: shared/data/PROVENANCE.md (biomechZoo Apache-2.0, andrewlba/ACL_squat_jump
    # MIT, BioSPPy BSD-3-Clause).
    jump = shared_data / "squat_jump_dual_forceplates_1000hz.csv"
    mapping = ROOT / "docs" / "mappings" / "squat_jump_dual_forceplates.json"
    runs = {
        "gait C3D": [str(shared_data / "gait_emg_forceplates_1000hz.c3d")],
        "squat-jump CSV": ["--force", str(jump)],
        "squat-jump CSV, mapped": ["--force", str(jump), "--map", str(mapping), "--exercise", "squat_jump"],
        "EMG text": ["--emg", str(shared_data / "emg_single_channel_bursts_1000hz.txt")],
    }
    outcomes = {}
    for name, args in runs.items():
        out_json = tmp_path / "reps.json"
        out_json.unlink(missing_ok=True)
        code, out, err = run_analyze([*args, "--json", str(out_json)], capsys)
        reps = json.loads(out_json.read_text())["reps"] if out_json.is_file() else None
        check_rule(code, out, err, reps)
        outcomes[name] = (code, describe(code, reps, err, shared_data))
    assert outcomes["squat-jump CSV, mapped"][0] == 0
    assert outcomes["squat-jump CSV, mapped"][1].startswith("3 reps"), outcomes
    print()
    for name, (_, outcome) in outcomes.items():
        print(f"{name:<24}  {outcome}")
