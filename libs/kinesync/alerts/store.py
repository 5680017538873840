"""The alerts database: subscriptions, API-managed rules, the durable outbox and the engine state.

One SQLite file (WAL mode) shared by the API process (writes subscriptions and rules) and the
alerts service (reads them, owns the outbox). Outbox rows, the rule engine's state and the
consumed Kafka positions are written in ONE transaction, before offsets are committed: after a
crash the service resumes with exactly the alerts it had promised to deliver, no more, no less.
Calls are blocking and short; async callers go through ``run`` (``asyncio.to_thread``). Connection,
lock, transactions and migrations are ``kinesync.runtime.sqlite``'s.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

from kinesync.alerts.config import RULE_ADAPTER, RuleSpec
from kinesync.alerts.rules import AlertEvent
from kinesync.alerts.subscriptions import Subscription
from kinesync.runtime.sqlite import Migration, SqliteDb

T = TypeVar("T")
GRAFANA = "grafana"  # the outbox destination of Grafana annotations (not a subscription id)
DeliveryStatus = Literal["pending", "delivered", "failed", "expired", "dropped"]

# IF NOT EXISTS: files from before user_version was kept hold these tables already.
MIGRATIONS: tuple[Migration, ...] = ("""
CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, data TEXT NOT NULL, created_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS rules (id TEXT PRIMARY KEY, data TEXT NOT NULL, updated_ns INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert_key TEXT NOT NULL,
    destination TEXT NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ns INTEGER NOT NULL,
    next_ns INTEGER NOT NULL,
    last_error TEXT,
    delivered_ns INTEGER,
    UNIQUE (alert_key, destination)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, next_ns);
