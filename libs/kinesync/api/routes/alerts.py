"""``/api/alerts``: webhook subscriptions, alert rules and the delivery outbox (docs/alerts.md).

Writes need the admin token, reads the viewer token. Data lives in the alerts database
(``KINESYNC_ALERTS_DB``, opened by the API's lifespan), which the alerts service reads: a new
subscription receives the next alert, a new or changed rule is picked up within seconds, without a
restart.
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response, status
from pydantic import ValidationError

from kinesync.alerts.config import RuleSpec, load_rules_file
from kinesync.alerts.subscriptions import SubscriptionIn, new_subscription
from kinesync.api.deps import AdminDep, AlertStoreDep, SettingsDep, ViewerDep
from kinesync.api.schemas.alerts import DeliveryOut, RuleOut, SubscriptionCreated, SubscriptionOut
from kinesync.settings import Settings

router = APIRouter(prefix="/api/alerts", tags=["alerts"])


@router.get("/subscriptions", response_model=list[SubscriptionOut])
async def list_subscriptions(_: ViewerDep, store: AlertStoreDep) -> list[SubscriptionOut]:
    return [SubscriptionOut.of(s) for s in await store.run(store.subscriptions)]


@router.post("/subscriptions", response_model=SubscriptionCreated, status_code=status.HTTP_201_CREATED)
async def create_subscription(body: SubscriptionIn, _: AdminDep, store: AlertStoreDep) -> SubscriptionCreated:
    sub = new_subscription(body, time.time_ns())
    await store.run(store.add_subscription, sub)
    return SubscriptionCreated(**SubscriptionOut.of(sub).model_dump(),
                               secret=sub.secret.get_secret_value() if sub.secret else None)


@router.get("/subscriptions/{sub_id}", response_model=SubscriptionOut)
async def get_subscription(sub_id: str, _: ViewerDep, store: AlertStoreDep) -> SubscriptionOut:
    sub = await store.run(store.subscription, sub_id)
    if sub is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no subscription {sub_id!r}")
    return SubscriptionOut.of(sub)


@router.delete("/subscriptions/{sub_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_subscription(sub_id: str, _: AdminDep, store: AlertStoreDep) -> Response:
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
async def list_rules(_: ViewerDep, store: AlertStoreDep, settings: SettingsDep) -> list[RuleOut]:
    api_rules = await store.run(store.rules)
    api_ids = {r.id for r in api_rules}
    out = [RuleOut(source="file", rule=r) for r in _file_rules(settings) if r.id not in api_ids]
    return out + [RuleOut(source="api", rule=r) for r in api_rules]


@router.post("/rules", response_model=RuleOut, status_code=status.HTTP_201_CREATED)
async def create_rule(rule: RuleSpec, _: AdminDep, store: AlertStoreDep) -> RuleOut:
    if any(r.id == rule.id for r in await store.run(store.rules)):
        raise HTTPException(status.HTTP_409_CONFLICT, detail=f"rule {rule.id!r} exists; PUT to replace it")
    await store.run(store.put_rule, rule, time.time_ns())
    return RuleOut(source="api", rule=rule)


@router.put("/rules/{rule_id}", response_model=RuleOut)
async def put_rule(rule_id: str, rule: RuleSpec, _: AdminDep, store: AlertStoreDep) -> RuleOut:
    if rule.id != rule_id:
        raise HTTPException(422, detail="the rule's id must match the URL")
    await store.run(store.put_rule, rule, time.time_ns())
    return RuleOut(source="api", rule=rule)


@router.delete("/rules/{rule_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_rule(rule_id: str, _: AdminDep, store: AlertStoreDep) -> Response:
    if not await store.run(store.delete_rule, rule_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no API rule {rule_id!r} (file rules are read-only)")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/deliveries", response_model=list[DeliveryOut])
async def list_deliveries(
    _: ViewerDep,
    store: AlertStoreDep,
    status_: Annotated[Literal["pending", "delivered", "failed", "expired", "dropped"] | None,
                       Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    return [DeliveryOut.of(r) for r in await store.run(store.deliveries, status_, limit)]
