"""Session reports: per-rep table, plots and summary as one self-contained HTML file (PDF optional)."""

from __future__ import annotations

from kinesync.report.data import SessionData, from_recording, from_store
from kinesync.report.render import render_html, write_csv

__all__ = ["SessionData", "from_recording", "from_store", "render_html", "write_csv"]
