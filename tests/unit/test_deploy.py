from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
