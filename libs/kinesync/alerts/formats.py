"""Message bodies for the three webhook formats (examples in docs/alerts.md).

Bodies are deterministic functions of the alert, so every retry of one delivery sends the same
bytes under the same ``webhook-id`` (only ``webhook-timestamp`` and so ``webhook-signature`` change)
and a receiver can compare attempts.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from kinesync.alerts.rules import AlertEvent

# Colours and emoji help a coach glance at a phone; text carries the meaning on its own.
_EMOJI = {"critical": ":red_circle:", "warning": ":large_orange_circle:", "info": ":large_blue_circle:"}
_TEAMS_COLOR = {"critical": "Attention", "warning": "Warning", "info": "Accent"}


class AlertPayload(BaseModel):
    """The generic JSON webhook body (``format: generic``), version 1."""

    version: Literal[1] = 1
    id: str = Field(description="idempotency key: the same on every attempt and every replay of this alert")
    rule: str
    kind: str
    state: Literal["firing", "resolved"]
    severity: str
    station: str
    athlete: str | None
    team: str | None
    exercise: str | None
    message: str
    value: float | None
    at: str = Field(description="event time of the triggering window, ISO 8601 UTC")
    at_ns: int
    fired_at_ns: int | None

    @classmethod
    def of(cls, e: AlertEvent) -> AlertPayload:
        at = datetime.fromtimestamp(e.at_ns / 1e9, tz=UTC).isoformat(timespec="milliseconds")
        return cls(
            id=e.key, rule=e.rule, kind=e.kind, state=e.state, severity=e.severity, station=e.station,
            athlete=e.athlete, team=e.team, exercise=e.exercise, message=e.message, value=e.value,
            at=at.replace("+00:00", "Z"), at_ns=e.at_ns, fired_at_ns=e.fired_at_ns,
        )


def _title(e: AlertEvent) -> str:
    head = "Resolved" if e.state == "resolved" else e.severity.capitalize()
    return f"{head}: {e.rule} — {e.athlete or e.station}"


def _facts(e: AlertEvent, p: AlertPayload) -> list[tuple[str, str]]:
    facts = [("Athlete", e.athlete or "—"), ("Station", e.station), ("Team", e.team or "—"),
             ("Exercise", e.exercise or "—"), ("Severity", e.severity), ("Time", p.at)]
    return facts


def generic_body(e: AlertEvent) -> dict[str, Any]:
    return AlertPayload.of(e).model_dump(mode="json")


def slack_body(e: AlertEvent) -> dict[str, Any]:
    """Slack incoming webhook: ``text`` (the notification fallback) plus Block Kit blocks."""
    p = AlertPayload.of(e)
    emoji = ":white_check_mark:" if e.state == "resolved" else _EMOJI.get(e.severity, "")
    title = _title(e)
    facts = " · ".join(f"*{k}:* {v}" for k, v in _facts(e, p))
    return {
        "text": f"{emoji} {'Resolved' if e.state == 'resolved' else e.severity.capitalize()} ({e.rule}): {e.message}",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": True}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"{emoji} {e.message}"[:3000]}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": facts[:3000]}]},
        ],
    }


def teams_body(e: AlertEvent) -> dict[str, Any]:
    """Microsoft Teams Workflows ("when a Teams webhook request is received"): an Adaptive Card."""
    p = AlertPayload.of(e)
    color = "Good" if e.state == "resolved" else _TEAMS_COLOR.get(e.severity, "Default")
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": _title(e), "weight": "Bolder", "size": "Medium", "color": color,
             "wrap": True},
            {"type": "TextBlock", "text": e.message, "wrap": True},
            {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(e, p)]},
        ],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


_BUILDERS = {"generic": generic_body, "slack": slack_body, "teams": teams_body}


def render(fmt: str, e: AlertEvent) -> bytes:
    """The exact bytes to send (compact JSON, keys in a fixed order)."""
    return json.dumps(_BUILDERS[fmt](e), separators=(",", ":"), ensure_ascii=False).encode("utf-8")
