"""The coach console at ``/console``: server-rendered pages (Jinja2) with htmx, served by the API itself.

One module per page group (core, floor, people, places, plans, athlete, alerts; ``forms`` holds what
their forms share); all register their routes on ``core.router`` (their paths do not overlap, so the
order of the imports does not matter).
"""

from __future__ import annotations

from kinesync.api.console import (
    alerts,  # noqa: F401  (registers its routes)
    athlete,  # noqa: F401  (registers its routes)
    floor,  # noqa: F401  (registers its routes)
    people,  # noqa: F401  (registers its routes)
    places,  # noqa: F401  (registers its routes)
    plans,  # noqa: F401  (registers its routes)
)
from kinesync.api.console.athlete import PlotPoint, lag_svg
from kinesync.api.console.core import COOKIE, router, unsign

__all__ = ["COOKIE", "PlotPoint", "lag_svg", "router", "unsign"]
