"""`kinesync run` as a user starts it: every service as a process, the wall fed, Ctrl-C stops all."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
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
    lines: list[str] = []  # read as printed: the console's token is needed while the run goes on
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
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
        # The console can be signed in to at once with the token the run printed; the wall needs none.
        token = next(m.group(1) for line in lines if (m := re.search(r"admin token for this run: (\S+)\)", line)))
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5, follow_redirects=True) as console:
            page = console.get("/console/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
            signed = console.post("/console/login", data={"token": token, "csrf": csrf})
            assert signed.status_code == 200 and "/console/floor" in str(signed.url), signed.text[:500]
        refused = httpx.post(f"http://127.0.0.1:{port}/api/v1/teams", json={"name": "x"}, timeout=2)
        assert refused.status_code == 401, refused.text  # writes still need the token
    finally:
        os.killpg(pgid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
        proc.wait(timeout=30)
        reader.join(timeout=5)
        out = "".join(lines)
    print(out[-2000:])
    deadline = time.monotonic() + 10
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _group_alive(pgid), "a KineSync process outlived Ctrl-C"
    assert proc.returncode == 0, out
    assert "all KineSync processes stopped" in out


def _supervisor_state(workdir: Path) -> dict:
    try:
        return json.loads((workdir / ".kinesync" / "supervisor.json").read_text())
    except (OSError, ValueError):
        return {}


def _received_at(row: dict) -> float:
    return datetime.fromisoformat(row["updated_at"].replace("Z", "+00:00")).timestamp()


class _Run:
    """``kinesync run`` started as a user would, its output in a file (for tests that run it for minutes)."""

    def __init__(self, tmp_path: Path, stations: int, env: dict[str, str] | None = None) -> None:
        self.tmp_path = tmp_path
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self._log = (tmp_path / "run.log").open("w")
        # --duration: a safety net; the test stops it with Ctrl-C like a user.
        self.proc = subprocess.Popen(
            [str(Path(sys.executable).with_name("kinesync")), "run", "--port", str(port), "--stations", str(stations),
             "--duration", "170"],
            cwd=tmp_path, env=env, start_new_session=True, stdout=self._log, stderr=subprocess.STDOUT, text=True,
        )

    def output(self) -> str:
        return (self.tmp_path / "run.log").read_text(errors="replace")

    def stations(self) -> list[dict]:
        try:
            return httpx.get(f"{self.base}/api/stations", timeout=1).json()
        except httpx.HTTPError:
            return []

    def wait(self, done: Callable[[], object], seconds: float, every_s: float = 0.5) -> None:
        """Until ``done()`` holds; fails with the run's output if the run ends or time runs out first."""
        deadline = time.monotonic() + seconds
        while not done():
            assert self.proc.poll() is None, self.output()
            assert time.monotonic() < deadline, self.output()[-3000:]
            time.sleep(every_s)

    def ctrl_c(self) -> str:
        """What Ctrl-C in a terminal does (SIGINT to the whole foreground group); returns the output."""
        os.killpg(self.proc.pid, signal.SIGINT)
        self.proc.wait(timeout=30)
        self._log.close()
        return self.output()

    def check_stopped_cleanly(self, out: str) -> None:
        assert self.proc.returncode == 0, out[-3000:]
        assert "all KineSync processes stopped" in out
        deadline = time.monotonic() + 10
        while _group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _group_alive(self.proc.pid), "a KineSync process outlived Ctrl-C"


