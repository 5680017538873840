"""Live status API and the built-in wall page."""

from __future__ import annotations

from kinesync.api.app import create_app
from kinesync.api.state import LiveState, StationStatus

__all__ = ["LiveState", "StationStatus", "create_app"]
