"""The writer loop on the in-process bus: offsets are committed only after the database took the batch
(or, when it refused it, after the dead letters were sent); nothing is dropped while it is down."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from kinesync.bus.memory import MemoryBus
from kinesync.bus.topics import DEADLETTER, METRICS, REPS
from kinesync.models import DeadLetter, RepMetric, WindowMetric
from kinesync.settings import Settings
from kinesync.storage.base import StorageRejected, StorageUnavailable
from kinesync.storage.runner import run_writer

T0 = 1_700_000_000_000_000_000
GROUP = "writer-test"


class Store:
    """Unavailable for the first ``down`` writes (all of them with -1); refuses everything when ``reject``."""

    def __init__(self, down: int = 0, reject: bool = False) -> None:
        self.down = down
        self.reject = reject
        self.attempts = 0
        self.written: list[WindowMetric | RepMetric] = []

    async def start(self) -> None:
        return None

    async def write(self, metrics: Sequence[WindowMetric | RepMetric]) -> None:
        self.attempts += 1
        if self.down:
            self.down -= 1
            raise StorageUnavailable("database down")
        if self.reject:
            raise StorageRejected("bad request")
        self.written.extend(metrics)

    async def close(self) -> None:
        return None


def window(i: int) -> bytes:
    return WindowMetric(station="s01", window_start_ns=T0 + i, window_end_ns=T0 + i + 1).model_dump_json().encode()


async def floor(bus: MemoryBus) -> None:
    await bus.ensure_topics()
    producer = bus.producer()
    for i in range(3):
        await producer.send(METRICS, window(i), b"s01")
    await producer.send(METRICS, b"{not json", b"s01")


async def run_until(bus: MemoryBus, store: Store, done, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    stop = asyncio.Event()
    writer = asyncio.create_task(run_writer(bus, store, Settings(writer_group=GROUP, batch_interval_s=0.05), stop))
    try:
        async with asyncio.timeout(timeout_s):
            while not done():  # noqa: ASYNC110 - the condition is the writer's progress
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await writer


async def uncommitted(bus: MemoryBus) -> list[bytes]:
    """The metrics a writer of the group would read next."""
    consumer = bus.consumer([METRICS, REPS], GROUP)
    await consumer.start()
    try:
        return [m.value for m in await consumer.getmany(timeout_ms=0)]
    finally:
        await consumer.stop()


def dead_letters(bus: MemoryBus) -> list[DeadLetter]:
    return [DeadLetter.model_validate_json(m.value) for m in bus.messages(DEADLETTER)]


async def test_a_batch_is_written_after_outages_then_committed_and_the_malformed_record_is_a_dead_letter() -> None:
    bus, store = MemoryBus(), Store(down=2)
    await floor(bus)
    await run_until(bus, store, lambda: len(store.written) == 3 and dead_letters(bus))
    assert store.attempts >= 3 and [m.window_start_ns for m in store.written] == [T0, T0 + 1, T0 + 2]
    (letter,) = dead_letters(bus)
    assert "not a WindowMetric" in letter.reason
    assert await uncommitted(bus) == []


async def test_stopping_while_the_database_is_down_commits_nothing() -> None:
    bus, store = MemoryBus(), Store(down=-1)
    await floor(bus)
    await run_until(bus, store, lambda: store.attempts >= 2)
    assert store.written == [] and dead_letters(bus) == []
    assert len(await uncommitted(bus)) == 4  # the next writer starts from the same records


async def test_a_refused_batch_goes_to_the_dead_letters_and_is_committed() -> None:
    bus, store = MemoryBus(), Store(reject=True)
    await floor(bus)
    await run_until(bus, store, lambda: len(dead_letters(bus)) >= 4)
    reasons = [d.reason.split(":")[0] for d in dead_letters(bus)]
    assert "not a WindowMetric" in reasons and reasons.count("storage rejected") >= 3
    assert store.written == [] and await uncommitted(bus) == []


class LineCapture(Store):
    """A line-protocol store (as InfluxDB's): the writer puts alert and pipeline points beside the windows."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    async def write_lines(self, lines: Sequence[str]) -> None:
        self.lines.extend(lines)


async def test_the_writers_alert_points_follow_the_alert_services_rules_and_state(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The rules in force (here one made in the API: every out-of-window rep fires) and the state the
    # alerts service saved (Ada already firing by it): the writer's points are the webhooks' events, so
    # Ada's next out-of-window rep raises nothing new and Bo's first one fires.
    from kinesync.alerts.config import LagOutOfWindowRule
    from kinesync.alerts.engine import RuleEngine
    from kinesync.alerts.rule_source import rules_in_force
    from kinesync.alerts.store import AlertStore

    settings = Settings(alerts_db=str(tmp_path / "alerts.db"), alert_rules=None)
    alerts = AlertStore(settings.alerts_db)
    every_rep = LagOutOfWindowRule(id="every-rep", n=1, m=1, resolve_at_most=0, cooldown_s=0)
    alerts.put_rule(every_rep, T0)

    def out(athlete: str, i: int) -> WindowMetric:
        return WindowMetric(station="s01", athlete=athlete, window_start_ns=T0 + i, window_end_ns=T0 + i + 1,
                            lag_ms=150.0, in_window=False, target_low_ms=80.0, target_high_ms=120.0)

    service = RuleEngine([every_rep])
    assert [e.state for e in service.observe(out("Ada", 0))] == ["firing"]
    alerts.record([], service.snapshot(), {}, T0)
    rules, _ = await rules_in_force(settings, alerts)
    alerts.close()

    bus = MemoryBus()
    await bus.ensure_topics()
    producer = bus.producer()
    for i, athlete in enumerate(("Ada", "Bo"), start=1):
        await producer.send(METRICS, out(athlete, i).model_dump_json().encode(), b"s01")
    store = LineCapture()
    stop = asyncio.Event()
    writer = asyncio.create_task(run_writer(bus, store, Settings(writer_group=GROUP, batch_interval_s=0.05), stop,
                                            rules))
    try:
        async with asyncio.timeout(10):
            while len(store.written) < 2:  # noqa: ASYNC110 - the condition is the writer's progress
                await asyncio.sleep(0.02)
    finally:
        stop.set()
        await writer
    alert_lines = [line for line in store.lines if line.startswith("alerts,")]
    assert len(alert_lines) == 1 and alert_lines[0].startswith("alerts,station=s01,athlete=Bo,rule=every-rep ")
