"""A simulated athlete drifts out of the target window and back, through the real analyzer.

sim gateway → MemoryBus → analyzer → kinesync.metrics → alerts (rules, outbox, delivery) → a real
HTTP receiver on loopback. Expected: one firing, nothing while the drift lasts (cooldown and
hysteresis), one resolved message after the athlete is back in the window.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest

import kinesync.sources.sim as sim_source
from kinesync.alerts.config import LagOutOfWindowRule
from kinesync.alerts.runner import run_alerts
from kinesync.alerts.store import AlertStore
from kinesync.alerts.subscriptions import SubscriptionIn, new_subscription
from kinesync.bus.memory import MemoryBus
from kinesync.gateway.runner import run_sim_gateway
from kinesync.settings import Settings
from kinesync.sim.athlete import SimAthlete
from kinesync.streaming.runner import run_analyzer
from tests.integration.test_alerts_delivery import Receiver

pytestmark = pytest.mark.integration
DRIFT = range(8, 22)  # reps drifting out of 80-120 ms


class DriftingAthlete(SimAthlete):
    """In the window (100 ms), then drifting late with the odd good rep, then back."""

    def rep_lag_s(self, k: int) -> float:
        if k in DRIFT:
            return 0.105 if (k - DRIFT.start) % 3 == 2 else 0.170
        return 0.100


async def test_drifting_athlete_fires_once_stays_quiet_then_resolves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim_source, "SimAthlete", DriftingAthlete)
    settings = Settings(sim_stations=1, sim_lags_ms=[100.0], sim_realtime=False, sim_duration_s=33 * 3.0,
                        alerts_db=str(tmp_path / "alerts.db"), alerts_retry_base_s=0.2, partitions=4)
    bus = MemoryBus(partitions=4)
    await bus.ensure_topics()
    store = AlertStore(settings.alerts_db)
    rule = LagOutOfWindowRule(id="lag-drift", n=3, m=5, cooldown_s=30.0, severity="critical",
                              scope={"teams": ["first-team"]})
    store.put_rule(rule, time.time_ns())
    with Receiver() as receiver:
        sub = new_subscription(SubscriptionIn(url=f"{receiver.url}/coach", min_severity="warning"), time.time_ns())
        store.add_subscription(sub)
        stop = asyncio.Event()
        analyzer = asyncio.create_task(run_analyzer(bus, settings, stop))
        alerts = asyncio.create_task(run_alerts(bus, store, settings, stop))
        started = time.monotonic()
        await run_sim_gateway(bus, settings, stop)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            states = [json.loads(r.body)["state"] for r in receiver.requests]
            if "resolved" in states:
                break
            await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(analyzer, alerts)
        elapsed = time.monotonic() - started
    bodies = [json.loads(r.body) for r in receiver.requests]
    assert [b["state"] for b in bodies] == ["firing", "resolved"], bodies
    firing, resolved = bodies
    assert firing["athlete"] == "Athlete 01" and firing["severity"] == "critical"
    assert firing["rule"] == "lag-drift" and firing["value"] > 150
    assert resolved["fired_at_ns"] == firing["fired_at_ns"] and resolved["id"] != firing["id"]
    # Event times: fired on the drift's third out-of-window rep, quiet for the whole drift
    # (longer than the 30 s cooldown), resolved once at most one of the last five reps was out.
    quiet_s = (resolved["at_ns"] - firing["at_ns"]) / 1e9
    assert quiet_s > rule.cooldown_s
    assert 80 <= resolved["value"] <= 120
    assert {r.headers["idempotency-key"] for r in receiver.requests} == {firing["id"], resolved["id"]}
    store.close()
    print(f"\nfiring at rep time {firing['at']}, resolved {quiet_s:.1f} s of event time later; "
          f"{len(bodies)} webhook calls; test ran {elapsed:.1f} s")
