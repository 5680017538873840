"""The alerts service killed (SIGKILL) during retries delivers the alert after it restarts."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from kinesync.alerts.store import AlertStore
from kinesync.alerts.subscriptions import SubscriptionIn, new_subscription
from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import METRICS
from kinesync.models import WindowMetric
from kinesync.settings import Settings
from tests.integration.test_alerts_delivery import Receiver

pytestmark = pytest.mark.integration
NS = 1_000_000_000


def metrics(lags: list[float], t0_ns: int) -> list[WindowMetric]:
    return [
        WindowMetric(station="station-02", athlete="Athlete 02", team="first-team", exercise="back_squat",
                     window_start_ns=t0_ns + i * 3 * NS, window_end_ns=t0_ns + i * 3 * NS + 2 * NS,
                     lag_ms=lag, in_window=80 <= lag <= 120, emitted_at_ns=time.time_ns())
        for i, lag in enumerate(lags)
    ]


def start_service(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "kinesync_services.alerts"], env=env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


async def wait_until(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_kill_9_during_retries_then_restart_delivers_exactly_once(
    kafka_settings: Settings, tmp_path: Path
) -> None:
    bus = KafkaBus(kafka_settings)
    await bus.ensure_topics()
    db = tmp_path / "alerts.db"
    store = AlertStore(db)
    log = tmp_path / "alerts.log"
    with Receiver() as receiver:
        receiver.failing = True
        sub = new_subscription(SubscriptionIn(url=f"{receiver.url}/coach"), time.time_ns())
        store.add_subscription(sub)
        env = {
            **os.environ,
            "KINESYNC_BOOTSTRAP_SERVERS": kafka_settings.bootstrap_servers,
            "KINESYNC_PARTITIONS": str(kafka_settings.partitions),
            "KINESYNC_ALERTS_DB": str(db),
            "KINESYNC_ALERTS_GROUP": f"alerts-{uuid.uuid4().hex[:8]}",
            "KINESYNC_ALERTS_RETRY_BASE_S": "0.3",
            "KINESYNC_ALERTS_RETRY_MAX_S": "1.0",
        }
        producer = bus.producer()
        await producer.start()
        # Five reps in the window, then the athlete drifts out: the default rule fires once.
        for m in metrics([100.0] * 5 + [160.0] * 6, time.time_ns() - 60 * NS):
            await producer.send(METRICS, m.model_dump_json().encode(), m.key())
        await producer.flush()
        await producer.stop()

        first = start_service(env, log)
        try:
            assert await wait_until(lambda: len(receiver.requests) >= 2, 60), log.read_text()
        finally:
            first.send_signal(signal.SIGKILL)
            first.wait()
        failed_attempts = len(receiver.requests)
        [pending] = store.deliveries()
        assert pending.status == "pending" and pending.attempts >= 1, pending
        receiver.failing = False
        killed_at = time.monotonic()

        second = start_service(env, log)
        try:
            assert await wait_until(lambda: bool(receiver.accepted), 60), log.read_text()
            delivered_after_s = time.monotonic() - killed_at
            await asyncio.sleep(2.0)  # a duplicate or a second alert would show up now
        finally:
            # Leaving the group can wait for the killed member's session (10 s) to expire first.
            second.send_signal(signal.SIGTERM)
            assert second.wait(40) == 0, log.read_text()
    keys = {r.headers["idempotency-key"] for r in receiver.requests}
    assert len(keys) == 1, "the restarted service raised the alert again instead of resuming it"
    assert receiver.accepted == {pending.alert_key: 1}
    assert [r.status for r in receiver.requests].count(200) == 1
    [row] = store.deliveries()
    # The count resumes from what the outbox had persisted. An attempt in flight at the kill may have
    # reached the receiver without its result being recorded, so requests and count differ by at most one.
    assert row.status == "delivered" and row.attempts == pending.attempts + 1, (row, pending)
    assert abs(failed_attempts - pending.attempts) <= 1, (failed_attempts, pending)
    store.close()
    print(f"\n{failed_attempts} failed attempts before kill -9; delivered {delivered_after_s:.2f} s after "
          f"the restart began (attempt {row.attempts})")
