"""``kinesync bench`` machinery on a tiny configuration: the report is complete and its numbers are sane.

Not a performance test: nothing here is timed against a target (the targets are in docs/performance.md).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from kinesync.cli import build_parser
from kinesync.commands.bench import run_bench


def test_bench_report_has_every_key_with_finite_numbers(tmp_path: Path) -> None:
    # The broker pipeline is left out: it needs a real broker and real-time seconds.
    report, prof = run_bench([2], seconds=3.0, warm=3.0, pipeline_seconds=None, workdir=tmp_path, progress=False,
                             rounds=2)
    doc = json.loads(json.dumps(report.to_json()))  # what --json writes
    for key in ("athletes_per_core", "latency_ms", "rss_per_athlete_mb", "floor_ratio", "scale_out_ratio"):
        assert key in doc, key
    assert set(doc["latency_ms"]) >= {"p50", "p99"}
    for key in ("athletes_per_core", "floor_ratio", "scale_out_ratio"):
        assert math.isfinite(doc[key]) and doc[key] > 0, (key, doc[key])
    assert math.isfinite(doc["rss_per_athlete_mb"]) and doc["rss_per_athlete_mb"] >= 0
    alone = doc["runs"][0]["alone"]
    assert alone["frames"] > 0 and alone["windows"] > 0
    assert alone["floor_reps"] == alone["reps"]  # the floor analysed exactly the engine's reps
    # Two rounds, each with its floor: the throughput is the fastest round's, the floor ratio the rounds' median.
    rounds = alone["rounds"]
    assert len(rounds) == 2 and all(r["floor_cpu_s"] > 0 for r in rounds)
    assert doc["athletes_per_core"] == max(r["athletes_per_core"] for r in rounds)
    assert math.isclose(doc["floor_ratio"], sum(r["floor_ratio"] for r in rounds) / 2)
    assert doc["rss_per_athlete_mb"] == max(r["rss_per_athlete_mb"] for r in rounds)
    assert all(len(r["pair_wall_s"]) == 2 for r in rounds)
    # The cost split adds up: rep analysis + rest of the floor = floor; floor + streaming = engine.
    fastest = min(rounds, key=lambda r: r["cpu_timed_s"])
    assert all(0 < r["floor_rep_cpu_s"] < r["floor_cpu_s"] for r in rounds)
    split = alone["cost_ms_per_athlete_s"]
    per = 1e3 / (alone["warm_s"] + alone["timed_s"]) / 2  # two stations
    assert math.isclose(split["engine"], fastest["engine_cpu_s"] * per)
    assert math.isclose(split["rep_analysis"], fastest["floor_rep_cpu_s"] * per)
    assert math.isclose(split["rep_analysis"] + split["floor_other"], split["floor"])
    assert math.isclose(split["floor"] + split["streaming"], split["engine"])
    assert "Budget of ≥ 1000 athletes per core: 1.00 ms" in report.table()
    assert math.isclose(doc["scale_out_ratio"], sum(r["wall_s"] / max(r["pair_wall_s"]) for r in rounds) / 2)
    assert {t["name"] for t in doc["targets"]} and prof is None
    assert "athletes per core" in report.table()
    assert build_parser().parse_args(["bench", "--quick", "--json", "x.json"]).func is not None
    assert build_parser().parse_args(["bench", "--rounds", "5"]).rounds == 5
