"""``kinesync run`` supervision with stand-in children: restart with backoff, give up on a crash loop."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from kinesync.runtime.supervisor import STATE_ENV, Supervisor, SupervisorState, error_line


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def _supervise(sup: Supervisor, seconds: float, until: object = None) -> str | None:
    """Call ``check`` like ``kinesync run`` does until it gives up, ``until()`` holds, or time runs out."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = sup.check()
        if message is not None or (callable(until) and until()):
            return message
        time.sleep(0.02)
    return None


def test_a_child_that_always_fails_stops_the_run_after_five_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    crash = "import sys; print('loading rules', file=sys.stderr); sys.exit('ConfigError: no such rules file x.yaml')"
    sup = Supervisor(workdir=tmp_path, services=("flaky",), command=lambda _name: _python(crash), backoff_base_s=0.01)
    sup.start_services()
    try:
        message = _supervise(sup, 30)
    finally:
        sup.stop()
    assert message is not None
    assert message.startswith("flaky failed 5 times within 60 s")
    assert message.endswith("(last: exit code 1: ConfigError: no such rules file x.yaml); stopping everything")
    state = json.loads((tmp_path / "supervisor.json").read_text())["services"]["flaky"]
    # Five exits, four restarts in between: the fifth exit ends the run instead.
    assert state["restarts"] == 4 and state["last_exit_code"] == 1
    assert state["last_error"] == "ConfigError: no such rules file x.yaml"
    err = capsys.readouterr().err
    assert err.count("flaky stopped unexpectedly (exit code 1: ConfigError: no such rules file x.yaml)") == 4
    assert "loading rules" in err  # the child's own output still reaches the terminal
    assert "    | ConfigError: no such rules file x.yaml" in err


def test_failures_further_apart_than_the_window_never_stop_the_run(tmp_path: Path) -> None:
    # Each stand-in lives 0.3 s, so no two of its exits fall within a 0.2 s window.
    crash = "import sys, time; time.sleep(0.3); sys.exit(2)"
    sup = Supervisor(workdir=tmp_path, services=("flaky",), command=lambda _name: _python(crash),
                     max_failures=2, failure_window_s=0.2, backoff_base_s=0.01)
    sup.start_services()
    try:
        message = _supervise(sup, 20, until=lambda: sup.records["flaky"].restarts >= 3)
    finally:
        sup.stop()
    assert message is None
    assert sup.records["flaky"].restarts >= 3 and sup.records["flaky"].last_exit_code == 2


def test_a_child_that_exits_once_is_restarted_and_counted(tmp_path: Path) -> None:
    marker = tmp_path / "crashed-once"
    code = (
        "import pathlib, sys, time\n"
        f"p = pathlib.Path({str(marker)!r})\n"
        "if not p.exists():\n"
        "    p.touch()\n"
        "    raise RuntimeError('lost the database connection')\n"
        "time.sleep(60)\n"
    )
    sup = Supervisor(workdir=tmp_path, services=("writer", "steady"), backoff_base_s=0.05,
                     command=lambda name: _python(code if name == "writer" else "import time; time.sleep(60)"))
    sup.start_services()
    first_pid = sup.children["writer"].pid
    steady_pid = sup.children["steady"].pid
    try:
        message = _supervise(sup, 15, until=lambda: sup.records["writer"].restarts == 1)
        assert message is None
        assert sup.records["writer"].restarts == 1
        assert sup.children["writer"].pid != first_pid and sup.children["writer"].poll() is None
        assert sup.children["steady"].pid == steady_pid
        state = SupervisorState(tmp_path / "supervisor.json")
        assert state.restarts() == {"writer": 1, "steady": 0}
        writer = state.services()["writer"]
        assert writer["last_exit_code"] == 1 and writer["pid"] == sup.children["writer"].pid
        assert writer["last_error"] == "RuntimeError: lost the database connection"
        assert isinstance(writer["last_restart_at"], str)
        assert sup.env()[STATE_ENV] == str((tmp_path / "supervisor.json").resolve())
    finally:
        sup.stop()


def test_stop_restarts_nothing(tmp_path: Path) -> None:
    sup = Supervisor(workdir=tmp_path, services=("api",), command=lambda _name: _python("import time; time.sleep(60)"))
    sup.start_services()
    proc = sup.children["api"]
    sup.stop()
    assert proc.poll() is not None
    assert sup.check() is None
    assert sup.children == {} and sup.records["api"].restarts == 0


def test_state_reader_tolerates_missing_partial_and_foreign_files(tmp_path: Path) -> None:
    path = tmp_path / "supervisor.json"
    state = SupervisorState(path)
    assert state.restarts() == {}
    path.write_text('{"services": {"analyzer": {"restarts": 2}, "api": {"restarts": 0}}}')
    assert state.restarts() == {"analyzer": 2, "api": 0}
    path.write_text('{"services": {"analyzer": {"restar')  # torn: the last good reading stays
    assert state.restarts() == {"analyzer": 2, "api": 0}
    path.write_text('["not", "a", "state", "file"]')
    assert state.restarts() == {"analyzer": 2, "api": 0}
    assert SupervisorState(None).restarts() == {}


