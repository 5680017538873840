"""``kinesync run``: the embedded broker plus every service as a child process.

A service that exits while the run goes on is restarted with backoff; one that keeps failing stops the
whole run. What happened to each service is kept in a JSON state file that the API's ``/health`` reads.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import httpx

from kinesync.runtime.broker import EmbeddedBroker, embedded_partitions
from kinesync.runtime.ports import free_port, wait_port
from kinesync.runtime.process import child_preexec
from kinesync.runtime.retry import backoff_s

SERVICES = ("gateway", "analyzer", "writer", "alerts", "api")
STATE_FILE = "supervisor.json"
STATE_ENV = "KINESYNC_SUPERVISOR_STATE"
TAIL_LINES = 20  # kept per child, for the last error line
SHOWN_LINES = 5  # of those, printed with a restart

# A log record at ERROR or above, or the last line of a Python traceback ("ValueError: ...").
_ERROR_LINE = re.compile(r"\b(ERROR|CRITICAL)\b|^[\w.]*(Error|Exception|Exit|Interrupt)\b")
# Forwarded child lines and the supervisor's own messages must not interleave mid-line.
_OUTPUT_LOCK = threading.Lock()


def service_command(name: str) -> list[str]:
    return [sys.executable, "-m", f"kinesync_services.{name}"]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _say(text: str) -> None:
    with _OUTPUT_LOCK:
        try:
            sys.stderr.write(text if text.endswith("\n") else text + "\n")
            sys.stderr.flush()
        except (OSError, ValueError):  # no terminal any more: nothing to tell
            pass


def _forward(stream: IO[bytes], tail: deque[str]) -> None:
    """Copy a child's stderr to ours line by line and keep its last lines.

    Runs until the child closes the pipe; it keeps draining even when our stderr is gone, so a child
    never blocks on a full pipe.
    """
    with stream:
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            tail.append(line)
            _say(line)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def error_line(code: int, tail: list[str]) -> str:
    """The one line that best says why a child ended: its last error-looking line, else its last line."""
    lines = [s.strip() for s in tail if s.strip()]
    for line in reversed(lines):
        if _ERROR_LINE.search(line):
            return line
    if code < 0 or not lines:
        return describe_exit(code)
    return lines[-1]


@dataclass(slots=True)
class ServiceRecord:
    """One service in the state file."""

    restarts: int = 0
    last_exit_code: int | None = None  # negative: killed by that signal
    last_error: str | None = None
    last_restart_at: str | None = None  # ISO-8601 UTC
    pid: int | None = None


@dataclass
class Supervisor:
    stations: int = 8
    port: int = 8000
    host: str = "127.0.0.1"
    workdir: Path = field(default_factory=lambda: Path(".kinesync"))
    extra_env: dict[str, str] = field(default_factory=dict)
    services: tuple[str, ...] = SERVICES
    # The child's command line; tests put a stand-in here.
    command: Callable[[str], list[str]] = service_command
    # A service that exits this often within the window stops the whole run.
    max_failures: int = 5
    failure_window_s: float = 60.0
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 10.0
    broker: EmbeddedBroker | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    records: dict[str, ServiceRecord] = field(default_factory=dict)
    stopping: bool = False
    gave_up: str | None = None
    _env: dict[str, str] = field(default_factory=dict, init=False, repr=False)
    _tails: dict[str, deque[str]] = field(default_factory=dict, init=False, repr=False)
    _readers: dict[str, threading.Thread] = field(default_factory=dict, init=False, repr=False)
    _failures: dict[str, deque[float]] = field(default_factory=dict, init=False, repr=False)
    _restart_at: dict[str, float] = field(default_factory=dict, init=False, repr=False)

    @property
    def state_path(self) -> Path:
        # Absolute: the children read it whatever their working directory.
        return (self.workdir / STATE_FILE).resolve()

    def env(self) -> dict[str, str]:
        env = {
            **os.environ,
            "KINESYNC_SIM_STATIONS": str(self.stations),
            "KINESYNC_API_HOST": self.host,
            "KINESYNC_API_PORT": str(self.port),
            "KINESYNC_GATEWAY_PORT": os.environ.get("KINESYNC_GATEWAY_PORT", str(free_port(self.host))),
            "KINESYNC_SQLITE_PATH": str(self.workdir / "kinesync.db"),
            "KINESYNC_REGISTRY_DB": str(self.workdir / "registry.db"),
            "KINESYNC_ALERTS_DB": os.environ.get("KINESYNC_ALERTS_DB", str(self.workdir / "alerts.db")),
            STATE_ENV: str(self.state_path),
            # One analyzer: one partition per topic, unless the operator says otherwise (embedded_partitions).
            "KINESYNC_PARTITIONS": os.environ.get("KINESYNC_PARTITIONS", str(embedded_partitions(1))),
            **self.extra_env,
        }
        if self.broker is not None:
            env["KINESYNC_BOOTSTRAP_SERVERS"] = self.broker.bootstrap
        return env

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if wait_port(self.host, self.port, 0.05):
            raise RuntimeError(f"port {self.port} on {self.host} is already in use; choose another with --port")
        self._start_on_new_broker(None)

    def _start_on_new_broker(self, port: int | None) -> None:
        """An empty embedded broker (on ``port`` when it is free again), its topics, then every service."""
        log_path = self.workdir / "broker.log"
        try:
            self.broker = EmbeddedBroker(port=port, log_path=log_path).start()
        except RuntimeError:
            if port is None:
                raise
            self.broker = EmbeddedBroker(log_path=log_path).start()  # the old port was taken meanwhile
        self._forget_alert_positions()
        # Topics first, from one process, so every service sees the same partition counts.
        subprocess.run([sys.executable, "-m", "kinesync.cli", "topics"], env=self.env(), check=True)
        self.start_services()

    def restart_broker(self, drain_s: float = 2.0, timeout_s: float = 10.0) -> None:
        """A fresh, empty embedded broker and every service started again on it.

        Tansu's memory storage keeps every record and cannot delete any (``embedded_partitions``), so a
        long run recycles it before it fills the machine's memory. The gateway stops first, the analyzer
        ``drain_s`` later and the rest ``drain_s`` after that, so the frames already sent are analysed and
        their windows stored and shown; what the simulated athletes do in the pause is not recorded. The
        SQLite stores stay; the API publishes the running sessions again when it starts and starts its
        wall, set lags and cues from the stored windows and reps (``kinesync.api.workers.seed_from_store``).
        """
        first, second = ("gateway",), ("analyzer",)
        for names in (first, second):
            self._terminate([n for n in names if n in self.children], timeout_s)
            time.sleep(drain_s)
        self._terminate(list(self.children), timeout_s)
        port = None
        if self.broker is not None:
            port = self.broker.port
            self.broker.stop()
            self.broker = None
        self._start_on_new_broker(port)

    def _forget_alert_positions(self) -> None:
        """The alerts service skips metrics at offsets its store has read, as replays. The embedded broker
        starts every run with empty logs, so without this every run after the first skipped all of its
        metrics until the offsets passed the last run's, and no alert fired."""
        path = Path(self.env()["KINESYNC_ALERTS_DB"])
        if path.exists():
            from kinesync.alerts.store import AlertStore

            store = AlertStore(path)
            try:
                store.forget_positions()
            finally:
                store.close()

    def start_services(self) -> None:
        """Start every service; a restarted one gets the same environment (ports included)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._env = self.env()
        for name in self.services:
            self.records[name] = ServiceRecord()
            self._failures[name] = deque()
            self._spawn(name)
        self._write_state()

    def _spawn(self, name: str) -> None:
        proc = subprocess.Popen(
            self.command(name),
            env=self._env,
            stdin=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=child_preexec,
        )
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        assert proc.stderr is not None
        reader = threading.Thread(target=_forward, args=(proc.stderr, tail), name=f"{name}-stderr", daemon=True)
        reader.start()
        self.children[name], self._tails[name], self._readers[name] = proc, tail, reader
        self.records[name].pid = proc.pid

    def check(self) -> str | None:
        """Restart the services that exited, each once its backoff delay is over.

        Never blocks, so the caller stays responsive to Ctrl-C. Returns the message that ends the run
        when a service failed ``max_failures`` times within ``failure_window_s``, else None.
        """
        if self.stopping or self.gave_up is not None:
            return self.gave_up
        now = time.monotonic()
        changed = False
        for name, proc in self.children.items():
            if name in self._restart_at or proc.poll() is None:
                continue
            changed = True
            self.gave_up = self._exited(name, proc.returncode, now)
            if self.gave_up is not None:
                self._write_state()
                return self.gave_up
        for name, at in list(self._restart_at.items()):
            if now >= at:
                del self._restart_at[name]
                self._spawn(name)
                record = self.records[name]
                record.restarts += 1
                record.last_restart_at = _now_iso()
                _say(f"kinesync run: {name} restarted (pid {record.pid}, restart {record.restarts})")
                changed = True
        if changed:
            self._write_state()
        return None

    def _exited(self, name: str, code: int, now: float) -> str | None:
        self._readers[name].join(1.0)  # its last lines may still be in the pipe
        tail = list(self._tails[name])
        record = self.records[name]
        record.last_exit_code = code
        record.last_error = error_line(code, tail)
        failures = self._failures[name]
        failures.append(now)
        while now - failures[0] > self.failure_window_s:
            failures.popleft()
        how = describe_exit(code)
        if record.last_error != how:
            how = f"{how}: {record.last_error}"
        if len(failures) >= self.max_failures:
            window = f"{self.failure_window_s:g} s"
            return f"{name} failed {len(failures)} times within {window} (last: {how}); stopping everything"
        delay = backoff_s(len(failures) - 1, self.backoff_base_s, self.backoff_cap_s)
        self._restart_at[name] = now + delay
        shown = "".join(f"\n    | {line}" for line in tail[-SHOWN_LINES:]) or "\n    | (no output)"
        _say(
            f"kinesync run: {name} stopped unexpectedly ({how}); restarting in {delay:.1f} s "
            f"({len(failures)} failure(s) within {self.failure_window_s:g} s, {self.max_failures} stop the run). "
            f"Its last output:{shown}"
        )
        return None

    def _write_state(self) -> None:
        body = {
            "pid": os.getpid(),
            "updated_at": _now_iso(),
            "services": {name: asdict(rec) for name, rec in self.records.items()},
        }
        path = self.state_path
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
            os.replace(tmp, path)  # readers see the old file or the new one, never half of one
        except OSError as exc:
            _say(f"kinesync run: could not write {path}: {exc}")

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.check() is not None:
                return False
            try:
                if httpx.get(f"http://{self.host}:{self.port}/health", timeout=1.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False

    def failed(self) -> list[str]:
        """Services that are not running now (exited, maybe waiting for their restart)."""
        return [n for n, p in self.children.items() if p.poll() is not None]

    def _terminate(self, names: list[str], timeout_s: float) -> None:
        """SIGTERM to the services ``names``, SIGKILL to those still running ``timeout_s`` later; they are
        then no longer children, so their exits are no failures and nothing restarts them."""
        procs = [self.children.pop(n) for n in names]
        for n in names:
            self._restart_at.pop(n, None)
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for p in procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for n in names:
            reader = self._readers.pop(n, None)
            if reader is not None:
                reader.join(1.0)  # let their last log lines through

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stopping = True  # from here on an exit is expected: no restarts
        self._restart_at.clear()
        self._terminate(list(self.children), timeout_s)
        if self.broker is not None:
            self.broker.stop()
            self.broker = None


class SupervisorState:
    """The API's view of the state file: parsed again only when it changed, empty when unreadable."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self._seen: tuple[int, int] | None = None
        self._services: dict[str, dict[str, object]] = {}

    def services(self) -> dict[str, dict[str, object]]:
        if self.path is None:
            return {}
        try:
            st = self.path.stat()
            key = (st.st_mtime_ns, st.st_size)
            if key != self._seen:
                body = json.loads(self.path.read_text(encoding="utf-8"))
                services = body.get("services") if isinstance(body, dict) else None
                if not isinstance(services, dict):
                    raise ValueError("not a supervisor state file")
                self._services = {k: v for k, v in services.items() if isinstance(v, dict)}
                self._seen = key
        except (OSError, ValueError):
            # Missing (no run yet, or another process manager) or not a state file: keep what was known.
            return self._services
        return self._services

    def restarts(self) -> dict[str, int]:
        return {
            name: int(r["restarts"]) for name, r in self.services().items() if isinstance(r.get("restarts"), int)
        }
