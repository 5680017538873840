"""`kinesync report` on a simulated session: plots and per-rep table present, numbers equal `kinesync analyze`."""

from __future__ import annotations

import base64
import csv
import json
import re
from pathlib import Path

import pytest

from kinesync.cli import main
from kinesync.models import RepMetric
from kinesync.report import SessionData, render_html
from kinesync.sim.athlete import AthleteSpec
from kinesync.validation.grid import simulated_recording
from tests.unit.test_analyze_command import write_csv

PNG = b"\x89PNG\r\n\x1a\n"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(scope="module")
def session_csvs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    import numpy as np

    spec = AthleteSpec(lag_ms=100.0, lag_jitter_ms=15.0, emg_rate_hz=2000.0, seed=5)
    rec, _ = simulated_recording(spec, 25.0)
    folder = tmp_path_factory.mktemp("session")
    emg, force = rec.tracks
    t_emg = np.arange(emg.samples.shape[1]) / emg.rate_hz
    t_force = np.arange(force.samples.shape[1]) / force.rate_hz
    write_csv(folder / "emg.csv", t_emg, dict(zip(("quad", "glute", "pec"), emg.samples[:3], strict=True)))
    fz = force.samples
    write_csv(folder / "force.csv", t_force, {"fz_left": fz[:4].sum(0), "fz_right": fz[4:].sum(0)})
    return folder / "emg.csv", folder / "force.csv"


def _figures(page: str) -> dict[str, bytes]:
    out = {}
    for fig_id, data in re.findall(r'<figure id="([\w-]+)"><img alt="[^"]*" src="data:image/png;base64,([^"]+)"', page):
        out[fig_id] = base64.b64decode(data)
    return out


def test_report_has_plots_and_table_and_matches_analyze(session_csvs, tmp_path: Path, capsys) -> None:
    emg, force = session_csvs
    html_path, csv_path, json_path = tmp_path / "report.html", tmp_path / "reps.csv", tmp_path / "analyze.json"
    common = ["--emg", str(emg), "--force", str(force), "--exercise", "back_squat"]
    assert main(["report", "--session", "sim-42", *common, "--athlete", "Ada", "--out", str(html_path),
                 "--csv", str(csv_path), "--no-pdf"]) == 0
    assert main(["analyze", *common, "--json", str(json_path), "--quiet"]) == 0
    page = html_path.read_text(encoding="utf-8")
    analyzed = json.loads(json_path.read_text())

    # plots: lag per rep, EMG envelopes with onsets, force curve with RFD windows, all real PNGs
    figures = _figures(page)
    assert set(figures) == {"fig-lag", "fig-emg", "fig-force"}, list(figures)
    assert all(png.startswith(PNG) and len(png) > 5000 for png in figures.values())
    assert "onset" in page and "RFD windows" in page and "target window 80–120 ms" in page

    # per-rep table: one row per rep analyze found, same displayed values
    reps = analyzed["reps"]
    assert len(reps) >= 6
    table = page.split('<table id="reps">')[1].split("</table>")[0]
    lag_cells = re.findall(r'data-key="lag_ms">([^<]*)<', table)
    assert lag_cells == [f"{r['lag_ms']:.1f}" for r in reps]
    rfd_cells = re.findall(r'data-key="rfd_0_100_n_per_s">([^<]*)<', table)
    assert rfd_cells == [f"{r['rfd_0_100_n_per_s']:.0f}" for r in reps]

    # the embedded records and the CSV carry analyze's numbers exactly
    embedded = json.loads(re.search(r'<script type="application/json" id="reps-json">(.*?)</script>', page,
                                    re.S).group(1))
    assert embedded["reps"] == reps
    assert embedded["summary"]["lag_median_ms"] == analyzed["summary"]["lag_median_ms"]
    rows = list(csv.DictReader(csv_path.open(encoding="utf-8")))
    assert len(rows) == len(reps)
    for row, rep in zip(rows, reps, strict=True):
        for key in ("lag_ms", "coupling", "peak_propulsive_force_n", "rfd_0_100_n_per_s", "propulsive_impulse_n_s",
                    "transfer_index"):
            assert float(row[key]) == pytest.approx(rep[key], rel=1e-12), key
        assert row["in_window"] == str(rep["in_window"])
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "session-report.html").write_text(page, encoding="utf-8")
    print(f"\nreport: {len(reps)} reps; copy at {ARTIFACTS / 'session-report.html'}")


def test_pdf_when_chromium_is_there(session_csvs, tmp_path: Path, capsys) -> None:
    from kinesync.runtime.browser import find_chromium

    if find_chromium() is None:
        pytest.skip("no chromium: the report says so instead of writing a PDF")
    emg, force = session_csvs
    out = tmp_path / "r.html"
    assert main(["report", "--session", "s1", "--emg", str(emg), "--force", str(force), "--out", str(out)]) == 0
    pdf = out.with_suffix(".pdf")
    assert pdf.read_bytes().startswith(b"%PDF"), capsys.readouterr().out


def test_report_from_stored_reps_notes_what_it_lacks() -> None:
    reps = [RepMetric(station="s1", athlete="Ada", session="7", exercise="bench_press", rep_peak_ns=10**9 * (i + 2),
                      rep_start_ns=10**9 * (i + 2) - 3 * 10**8, window_start_ns=0, lag_ms=90.0 + i, in_window=True,
                      envelope_t0_ns=10**9 * (i + 1), envelope_step_ns=50_000_000,
                      envelopes_uv={"leg": [1.0, 3.0, 2.0], "pec": [0.5, 1.0, 4.0]}) for i in range(4)]
    data = SessionData(session="7", reps=reps, t0_ns=reps[0].rep_start_ns, athlete="Ada", source="storage",
                       notes=["force curve not shown"])
    page = render_html(data)
    assert set(_figures(page)) == {"fig-lag", "fig-emg"}
    assert 'id="fig-force-missing"' in page and "force curve not shown" in page
    assert page.count('data-key="lag_ms"') == 4


def test_unknown_session_in_storage_is_a_clear_error(tmp_path: Path, capsys) -> None:
    assert main(["report", "--session", "nope", "--db", str(tmp_path / "k.db"), "--no-pdf"]) == 2
    assert "no reps of session 'nope'" in capsys.readouterr().err