def test_error_line_prefers_errors_and_names_signals() -> None:
    tail = ["12:00:00 writer   ERROR   kinesync.writer: storage rejected a batch", "12:00:01 writer   INFO    bye"]
    assert error_line(1, tail) == "12:00:00 writer   ERROR   kinesync.writer: storage rejected a batch"
    assert error_line(0, ["12:00:01 gateway  INFO    source finished"]) == "12:00:01 gateway  INFO    source finished"
    assert error_line(-9, ["12:00:01 analyzer INFO    windows out"]) == "killed by SIGKILL"
    assert error_line(3, []) == "exit code 3"


def test_a_run_forgets_how_far_the_last_run_s_broker_was_read_by_the_alerts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each run's embedded broker starts with empty logs: the alerts store's positions from the last run
    would make the alerts service skip this run's metrics as replays."""
    from kinesync.alerts.store import AlertStore

    monkeypatch.delenv("KINESYNC_ALERTS_DB", raising=False)
    store = AlertStore(tmp_path / "alerts.db")
    store.record([], {"kept": 1}, {"kinesync.metrics:0": 5000, "kinesync.metrics:1": 4800}, time.time_ns())
    assert store.load_state() == ({"kept": 1}, {"kinesync.metrics:0": 5000, "kinesync.metrics:1": 4800})
    store.close()
    sup = Supervisor(workdir=tmp_path, services=())
    sup.start()
    try:
        store = AlertStore(tmp_path / "alerts.db")
        assert store.load_state() == ({"kept": 1}, {})  # the rules' state stays with the athletes
        store.close()
    finally:
        sup.stop()


def test_the_embedded_run_gives_its_one_analyzer_one_partition_unless_told(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tansu's memory storage lists a partition's every stored batch on each fetch (embedded_partitions).
    monkeypatch.delenv("KINESYNC_PARTITIONS", raising=False)
    assert Supervisor(workdir=tmp_path).env()["KINESYNC_PARTITIONS"] == "1"
    monkeypatch.setenv("KINESYNC_PARTITIONS", "4")
    assert Supervisor(workdir=tmp_path).env()["KINESYNC_PARTITIONS"] == "4"


def test_a_broker_restart_stops_the_gateway_first_and_starts_everything_again_on_an_empty_broker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tansu's memory storage keeps every record: a long run swaps it for an empty one (restart_broker)."""
    monkeypatch.delenv("KINESYNC_ALERTS_DB", raising=False)
    stopped = tmp_path / "stopped.txt"
    # Each stand-in notes when SIGTERM reached it, so the order of the stops can be read back.
    code = (
        "import signal, sys, time\n"
        "name = sys.argv[1]\n"
        "def bye(*_):\n"
        f"    open({str(stopped)!r}, 'a').write(f'{{name}} {{time.monotonic()}}\\n')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "time.sleep(120)\n"
    )
    sup = Supervisor(workdir=tmp_path, services=("gateway", "analyzer", "writer", "api"),
                     command=lambda name: [sys.executable, "-c", code, name])
    sup.start()
    try:
        assert sup.broker is not None
        port, first_broker = sup.broker.port, sup.broker.proc
        assert sup.broker.resident_bytes() > 0
        old = {n: p.pid for n, p in sup.children.items()}
        time.sleep(0.5)  # the stand-ins install their handlers
        sup.restart_broker(drain_s=0.3)
        assert first_broker is not None and first_broker.poll() is not None
        # A new broker process (memory storage: empty) on the same port, so the printed address stays true.
        assert sup.broker is not None and sup.broker.port == port and sup.broker.proc is not first_broker
        assert sup.env()["KINESYNC_BOOTSTRAP_SERVERS"] == f"127.0.0.1:{port}"
        new = {n: p.pid for n, p in sup.children.items()}
        assert new.keys() == old.keys() and all(new[n] != old[n] for n in new)
        assert all(p.poll() is None for p in sup.children.values())
        # Stopped on purpose: no failure, no pending restart.
        assert sup.check() is None and all(r.restarts == 0 for r in sup.records.values())
        stops = dict(line.split() for line in stopped.read_text().splitlines())
        assert stops.keys() == {"gateway", "analyzer", "writer", "api"}
        t = {n: float(v) for n, v in stops.items()}
        # The gateway first, the analyzer after the drain, the rest after the analyzer's windows.
        assert t["gateway"] + 0.25 < t["analyzer"] < t["writer"] - 0.25 and t["analyzer"] < t["api"] - 0.25
    finally:
        sup.stop()