def test_run_restarts_a_killed_analyzer_and_the_wall_goes_on(tmp_path: Path) -> None:
    run = _Run(tmp_path, stations=4)
    try:
        run.wait(lambda: len(rows := run.stations()) == 4 and all(r["lag_ms"] is not None for r in rows), 60)
        old_pid = _supervisor_state(tmp_path)["services"]["analyzer"]["pid"]
        assert httpx.get(f"{run.base}/health", timeout=1).json()["restarts"]["analyzer"] == 0

        os.kill(old_pid, signal.SIGKILL)
        killed_at = time.time()
        run.wait(lambda: _supervisor_state(tmp_path)["services"]["analyzer"]["pid"] != old_pid, 20, every_s=0.2)
        state = _supervisor_state(tmp_path)["services"]["analyzer"]
        new_pid = state["pid"]
        os.kill(new_pid, 0)  # running
        assert state["restarts"] == 1 and state["last_exit_code"] == -signal.SIGKILL, state
        assert state["last_error"] == "killed by SIGKILL"
        health = httpx.get(f"{run.base}/health", timeout=1).json()
        assert health["restarts"] == {"gateway": 0, "analyzer": 1, "writer": 0, "alerts": 0, "api": 0}, health
        assert "analyzer stopped unexpectedly (killed by SIGKILL)" in run.output()

        # Windows keep arriving: every tile updated by the new analyzer (it rejoins the group once the
        # broker has expired the killed member, then replays from its last safe offset).
        run.wait(lambda: len(rows := run.stations()) == 4 and all(_received_at(r) > killed_at + 1 for r in rows), 60)
        print(f"\nanalyzer back (pid {old_pid} -> {new_pid}); every station updated "
              f"{time.time() - killed_at:.1f} s after the kill")
        assert _supervisor_state(tmp_path)["services"]["analyzer"]["pid"] == new_pid  # no second restart
    finally:
        out = run.ctrl_c()
    run.check_stopped_cleanly(out)
    assert out.count("restarted (pid") == 1, out[-3000:]  # Ctrl-C restarts nothing


def test_a_full_embedded_broker_is_restarted_empty_and_the_wall_goes_on(tmp_path: Path) -> None:
    """Tansu's memory storage keeps every record: at KINESYNC_SUPERVISOR_BROKER_MAX_MB the run swaps it for
    an empty one, with every service, after the windows of the frames already sent are stored."""
    import sqlite3

    # Tansu starts near 17 MB and 4 stations add about 0.7 MB a second: a restart some 20-40 s in.
    run = _Run(tmp_path, stations=4,
               env={**os.environ, "KINESYNC_SUPERVISOR_BROKER_MAX_MB": "35", "PYTHONUNBUFFERED": "1"})
    try:
        run.wait(lambda: "restarting it empty with every service" in run.output(), 120, every_s=0.2)
        restarted_at = time.time()
        gateway_pid = _supervisor_state(tmp_path)["services"]["gateway"]["pid"]
        api_pid = _supervisor_state(tmp_path)["services"]["api"]["pid"]
        # The new API starts from the stored windows (seed_from_store): its first answer shows every station.
        first: list[list[dict]] = []

        def new_api_answered() -> bool:
            if _supervisor_state(tmp_path).get("services", {}).get("api", {}).get("pid") in (api_pid, None):
                return False  # the old API, still up while the analyzer drains, or none yet
            try:
                first.append(httpx.get(f"{run.base}/api/stations", timeout=1).json())
            except httpx.HTTPError:
                return False  # not listening yet
            return True

        run.wait(new_api_answered, 60, every_s=0.1)
        rows = first[0]
        assert len(rows) == 4 and all(r["lag_ms"] is not None for r in rows), rows
        assert all(r["set_lag"] is not None and r["set_lag"]["reps"] >= 1 for r in rows), rows  # from the stored reps
        run.wait(lambda: len(rows := run.stations()) == 4 and all(_received_at(r) > restarted_at + 1 for r in rows),
                 60)
        print(f"\nevery station updated again {time.time() - restarted_at:.1f} s after the restart began")
        state = _supervisor_state(tmp_path)["services"]
        assert state["gateway"]["pid"] != gateway_pid
        assert all(s["restarts"] == 0 for s in state.values()), state  # no failure was counted
        assert "running again on an empty broker" in run.output()
        # Before the restart the frames already sent were analysed and stored: each station's last window
        # before it ends less than 1 s before the gateway stopped (windows close every 0.25 s).
        db = sqlite3.connect(tmp_path / ".kinesync" / "kinesync.db")
        try:
            cut_ns = round(restarted_at * 1e9)
            last = dict(db.execute(
                "SELECT station, MAX(window_start_ns) FROM window_metrics WHERE window_start_ns < ? GROUP BY station",
                (cut_ns - 2_000_000_000,)).fetchall())
        finally:
            db.close()
        assert len(last) == 4, last
        before_s = {station: (cut_ns - start_ns) / 1e9 - 2.0 for station, start_ns in last.items()}
        print(f"last window before the restart ended {before_s} s before it")
        assert all(s < 1.0 for s in before_s.values()), before_s
    finally:
        out = run.ctrl_c()
    run.check_stopped_cleanly(out)