CREATE TABLE IF NOT EXISTS kv (name TEXT PRIMARY KEY, value TEXT NOT NULL);
""",)


@dataclass(frozen=True)
class OutboxRow:
    id: int
    alert_key: str
    destination: str
    event: AlertEvent
    status: str
    attempts: int
    created_ns: int
    next_ns: int
    last_error: str | None
    delivered_ns: int | None


def event_to_json(e: AlertEvent) -> str:
    return json.dumps(dataclasses.asdict(e), separators=(",", ":"))


def event_from_json(text: str) -> AlertEvent:
    return AlertEvent(**json.loads(text))


class AlertStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # synchronous=FULL: the outbox is a promise, fsync on commit. Opened now, so a bad path fails
        # at start-up rather than at the first alert.
        self._db = SqliteDb(self.path, MIGRATIONS, busy_timeout_s=10.0, synchronous="FULL")
        self._db.open()

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.to_thread(fn, *args)

    def close(self) -> None:
        self._db.close()

    def _all(self, sql: str, args: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.call(lambda db: db.execute(sql, tuple(args)).fetchall(), tx=False)

    # ---- subscriptions ----------------------------------------------------------------------

    def add_subscription(self, sub: Subscription) -> None:
        data = sub.model_dump(mode="json")
        data["secret"] = sub.secret.get_secret_value() if sub.secret else None
        self._db.call(lambda db: db.execute("INSERT INTO subscriptions VALUES (?, ?, ?)",
                                            (sub.id, json.dumps(data), sub.created_at_ns)))

    def subscriptions(self) -> list[Subscription]:
        rows = self._all("SELECT data FROM subscriptions ORDER BY created_ns, id")
        return [Subscription.model_validate_json(r[0]) for r in rows]

    def subscription(self, sub_id: str) -> Subscription | None:
        rows = self._all("SELECT data FROM subscriptions WHERE id = ?", (sub_id,))
        return Subscription.model_validate_json(rows[0][0]) if rows else None

    def delete_subscription(self, sub_id: str) -> bool:
        def tx(db: sqlite3.Connection) -> bool:
            gone = db.execute("DELETE FROM subscriptions WHERE id = ?", (sub_id,)).rowcount > 0
            db.execute("UPDATE outbox SET status = 'dropped', last_error = 'subscription deleted' "
                       "WHERE destination = ? AND status = 'pending'", (sub_id,))
            return gone

        return self._db.call(tx)

    # ---- rules ------------------------------------------------------------------------------

    def put_rule(self, rule: RuleSpec, now_ns: int) -> bool:
        """Insert or replace; True when the rule is new."""

        def tx(db: sqlite3.Connection) -> bool:
            new = db.execute("SELECT 1 FROM rules WHERE id = ?", (rule.id,)).fetchone() is None
            db.execute("INSERT OR REPLACE INTO rules VALUES (?, ?, ?)", (rule.id, rule.model_dump_json(), now_ns))
            return new

        return self._db.call(tx)

    def rules(self) -> list[RuleSpec]:
        return [RULE_ADAPTER.validate_json(r[0]) for r in self._all("SELECT data FROM rules ORDER BY id")]

    def delete_rule(self, rule_id: str) -> bool:
        return self._db.call(lambda db: db.execute("DELETE FROM rules WHERE id = ?", (rule_id,)).rowcount > 0)

    def rules_fingerprint(self) -> tuple[int, int]:
        rows = self._all("SELECT count(*), coalesce(sum(updated_ns % 1000000007), 0) FROM rules")
        return int(rows[0][0]), int(rows[0][1])

    # ---- outbox and engine state ------------------------------------------------------------

    def record(self, deliveries: Iterable[tuple[AlertEvent, str]], state: dict[str, Any],
               positions: dict[str, int], now_ns: int) -> int:
        """Queue deliveries and save engine state and consumed positions atomically; returns new rows.

        A replayed alert (same idempotency key and destination) is ignored, not queued twice.
        """

        def tx(db: sqlite3.Connection) -> int:
            added = 0
            for event, dest in deliveries:
                cur = db.execute(
                    "INSERT OR IGNORE INTO outbox (alert_key, destination, event, created_ns, next_ns) "
                    "VALUES (?, ?, ?, ?, ?)", (event.key, dest, event_to_json(event), now_ns, now_ns))
                added += cur.rowcount
            db.execute("INSERT OR REPLACE INTO kv VALUES ('engine_state', ?)", (json.dumps(state),))
            old = db.execute("SELECT value FROM kv WHERE name = 'positions'").fetchone()
            merged = {**(json.loads(old[0]) if old else {}), **positions}
            db.execute("INSERT OR REPLACE INTO kv VALUES ('positions', ?)", (json.dumps(merged),))
            return added

        return self._db.call(tx)

    def forget_positions(self) -> None:
        """Forget how far the metrics topic was read: its broker starts a new log (``kinesync run``'s embedded
        broker keeps nothing from one run to the next), and records at offsets read before are new ones,
        not replays to skip."""
        self._db.call(lambda db: db.execute("DELETE FROM kv WHERE name = 'positions'"))

    def load_state(self) -> tuple[dict[str, Any], dict[str, int]]:
        rows = dict(self._all("SELECT name, value FROM kv WHERE name IN ('engine_state', 'positions')"))
        return json.loads(rows.get("engine_state", "{}")), json.loads(rows.get("positions", "{}"))

    def due(self, now_ns: int, limit: int = 100) -> list[OutboxRow]:
        rows = self._all(
            "SELECT * FROM outbox WHERE status = 'pending' AND next_ns <= ? ORDER BY next_ns, id LIMIT ?",
            (now_ns, limit))
        return [_row(r) for r in rows]

    def next_due_ns(self) -> int | None:
        rows = self._all("SELECT min(next_ns) FROM outbox WHERE status = 'pending'")
        return rows[0][0]

    def deliveries(self, status: str | None = None, limit: int = 100) -> list[OutboxRow]:
        if status:
            rows = self._all("SELECT * FROM outbox WHERE status = ? ORDER BY id DESC LIMIT ?", (status, limit))
        else:
            rows = self._all("SELECT * FROM outbox ORDER BY id DESC LIMIT ?", (limit,))
        return [_row(r) for r in rows]

    def mark_delivered(self, row_id: int, attempts: int, now_ns: int) -> None:
        self._db.call(lambda db: db.execute(
            "UPDATE outbox SET status = 'delivered', attempts = ?, delivered_ns = ?, last_error = NULL "
            "WHERE id = ?", (attempts, now_ns, row_id)))

    def mark_retry(self, row_id: int, attempts: int, next_ns: int, error: str) -> None:
        self._db.call(lambda db: db.execute(
            "UPDATE outbox SET attempts = ?, next_ns = ?, last_error = ? WHERE id = ?",
            (attempts, next_ns, error[:500], row_id)))

    def mark_final(self, row_id: int, attempts: int, status: DeliveryStatus, error: str) -> None:
        self._db.call(lambda db: db.execute(
            "UPDATE outbox SET status = ?, attempts = ?, last_error = ? WHERE id = ?",
            (status, attempts, error[:500], row_id)))


def _row(r: tuple[Any, ...]) -> OutboxRow:
    return OutboxRow(r[0], r[1], r[2], event_from_json(r[3]), r[4], r[5], r[6], r[7], r[8], r[9])
