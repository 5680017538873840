"""``/api/alerts``: webhook subscriptions, alert rules and the delivery outbox (docs/alerts.md).

Writes need the admin token, reads the viewer token. Data lives in the alerts database
(``KINESYNC_ALERTS_DB``), which the alerts service reads: a new subscription receives the next
alert, a new or changed rule is picked up within seconds, without a restart.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field, ValidationError

from kinesync.alerts.config import RuleSpec, load_rules_file
from kinesync.alerts.rules import Severity
from kinesync.alerts.store import AlertStore, OutboxRow
from kinesync.alerts.subscriptions import Subscription, SubscriptionIn, WebhookFormat, new_subscription
from kinesync.api.auth import AdminDep, ViewerDep
from kinesync.settings import Settings

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


def _settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "alerts_settings", None)
    if not isinstance(settings, Settings):
        settings = request.app.state.alerts_settings = Settings()
    return settings


def get_store(request: Request) -> AlertStore:
    """The alerts database; a test (or the API service) may put one on ``app.state.alerts_store``."""
    store = getattr(request.app.state, "alerts_store", None)
    if not isinstance(store, AlertStore):
        store = request.app.state.alerts_store = AlertStore(_settings(request).alerts_db)
    return store


StoreDep = Annotated[AlertStore, Depends(get_store)]


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


@router.get("/subscriptions", response_model=list[SubscriptionOut])
async def list_subscriptions(_: ViewerDep, store: StoreDep) -> list[SubscriptionOut]:
    return [SubscriptionOut.of(s) for s in await store.run(store.subscriptions)]


@router.post("/subscriptions", response_model=SubscriptionCreated, status_code=status.HTTP_201_CREATED)
async def create_subscription(body: SubscriptionIn, _: AdminDep, store: StoreDep) -> SubscriptionCreated:
    sub = new_subscription(body, time.time_ns())
    await store.run(store.add_subscription, sub)
    return SubscriptionCreated(**SubscriptionOut.of(sub).model_dump(),
                               secret=sub.secret.get_secret_value() if sub.secret else None)


@router.get("/subscriptions/{sub_id}", response_model=SubscriptionOut)
async def get_subscription(sub_id: str, _: ViewerDep, store: StoreDep) -> SubscriptionOut:
    sub = await store.run(store.subscription, sub_id)
    if sub is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no subscription {sub_id!r}")
    return SubscriptionOut.of(sub)


@router.delete("/subscriptions/{sub_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_subscription(sub_id: str, _: AdminDep, store: StoreDep) -> Response:
    if not await store.run(store.delete_subscription, sub_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no subscription {sub_id!r}")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _file_rules(settings: Settings) -> list[RuleSpec]:
    if not settings.alert_rules:
        return []
    try:
        return load_rules_file(settings.alert_rules)
    except (OSError, ValueError, ValidationError) as exc:
        raise HTTPException(status.HTTP_500_INTERNAL_SERVER_ERROR,
                            detail=f"rules file {settings.alert_rules} is unreadable: {exc}") from exc


@router.get("/rules", response_model=list[RuleOut])
async def list_rules(request: Request, _: ViewerDep, store: StoreDep) -> list[RuleOut]:
    api_rules = await store.run(store.rules)
    api_ids = {r.id for r in api_rules}
    out = [RuleOut(source="file", rule=r) for r in _file_rules(_settings(request)) if r.id not in api_ids]
    return out + [RuleOut(source="api", rule=r) for r in api_rules]


@router.post("/rules", response_model=RuleOut, status_code=status.HTTP_201_CREATED)
async def create_rule(rule: RuleSpec, _: AdminDep, store: StoreDep) -> RuleOut:
    if any(r.id == rule.id for r in await store.run(store.rules)):
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"rule {rule.id!r} exists; PUT to replace it")
    await store.run(store.put_rule, rule, time.time_ns())
    return RuleOut(source="api", rule=rule)


@router.put("/rules/{rule_id}", response_model=RuleOut)
async def put_rule(rule_id: str, rule: RuleSpec, _: AdminDep, store: StoreDep) -> RuleOut:
    if rule.id != rule_id:
        raise HTTPException(422, detail="the rule's id must match the URL")
    await store.run(store.put_rule, rule, time.time_ns())
    return RuleOut(source="api", rule=rule)


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(rule_id: str, _: AdminDep, store: StoreDep) -> Response:
    if not await store.run(store.delete_rule, rule_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no API rule {rule_id!r} (file rules are read-only)")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    _: ViewerDep,
    store: StoreDep,
    status_: Annotated[Literal["pending", "delivered", "failed", "expired", "dropped"] | None,
                       Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    return [DeliveryOut.of(r) for r in await store.run(store.deliveries, status_, limit)]
