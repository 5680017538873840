"""The functions the docs name exist, and the metric functions docs/metrics.md documents are the ones
the analyzer runs (not a copy of them inlined somewhere else)."""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import math
import re
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from kinesync.bus.topics import ALL_TOPICS
from kinesync.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md"))
METRICS = ROOT / "docs" / "metrics.md"
PACKAGE = ROOT / "libs" / "kinesync"

# Backticked dotted names under kinesync: `kinesync.dsp.lag.phase_lag(...)`, `kinesync.analysis.phases`.
_DOTTED = re.compile(r"`(kinesync(?:\.[A-Za-z_]\w*)+)")
# A backticked call at the start of a code span: `threshold_onset(x, ...)`.
_CALL = re.compile(r"`([A-Za-z_]\w*)\(")
# Names in the docs that look dotted but are not code: the topics and the embedded store's file.
_NOT_CODE = frozenset({*ALL_TOPICS, Settings.model_fields["sqlite_path"].default})

# Where the live analyzer starts: a station's windows and reps (also `kinesync analyze`'s engine).
ANALYZER_ENTRY = "kinesync.streaming.station"
# The metric functions docs/metrics.md documents for the analyzer's output: each must be reached by
# calls from the entry, so a metric computed by an inlined copy instead fails here.
ANALYZER_FUNCTIONS = (
    "kinesync.dsp.filters.EnvelopeFilter",
    "kinesync.dsp.lag.phase_lag",
    "kinesync.dsp.lag.onset_lag",
    "kinesync.dsp.peak_lag.peak_lag_learned",
    "kinesync.dsp.peak_lag.near_copy_lag",
    "kinesync.dsp.peak_lag.p_in_window",
    "kinesync.dsp.onset.threshold_onset",
    "kinesync.dsp.alignment.in_window",
    "kinesync.dsp.alignment.alignment_score",
    "kinesync.dsp.force.rfds",
    "kinesync.dsp.force.peak_rfd",
    "kinesync.dsp.force.peak_force",
    "kinesync.analysis.phases.find_weighing",
    "kinesync.analysis.phases.plate_loads",
    "kinesync.analysis.phases.segment_phases",
    "kinesync.analysis.phases.jump_metrics",
    "kinesync.analysis.phases.lift_metrics",
    "kinesync.analysis.phases.asymmetry",
    "kinesync.analysis.quality.channel_qualities",
    "kinesync.analysis.force_transfer_index",
    "kinesync.analysis.personal_window.PersonalWindow",
    "kinesync.dsp.velocity.velocity_from_rest",
    "kinesync.dsp.velocity.concentric_phase",
)


def resolve(dotted: str) -> Any:
    """The object a dotted name names: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def _doc_names(path: Path) -> list[str]:
    return sorted({m for m in _DOTTED.findall(path.read_text(encoding="utf-8")) if m not in _NOT_CODE})


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_dotted_kinesync_name_in_the_docs_exists(doc: Path) -> None:
    missing = []
    for name in _doc_names(doc):
        try:
            resolve(name)
        except (ImportError, AttributeError) as exc:
            missing.append(f"{name} ({type(exc).__name__}: {exc})")
    assert not missing, f"{doc.name} names code that does not exist: {missing}"


def test_the_metrics_doc_names_the_analyzer_functions() -> None:
    names = _doc_names(METRICS)
    assert "kinesync.dsp.alignment.in_window" in names and "kinesync.dsp.force.peak_force" in names


def _defined_names() -> set[str]:
    """Every function, method and class name defined anywhere in the package."""
    out: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out.add(node.name)
    return out


def test_every_signature_in_the_metrics_doc_is_defined() -> None:
    # Formula notation (log, ceil, max) is not a reference to code.
    notation = set(dir(builtins)) | set(dir(math))
    calls = set(_CALL.findall(METRICS.read_text(encoding="utf-8"))) - notation
    missing = sorted(calls - _defined_names())
    assert not missing, f"docs/metrics.md shows signatures of functions that do not exist: {missing}"


# -- what the analyzer calls ------------------------------------------------------------------


def _code(obj: Any) -> Any:
    """The function or class whose source holds the code ``obj`` runs, or None outside kinesync."""
    obj = getattr(obj, "__func__", obj)  # bound and class methods
    if callable(obj) and not inspect.isclass(obj):
        obj = inspect.unwrap(obj)
    if not (inspect.isfunction(obj) or inspect.isclass(obj)):
        return None
    return obj if obj.__module__.startswith("kinesync.") else None


def _local_imports(tree: ast.AST) -> dict[str, Any]:
    """Names bound by imports inside a function body (the module's own imports are its globals)."""
    out: dict[str, Any] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(module, alias.name):
                    out[alias.asname or alias.name] = getattr(module, alias.name)
                else:  # a submodule
                    out[alias.asname or alias.name] = importlib.import_module(f"{node.module}.{alias.name}")
    return out


def _resolve_expr(expr: ast.expr, namespace: dict[str, Any]) -> Any:
    if isinstance(expr, ast.Name):
        return namespace.get(expr.id)
    if isinstance(expr, ast.Attribute):
        base = _resolve_expr(expr.value, namespace)
        # Only modules and classes: an attribute of anything else is run-time state.
        if isinstance(base, ModuleType) or inspect.isclass(base):
            return getattr(base, expr.attr, None)
    return None


def _callees(source: str, namespace: dict[str, Any]) -> Iterator[Any]:
    tree = ast.parse(textwrap.dedent(source))
    namespace = {**namespace, **_local_imports(tree)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            code = _code(_resolve_expr(node.func, namespace))
            if code is not None:
                yield code


def analyzer_reach() -> set[Any]:
    """Functions and classes of kinesync called, directly or through others, from the analyzer's entry
    module (a class counts with all its methods: they are called on its instances)."""
    entry = importlib.import_module(ANALYZER_ENTRY)
    seen: set[Any] = set()
    todo = list(_callees(inspect.getsource(entry), vars(entry)))
    while todo:
        obj = todo.pop()
        if obj in seen:
            continue
        seen.add(obj)
        namespace = vars(sys.modules[obj.__module__])
        todo.extend(_callees(inspect.getsource(obj), namespace))
    return seen


@pytest.fixture(scope="module")
def reach() -> set[Any]:
    return analyzer_reach()


@pytest.mark.parametrize("name", ANALYZER_FUNCTIONS)
def test_the_analyzer_calls_the_documented_function(name: str, reach: set[Any]) -> None:
    target = _code(resolve(name))
    assert target is not None, f"{name} is not a kinesync function or class"
    assert target in reach, f"{name} is documented as the analyzer's, but {ANALYZER_ENTRY} never reaches it"


def test_the_reach_finds_calls_and_nothing_else(reach: set[Any]) -> None:
    # Guards the walk itself: the entry's own helpers are found, a function the analyzer never calls is not.
    assert _code(resolve("kinesync.streaming.rep.analyze_rep")) in reach
    assert _code(resolve("kinesync.dsp.force.net_impulse")) not in reach
