"""Render every dashboard to the JSON committed under ``deploy/grafana/dashboards/``."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from kinesync.dashboards import athlete, health, wall

# file name → builder; the file names are what the Grafana provider and the README link to.
DASHBOARDS: dict[str, Callable[[], Dashboard]] = {
    "facility-wall.json": wall.build,
    "athlete-detail.json": athlete.build,
    "pipeline-health.json": health.build,
}

# deploy/grafana/dashboards in a source checkout (libs/kinesync/dashboards → repo root is three up).
DEFAULT_DIR = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "dashboards"


def to_dict(board: Dashboard) -> dict:
    """The dashboard as plain JSON data (what Grafana's API and file provider take)."""
    return json.loads(json.dumps(board, cls=JSONEncoder))


def render(board: Dashboard) -> str:
    # sort_keys + fixed indent: byte-stable output, so the committed files diff cleanly.
    return json.dumps(to_dict(board), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_all() -> dict[str, str]:
    return {name: render(build()) for name, build in DASHBOARDS.items()}


def write_all(directory: Path = DEFAULT_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_all().items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written


def stale(directory: Path = DEFAULT_DIR) -> list[str]:
    """Names of committed files that differ from a fresh build (or are missing)."""
    out = []
    for name, text in render_all().items():
        path = directory / name
        if not path.exists() or path.read_text() != text:
            out.append(name)
    return out
