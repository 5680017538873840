from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_matches_the_compose_spec() -> None:
    exe = Path(sys.executable).with_name("check-jsonschema")
    result = subprocess.run(
        [str(exe), "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(re.findall(r'"(kinesync[\w.]*)"', (ROOT / "pyproject.toml").read_text().split("package-dir")[0]))
    found = set()
    for root, name in ((ROOT / "libs" / "kinesync", "kinesync"), (ROOT / "services", "kinesync_services")):
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root).parts
            found.add(".".join((name, *rel)))
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_the_api_the_alerts_service_and_the_writer_share_writable_sqlite_files() -> None:
    # The image runs as nobody, who cannot create files in its working directory: each SQLite file a
    # service opens must be on a volume, and the API (where subscriptions and rules are made), the
    # alerts service (which sends by them) and the writer (the Grafana wall's alerts, by the same rules)
    # must open the same alerts database.
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)[-1]
    mounts: dict[str, dict[str, str]] = {}
    for name in ("api", "alerts", "writer"):
        service = compose["services"][name]
        env = service["environment"]
        mounts[name] = {}
        for var in ("KINESYNC_REGISTRY_DB", "KINESYNC_ALERTS_DB"):
            path = Path(env[var])
            assert path.is_absolute(), (name, var, path)
            volume, target = next(
                (v.split(":")[0], v.split(":")[1]) for v in service.get("volumes", [])
                if path.is_relative_to(v.split(":")[1])
            )
            assert volume in compose["volumes"], (name, volume)  # a named volume: it outlives the container
            mounts[name][var] = f"{volume}:{path}"
            # A fresh named volume takes the owner of the image's directory at its mount point.
            assert re.search(rf"mkdir -p {re.escape(target)} && chown {user}\b", dockerfile), (target, user)
    assert mounts["api"]["KINESYNC_ALERTS_DB"] == mounts["alerts"]["KINESYNC_ALERTS_DB"] == mounts["writer"][
        "KINESYNC_ALERTS_DB"]
