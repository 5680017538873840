"""The library does not reach up into the services or the commands: those wire library parts, never the
other way round. Only the command line (``cli.py`` and ``commands/``) may import them."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIBRARY = ROOT / "libs" / "kinesync"
FORBIDDEN = ("kinesync_services", "kinesync.commands")
ALLOWED = (LIBRARY / "cli.py", LIBRARY / "commands")


def is_forbidden(module: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for name in FORBIDDEN)


def forbidden_imports(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Each import statement, anywhere in the file (functions included), that names a forbidden module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            # ``from kinesync import commands`` names the package through its parent
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            if is_forbidden(name):
                yield node.lineno, name
                break


def is_allowed(path: Path) -> bool:
    return any(path == allowed or allowed in path.parents for allowed in ALLOWED)


def test_the_finder_sees_every_form_of_import() -> None:
    source = """
import kinesync_services.api.main
from kinesync_services.gateway.main import run
from kinesync import commands
from kinesync.commands.analyze import summarize
def later():
    import kinesync.commands
from kinesync.command_line import fine
from kinesync_servicesx import fine_too
"""
    found = [line for line, _ in forbidden_imports(ast.parse(source))]
    assert sorted(found) == [2, 3, 4, 5, 7]


def test_library_modules_do_not_import_services_or_commands() -> None:
    files = sorted(LIBRARY.rglob("*.py"))
    assert len(files) > 50, f"no library found under {LIBRARY}"
    offenders = []
    for path in files:
        if is_allowed(path):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        offenders += [f"{path.relative_to(ROOT)}:{line} imports {module}" for line, module in forbidden_imports(tree)]
    assert not offenders, "the library imports the services or the commands:\n" + "\n".join(offenders)
