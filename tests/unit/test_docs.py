"""The docs stay true to the code."""

from __future__ import annotations

from pathlib import Path

from kinesync.commands.config import markdown

ROOT = Path(__file__).resolve().parents[2]


def test_operations_settings_table_matches_the_code() -> None:
    text = (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert markdown() in text, "regenerate the table: kinesync config --markdown"


def test_readme_shows_the_two_commands_first() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.index("make run") < text.index("## What it does")
    assert text.index("make test") < text.index("## What it does")
    for doc in ("architecture", "metrics", "operations", "storage", "gateway"):
        assert f"docs/{doc}.md" in text, f"README does not point to docs/{doc}.md"
        assert (ROOT / "docs" / f"{doc}.md").is_file()


def test_architecture_names_every_package() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    packages = sorted(p.parent.name for p in (ROOT / "libs" / "kinesync").glob("*/__init__.py"))
    missing = [name for name in packages if f"| `{name}/` |" not in text]
    assert not missing, f"docs/architecture.md's package table lacks: {missing}"
