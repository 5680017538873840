"""`kinesync run` as a user starts it: every service as a process, the wall fed, Ctrl-C stops all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from kinesync.runtime.ports import free_port

pytestmark = pytest.mark.integration


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_run_shows_eight_stations_with_lags_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    port = free_port()
    exe = Path(sys.executable).with_name("kinesync")
    proc = subprocess.Popen(
        [str(exe), "run", "--port", str(port)], cwd=tmp_path, start_new_session=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    pgid = proc.pid
    url = f"http://127.0.0.1:{port}/api/stations"
    rows: list[dict] = []
    started = time.monotonic()
    try:
        while time.monotonic() - started < 60:
            try:
                rows = httpx.get(url, timeout=1).json()
            except httpx.HTTPError:
                rows = []
            if len(rows) == 8 and all(r["lag_ms"] is not None for r in rows):
                break
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.5)
        elapsed = time.monotonic() - started
        assert len(rows) == 8, rows
        assert all(r["lag_ms"] is not None for r in rows), rows
        print(f"\n8 stations with lags after {elapsed:.1f} s")
        assert elapsed < 40
        first = {r["station"]: r["updated_at"] for r in rows}
        time.sleep(1.5)
        later = {r["station"]: r["updated_at"] for r in httpx.get(url, timeout=1).json()}
        assert all(later[s] != first[s] for s in first), "stations stopped updating"
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=1).status_code == 200
    finally:
        os.killpg(pgid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
        out, _ = proc.communicate(timeout=30)
    print(out[-2000:])
    deadline = time.monotonic() + 10
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _group_alive(pgid), "a KineSync process outlived Ctrl-C"
    assert proc.returncode == 0, out
    assert "all KineSync processes stopped" in out
