"""The API keeps FastAPI's full-stack layout: routes in ``kinesync/api/routes`` define no pydantic models
(those live in ``kinesync/api/schemas`` or the domain packages), and what several routes share — the token
checks, the stores, the path parameters — is defined once, in ``kinesync/api/deps.py``."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

from pydantic import BaseModel

ROOT = Path(__file__).resolve().parents[2]
API = ROOT / "libs" / "kinesync" / "api"
ROUTES = API / "routes"
DEPS = API / "deps.py"


def _resolve(dotted: str) -> object | None:
    """The object a dotted name stands for (``pkg.module.Class``), or None when it cannot be imported."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:]:
                obj = getattr(obj, name)
        except AttributeError:
            return None
        return obj
    return None


def pydantic_classes(source: str) -> list[str]:
    """Classes the source defines, at any depth, that derive from pydantic's BaseModel: directly, through
    an import (aliases included), or through another class of the same source."""
    tree = ast.parse(source)
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
        elif isinstance(node, ast.Import):
            imported.update({a.asname or a.name.split(".")[0]: a.name if a.asname else a.name.split(".")[0]
                             for a in node.names})
    local = {n.name: n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)}

    def is_model(node: ast.ClassDef, seen: frozenset[str]) -> bool:
        return node.name not in seen and any(is_model_base(b, seen | {node.name}) for b in node.bases)

    def is_model_base(base: ast.expr, seen: frozenset[str]) -> bool:
        head, _, rest = ast.unparse(base.value if isinstance(base, ast.Subscript) else base).partition(".")
        if head in local and not rest:
            return is_model(local[head], seen)
        if head not in imported:
            return False
        obj = _resolve(imported[head] + (f".{rest}" if rest else ""))
        return isinstance(obj, type) and issubclass(obj, BaseModel)

    return sorted(name for name, node in local.items() if is_model(node, frozenset()))


def test_the_scanner_finds_models_however_they_are_derived() -> None:
    source = """
import pydantic
from pydantic import BaseModel as Model
from kinesync.api.cue_hub import LatencyStats
from kinesync.api.schemas.errors import ErrorOut
class A(Model): ...
class B(pydantic.BaseModel): ...
class C(ErrorOut): ...
class D(C): ...
class E(LatencyStats): ...
class F: ...
def f():
    class G(pydantic.BaseModel): ...
"""
    assert pydantic_classes(source) == ["A", "B", "C", "D", "G"]


def test_no_route_module_defines_a_pydantic_model() -> None:
    files = sorted(ROUTES.glob("*.py"))
    assert len(files) >= 8, f"no route modules under {ROUTES}"
    offenders = [f"{path.relative_to(ROOT)}: {name}" for path in files
                 for name in pydantic_classes(path.read_text(encoding="utf-8"))]
    assert not offenders, "route modules define pydantic models (move them to kinesync/api/schemas):\n" + "\n".join(
        offenders)


def _defined_in(pattern: str) -> list[Path]:
    rx = re.compile(pattern, re.MULTILINE)
    return sorted(p for p in API.rglob("*.py") if rx.search(p.read_text(encoding="utf-8")))


def test_shared_dependencies_are_defined_once_in_deps() -> None:
    once = {
        "StationPath": r"^\s*StationPath\s*(:[^=\n]*)?=",
        "the WebSocket token check": r"query_params\b.*[\"']token[\"']",
        "the WebSocket refusal": r"WS_1008_POLICY_VIOLATION|\b1008\b(?!\.)",
        "the registry dependency": r"facility registry not configured",
        "the session publisher dependency": r"no session publisher",
        "the bearer scheme": r"HTTPBearer\(",
    }
    for what, pattern in once.items():
        assert _defined_in(pattern) == [DEPS], f"{what} must be defined in deps.py only"


def test_routes_reach_app_state_only_through_deps() -> None:
    offenders = [p.name for p in sorted(ROUTES.glob("*.py")) if "app.state" in p.read_text(encoding="utf-8")]
    assert not offenders, f"route modules read app.state themselves: {offenders}"
