"""One reader per recording format: `kinesync analyze`, `validate`, the reports and the gateway read files
through ``kinesync.sources``, so a file means the same channels everywhere (issue 18: two C3D readers
named the gait file's plates differently, and analyze never saw left and right)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TREES = (ROOT / "libs", ROOT / "services")


def definitions(name: str) -> list[str]:
    """Every ``def name(`` in the source text under libs/ and services/, as path:line."""
    pattern = re.compile(rf"^\s*(?:async\s+)?def\s+{name}\s*\(", re.MULTILINE)
    found = []
    for tree in TREES:
        for path in sorted(tree.rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            found += [f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}"
                      for m in pattern.finditer(text)]
    return found


def test_the_scan_sees_definitions() -> None:
    assert len(definitions("main")) > 1, "the scan found no functions: wrong folders?"


@pytest.mark.parametrize(("name", "home"), [
    ("read_c3d", "libs/kinesync/sources/c3d.py"), ("read_csv", "libs/kinesync/sources/csv.py"),
])
def test_exactly_one_reader_per_format(name: str, home: str) -> None:
    found = definitions(name)
    assert len(found) == 1 and found[0].startswith(f"{home}:"), f"def {name} should be only in {home}: {found}"


EZC3D = re.compile(r"^\s*(import ezc3d|from ezc3d)|require\(\"ezc3d\"", re.MULTILINE)


def test_only_the_c3d_source_opens_c3d_files() -> None:
    users = [str(p.relative_to(ROOT)) for tree in TREES for p in sorted(tree.rglob("*.py"))
             if EZC3D.search(p.read_text(encoding="utf-8"))]
    assert users == ["libs/kinesync/sources/c3d.py"], users


def test_the_old_recordings_package_is_gone() -> None:
    assert not (ROOT / "libs" / "kinesync" / "recordings").exists()
