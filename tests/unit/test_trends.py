"""Athlete trends: reps spread over weeks in a store; the report's weekly aggregates equal the known truth."""

from __future__ import annotations

import asyncio
import csv
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from kinesync.cli import main
from kinesync.facility.models import AthleteIn
from kinesync.facility.registry import Registry
from kinesync.models import RepMetric
from kinesync.storage.sqlite import SqliteStore
from kinesync.training.trends import trends, week_start_ns

NS = 1_000_000_000
UNTIL = datetime(2026, 11, 26, tzinfo=UTC)  # a Thursday; its ISO week starts Monday 2026-11-23
WEEKS = 4
MONDAYS = [datetime(2026, 11, 23, tzinfo=UTC) - timedelta(weeks=WEEKS - 1 - k) for k in range(WEEKS)]
# Per week: (day offsets of the sessions, mean lag). Week 2 has no session; the lag drifts into the window.
PLAN = {0: ((0, 3), 150.0), 1: ((1,), 130.0), 3: ((0, 2, 4), 100.0)}
REPS_PER_SESSION = 6


def _reps() -> tuple[list[RepMetric], dict[int, dict[str, list[float]]]]:
    rng = np.random.default_rng(7)
    reps, truth = [], {}
    session = 0
    for week, (days, lag) in PLAN.items():
        t = truth.setdefault(week, {"lag": [], "rfd": [], "in": [], "err": [], "sessions": []})
        for day in days:
            session += 1
            t["sessions"].append(str(session))
            start = MONDAYS[week] + timedelta(days=day, hours=17)
            for i in range(REPS_PER_SESSION):
                peak = round((start.timestamp() + 4.0 * i) * NS)
                lag_ms = float(lag + rng.normal(0, 12))
                rfd = float(4000 + 300 * week + rng.normal(0, 200))
                reps.append(RepMetric(
                    station="station-01", athlete="Ada", exercise="back_squat", session=str(session),
                    rep_peak_ns=peak, rep_start_ns=peak - 5 * 10**8, window_start_ns=peak - NS, lag_ms=lag_ms,
                    in_window=80 <= lag_ms <= 120, rfd_0_100_n_per_s=rfd, transfer_index=0.5))
                t["lag"].append(lag_ms)
                t["rfd"].append(rfd)
                t["in"].append(80 <= lag_ms <= 120)
                t["err"].append(abs(lag_ms - 100.0))
    # another athlete's reps and one of Ada's from before the range must not count
    reps.append(RepMetric(station="station-02", athlete="Bo", session="99", rep_peak_ns=round(UNTIL.timestamp()) * NS,
                          rep_start_ns=0, window_start_ns=0, lag_ms=10.0))
    old = round((MONDAYS[0] - timedelta(days=3)).timestamp()) * NS
    reps.append(RepMetric(station="station-01", athlete="Ada", session="0", rep_peak_ns=old, rep_start_ns=old,
                          window_start_ns=old, lag_ms=300.0))
    return reps, truth


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    reps, truth = _reps()
    path = tmp_path_factory.mktemp("trends") / "k.db"

    async def fill() -> None:
        async with SqliteStore(path) as s:
            await s.write(reps)
        reg = Registry(path.parent / "registry.db")
        await reg.create_athlete(AthleteIn(name="Ada"))
        await reg.close()

    asyncio.run(fill())
    return path, truth


def test_weekly_aggregates_equal_the_truth(store, tmp_path: Path, capsys) -> None:
    db, truth = store
    out, table = tmp_path / "trends.html", tmp_path / "trends.csv"
    # athlete 1 in the registry is Ada: the id resolves to the name the reps carry
    assert main(["report", "--athlete", "1", "--weeks", str(WEEKS), "--until", "2026-11-26", "--db", str(db),
                 "--registry", str(db.parent / "registry.db"), "--out", str(out), "--csv", str(table),
                 "--no-pdf"]) == 0, capsys.readouterr().err
    rows = list(csv.DictReader(table.open(encoding="utf-8")))
    weeks = [r for r in rows if r["scope"] == "week"]
    assert [r["week_start"] for r in weeks] == [m.date().isoformat() for m in MONDAYS]
    for k, row in enumerate(weeks):
        t = truth.get(k)
        if t is None:
            assert row["reps"] == "0" and row["lag_mean_ms"] == ""
            continue
        assert int(row["reps"]) == len(t["lag"]) and int(row["sessions"]) == len(t["sessions"])
        assert float(row["lag_mean_ms"]) == pytest.approx(np.mean(t["lag"]), rel=1e-12)
        assert float(row["lag_sd_ms"]) == pytest.approx(np.std(t["lag"], ddof=1), rel=1e-12)
        assert float(row["rfd_0_100_n_per_s"]) == pytest.approx(np.mean(t["rfd"]), rel=1e-12)
        assert float(row["alignment"]) == pytest.approx(np.mean(t["in"]), rel=1e-12)
        assert float(row["timing_error_ms"]) == pytest.approx(np.mean(t["err"]), rel=1e-12)
    sessions = [r["session"] for r in rows if r["scope"] == "session"]
    assert sessions == [s for k in sorted(truth) for s in truth[k]["sessions"]]

    page = out.read_text(encoding="utf-8")
    for fig in ("fig-trend-lag", "fig-trend-weekly"):
        assert re.search(rf'<figure id="{fig}"><img alt="[^"]*" src="data:image/png;base64,', page), fig
    embedded = json.loads(re.search(r'id="trends-json">(.*?)</script>', page, re.S).group(1))
    assert embedded["athlete"] == "Ada" and len(embedded["weekly"]) == WEEKS


def test_iso_weeks_and_errors(store, tmp_path: Path, capsys) -> None:
    assert week_start_ns(round(UNTIL.timestamp()) * NS) == round(MONDAYS[-1].timestamp()) * NS
    t = trends("Ada", [], 2, round(UNTIL.timestamp()) * NS)
    assert [w.week for w in t.weekly] == ["2026-W47", "2026-W48"] and all(w.reps == 0 for w in t.weekly)
    db, _ = store
    assert main(["report", "--athlete", "Nobody", "--weeks", "2", "--db", str(db), "--no-pdf",
                 "--out", str(tmp_path / "x.html")]) == 2
    assert "no reps of athlete 'Nobody'" in capsys.readouterr().err
    assert main(["report", "--weeks", "2", "--db", str(db), "--no-pdf"]) == 2
