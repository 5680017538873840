"""Every setting the docs list is one the code reads: no dead knobs an operator would turn in vain.

The other direction (every setting the code has is in docs/operations.md) is tests/unit/test_docs.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

from kinesync.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def _reads() -> tuple[set[str], set[str]]:
    """Attribute names read anywhere in the product, and string constants (env variable names)."""
    attributes: set[str] = set()
    strings: set[str] = set()
    for folder in ("libs", "services"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "settings.py" and path.parent.name == "kinesync":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute):
                    attributes.add(node.attr)
                elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                    strings.add(node.value)
    return attributes, strings


def test_every_setting_is_read_by_the_code() -> None:
    attributes, strings = _reads()
    # A few settings are read from the environment before Settings exists (the secrets folder decides
    # where Settings' own values come from; a service's supervisor state file is set by `kinesync run`).
    unread = [name for name in Settings.model_fields
              if name not in attributes and f"KINESYNC_{name.upper()}" not in strings]
    assert not unread, f"settings nothing reads (delete them or use them): {unread}"
