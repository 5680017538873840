"""Dashboards as code: committed JSON equals a fresh build; structure the wall screens rely on."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from kinesync.commands.dashboards import cmd_build
from kinesync.dashboards.build import DASHBOARDS, DEFAULT_DIR, render_all, stale
from kinesync.dashboards.influxql import interpolate

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"


def test_committed_dashboards_equal_a_fresh_build() -> None:
    assert DEFAULT_DIR == GRAFANA / "dashboards"
    assert stale() == [], "run `kinesync dashboards build` and commit deploy/grafana/dashboards/"
    assert sorted(p.name for p in DEFAULT_DIR.glob("*.json")) == sorted(DASHBOARDS)


def test_build_check_fails_on_a_hand_edited_file(tmp_path: Path) -> None:
    import argparse

    assert cmd_build(argparse.Namespace(out=str(tmp_path), check=False)) == 0
    assert cmd_build(argparse.Namespace(out=str(tmp_path), check=True)) == 0
    wall = tmp_path / "facility-wall.json"
    wall.write_text(wall.read_text().replace("facility wall", "hand edit"))
    assert cmd_build(argparse.Namespace(out=str(tmp_path), check=True)) == 1


def test_grafana_11_schema_and_provisioned_datasource_everywhere() -> None:
    ds = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "influxdb.yaml").read_text())["datasources"][0]
    assert ds["type"] == "influxdb" and ds["jsonData"]["httpMode"] == "POST"
    for name, text in render_all().items():
        board = json.loads(text)
        assert board["schemaVersion"] >= 39, name  # Grafana 11
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == ds["uid"], (name, panel["title"])
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == ds["uid"] and target["rawQuery"] is True
                assert "$timeFilter" in target["query"], (name, panel["title"])
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "kinesync.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


def test_template_variables_and_the_wall_tile() -> None:
    boards = {name: json.loads(text) for name, text in render_all().items()}
    for name in ("facility-wall.json", "athlete-detail.json"):
        names = [v["name"] for v in boards[name]["templating"]["list"]]
        assert {"team", "athlete", "exercise"} <= set(names), name
    wall = boards["facility-wall.json"]
    (tile,) = wall["panels"]
    assert tile["repeat"] == "station" and tile["type"] == "stat"
    assert tile["options"]["text"]["valueSize"] >= 40  # legible from 5 m
    fields = " ".join(t["query"] for t in tile["targets"])
    for needed in ("lag_ms", "in_window", "alignment", "transfer_index", 'FROM "alerts"'):
        assert needed in fields
    assert wall["uid"] == "kinesync-wall" and wall["refresh"] == "5s"


def test_interpolate_like_grafana() -> None:
    q = 'SELECT last("lag_ms") FROM "m" WHERE "team" =~ /^$team$/ AND "s" =~ /^$station$/ AND $timeFilter ' \
        "GROUP BY time($__interval)"
    out = interpolate(q, {"team": None, "station": ["st-1", "st.2"]}, start_ms=1, end_ms=2, interval_ms=500)
    assert out == ('SELECT last("lag_ms") FROM "m" WHERE "team" =~ /^.*$/ AND "s" =~ /^(st\\-1|st\\.2)$/ '
                   "AND time >= 1ms and time <= 2ms GROUP BY time(500ms)")
