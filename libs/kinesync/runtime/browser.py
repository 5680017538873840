"""Headless Chromium: found one way for the PDF reports, the bench's cue painter and the console
screenshots, and one message saying what is missing (the browser, or the `browser` extra that
drives it)."""

from __future__ import annotations

import importlib
import os
import shutil

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")
INSTALL_CHROMIUM = "a Chromium browser (apt-get install chromium; or set KINESYNC_CHROMIUM to one)"
INSTALL_DRIVER = "the Python package playwright: pip install 'kinesync[browser]'"


def find_chromium(explicit: str | None = None) -> str | None:
    """``explicit``, else ``KINESYNC_CHROMIUM``, else the first browser on the PATH; None when none runs here."""
    chosen = explicit or os.environ.get("KINESYNC_CHROMIUM")
    if chosen:
        return shutil.which(chosen)
    return next((p for p in map(shutil.which, CANDIDATES) if p), None)


def browser_missing(explicit: str | None = None) -> tuple[str | None, list[str]]:
    """The Chromium to drive through Playwright, and what is missing to do so (empty: nothing)."""
    missing = []
    try:
        importlib.import_module("playwright.async_api")
    except ImportError:
        missing.append(INSTALL_DRIVER)
    chromium = find_chromium(explicit)
    if chromium is None:
        missing.append(INSTALL_CHROMIUM)
    return chromium, missing
