"""Alerts: webhook subscriptions (generic signed, Slack, Teams), a test send, recent alerts.

Subscriptions are listed, created and deleted by the ``/api/alerts`` route functions themselves
(``alerts_routes``), on the same alerts database. "Send a test" posts one test alert to the
subscription's URL exactly as the dispatcher would (``delivery.webhook_request``: the format's body,
and for generic webhooks the Standard Webhooks signature) and shows the receiver's answer; the test
goes straight out, not through the outbox, so it is neither retried nor listed as an alert.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from kinesync.alerts.delivery import Permanent, webhook_request
from kinesync.alerts.engine import last_events
from kinesync.alerts.rules import AlertEvent
from kinesync.alerts.subscriptions import SubscriptionIn
from kinesync.api import deps
from kinesync.api.console.core import (
    ConsoleSession,
    changing_request,
    is_htmx,
    looking,
    render_page,
    router,
)
from kinesync.api.console.forms import field_errors, form_list
from kinesync.api.routes import alerts as alerts_routes

TEST_TIMEOUT_S = 5.0
BODY_EXCERPT = 500
RECENT = 50


async def _alerts_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    store = deps.get_alert_store(request)
    subs = await alerts_routes.list_subscriptions("viewer", store)
    rows = await store.run(store.deliveries, None, RECENT)
    # What the alerts service last decided about each athlete and rule, subscribed to or not.
    state, _ = await store.run(store.load_state)
    latest = [e for e, _ in reversed(last_events(state))][:RECENT]
    names = {x.id: x.name or x.url for x in subs}
    for key in ("errors", "values", "tests"):
        ctx.setdefault(key, {})
    ctx.setdefault("message", None)
    ctx.setdefault("created", None)
    return render_page(request, "alerts.html", s, code, subs=subs, deliveries=rows, latest=latest, names=names,
                       **ctx)


@router.get("/alerts", response_class=HTMLResponse)
async def alerts(request: Request) -> Response:
    s = looking(request)
    if not isinstance(s, ConsoleSession):
        return s
    return await _alerts_page(request, s)


@router.post("/alerts/subscriptions")
async def create_subscription(request: Request) -> Response:
    s, form = await changing_request(request)
    values: dict[str, Any] = {
        "url": form.get("url", "").strip(), "format": form.get("format", "generic"),
        "name": form.get("name", "").strip() or None, "teams": form_list(form.get("teams")),
        "athletes": form_list(form.get("athletes")), "min_severity": form.get("min_severity", "info"),
        "send_resolved": form.get("send_resolved") == "on", "secret_env": form.get("secret_env", "").strip() or None,
    }
    try:
        body = SubscriptionIn.model_validate(values)
    except ValidationError as exc:
        return await _alerts_page(request, s, 422, errors=field_errors(exc), values=form)
    created = await alerts_routes.create_subscription(body, "admin", deps.get_alert_store(request))
    return await _alerts_page(request, s, created=created, message=f"Subscribed {created.name or created.url}.")


@router.post("/alerts/subscriptions/{sub_id}/delete")
async def delete_subscription(request: Request, sub_id: str) -> Response:
    s, _ = await changing_request(request)
    try:
        await alerts_routes.delete_subscription(sub_id, "admin", deps.get_alert_store(request))
    except HTTPException as exc:
        return await _alerts_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _alerts_page(request, s, message="Subscription deleted.")


def sample_event() -> AlertEvent:
    now = time.time_ns()
    return AlertEvent(rule="console-test", station="console", athlete=None, state="firing", severity="info",
                      kind="test", message="Test alert from the KineSync console: this subscription works.",
                      at_ns=now, fired_at_ns=now)


async def send_test(request: Request, sub_id: str) -> dict[str, Any]:
    """Post a test alert to the subscription; the receiver's answer (status, body excerpt) or the error."""
    store = deps.get_alert_store(request)
    sub = await store.run(store.subscription, sub_id)
    if sub is None:
        raise HTTPException(404, detail=f"no subscription {sub_id!r}")
    try:
        body, headers = webhook_request(sub, sample_event())
    except Permanent as exc:
        return {"error": str(exc)}
    client = getattr(request.app.state, "console_http", None)  # a test may put a client here
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=TEST_TIMEOUT_S, follow_redirects=False) as c:
                resp = await c.post(str(sub.url), content=body, headers=headers)
        else:
            resp = await client.post(str(sub.url), content=body, headers=headers)
    except httpx.HTTPError as exc:
        return {"error": f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__}
    text = resp.text
    return {"status": resp.status_code, "ok": 200 <= resp.status_code < 300, "body": text[:BODY_EXCERPT],
            "cut": len(text) > BODY_EXCERPT}


@router.post("/alerts/subscriptions/{sub_id}/test")
async def test_subscription(request: Request, sub_id: str) -> Response:
    s, _ = await changing_request(request)
    try:
        result = await send_test(request, sub_id)
    except HTTPException as exc:
        return await _alerts_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    if is_htmx(request):
        return render_page(request, "alert_test.html", s, sub_id=sub_id, result=result)
    return await _alerts_page(request, s, tests={sub_id: result})
