"""Live status API, the facility API, the wall page and the coach console.

Layout (as FastAPI's full-stack template): ``main`` (``create_app`` and the lifespan), ``deps``
(dependencies), ``routes/`` (one module per domain), ``schemas/`` (the API's own bodies),
``workers`` (the Kafka side), ``resources`` (what the lifespan opens).
"""

from __future__ import annotations

from kinesync.api.main import create_app
from kinesync.api.schemas.wall import StationStatus
from kinesync.api.state import LiveState

__all__ = ["LiveState", "StationStatus", "create_app"]
