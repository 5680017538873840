"""HTML → PDF with headless Chromium when one is installed (no other converter is assumed)."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from kinesync.runtime.browser import find_chromium


def html_to_pdf(html_path: Path, pdf_path: Path, timeout_s: float = 60.0) -> str | None:
    """Write ``pdf_path``; returns None on success, else why not (the caller prints it as a note)."""
    exe = find_chromium()
    if exe is None:
        return "no PDF: no Chromium found (apt-get install chromium, or set KINESYNC_CHROMIUM)"
    with tempfile.TemporaryDirectory(prefix="kinesync-pdf-") as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", f"--user-data-dir={profile}",
               "--no-pdf-header-footer", f"--print-to-pdf={pdf_path}", html_path.resolve().as_uri()]
        try:
            done = subprocess.run(cmd, capture_output=True, timeout=timeout_s, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"no PDF: {exe} failed ({exc})"
    if done.returncode != 0 or not pdf_path.is_file() or pdf_path.stat().st_size == 0:
        return f"no PDF: {exe} exited {done.returncode}: {done.stderr.decode(errors='replace')[-300:]}"
    return None
