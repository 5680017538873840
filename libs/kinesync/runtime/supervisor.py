"""``kinesync run``: the embedded broker plus every service as a child process, stopped together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from kinesync.runtime.broker import EmbeddedBroker
from kinesync.runtime.ports import free_port, wait_port
from kinesync.runtime.process import child_preexec

SERVICES = ("gateway", "analyzer", "writer", "alerts", "api")


@dataclass
class Supervisor:
    stations: int = 8
    port: int = 8000
    host: str = "127.0.0.1"
    workdir: Path = field(default_factory=lambda: Path(".kinesync"))
    extra_env: dict[str, str] = field(default_factory=dict)
    broker: EmbeddedBroker | None = None
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        assert self.broker is not None
        return {
            **os.environ,
            "KINESYNC_BOOTSTRAP_SERVERS": self.broker.bootstrap,
            "KINESYNC_SIM_STATIONS": str(self.stations),
            "KINESYNC_API_HOST": self.host,
            "KINESYNC_API_PORT": str(self.port),
            "KINESYNC_GATEWAY_PORT": os.environ.get("KINESYNC_GATEWAY_PORT", str(free_port(self.host))),
            "KINESYNC_SQLITE_PATH": str(self.workdir / "kinesync.db"),
            "KINESYNC_REGISTRY_DB": str(self.workdir / "registry.db"),
            "KINESYNC_ALERTS_DB": os.environ.get("KINESYNC_ALERTS_DB", str(self.workdir / "alerts.db")),
            **self.extra_env,
        }

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if wait_port(self.host, self.port, 0.05):
            raise RuntimeError(f"port {self.port} on {self.host} is already in use; choose another with --port")
        self.broker = EmbeddedBroker(log_path=self.workdir / "broker.log").start()
        env = self.env()
        # Topics first, from one process, so every service sees the same partition counts.
        subprocess.run([sys.executable, "-m", "kinesync.cli", "topics"], env=env, check=True)
        for name in SERVICES:
            self.children[name] = subprocess.Popen(
                [sys.executable, "-m", f"kinesync_services.{name}"],
                env=env,
                stdin=subprocess.DEVNULL,
                preexec_fn=child_preexec,
            )

    def wait_ready(self, timeout_s: float = 30.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.failed():
                return False
            try:
                if httpx.get(f"http://{self.host}:{self.port}/health", timeout=1.0).status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        return False

    def failed(self) -> list[str]:
        return [n for n, p in self.children.items() if p.poll() is not None]

    def stop(self, timeout_s: float = 10.0) -> None:
        for p in self.children.values():
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for p in self.children.values():
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.children.clear()
        if self.broker is not None:
            self.broker.stop()
            self.broker = None
