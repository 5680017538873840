"""Webhook subscriptions, rules and deliveries as ``/api/alerts`` shows them (docs/alerts.md).

Subscriptions come in as ``kinesync.alerts.subscriptions.SubscriptionIn`` and rules as
``kinesync.alerts.config.RuleSpec``, the classes the alerts service reads.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kinesync.alerts.config import RuleSpec
from kinesync.alerts.rules import Severity
from kinesync.alerts.store import OutboxRow
from kinesync.alerts.subscriptions import Subscription, WebhookFormat


class SubscriptionOut(BaseModel):
    id: str
    name: str | None
    format: WebhookFormat
    url: str = Field(description="scheme and host only: webhook URLs are credentials")
    teams: list[str]
    athletes: list[str]
    min_severity: Severity
    send_resolved: bool
    signed: bool = Field(description="generic webhooks: bodies carry an HMAC-SHA256 signature")
    secret_env: str | None
    created_at_ns: int

    @classmethod
    def of(cls, s: Subscription) -> SubscriptionOut:
        return cls(id=s.id, name=s.name, format=s.format, url=s.masked_url(), teams=s.teams, athletes=s.athletes,
                   min_severity=s.min_severity, send_resolved=s.send_resolved, signed=s.format == "generic",
                   secret_env=s.secret_env, created_at_ns=s.created_at_ns)


class SubscriptionCreated(SubscriptionOut):
    secret: str | None = Field(
        None, description="the signing secret, shown only in this answer; store it in the receiver now"
    )


class RuleOut(BaseModel):
    source: Literal["file", "api"]
    rule: RuleSpec


class DeliveryOut(BaseModel):
    id: int
    alert_key: str
    destination: str
    rule: str
    state: str
    athlete: str | None
    station: str
    status: str
    attempts: int
    created_ns: int
    next_ns: int
    delivered_ns: int | None
    last_error: str | None

    @classmethod
    def of(cls, r: OutboxRow) -> DeliveryOut:
        return cls(id=r.id, alert_key=r.alert_key, destination=r.destination, rule=r.event.rule,
                   state=r.event.state, athlete=r.event.athlete, station=r.event.station, status=r.status,
                   attempts=r.attempts, created_ns=r.created_ns, next_ns=r.next_ns, delivered_ns=r.delivered_ns,
                   last_error=r.last_error)
