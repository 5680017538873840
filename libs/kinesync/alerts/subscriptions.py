"""Webhook subscriptions: where alerts go, in which format, filtered by team, athlete and severity."""

from __future__ import annotations

import re
import secrets
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, field_validator

from kinesync.alerts.config import _as_list
from kinesync.alerts.rules import SEVERITY_ORDER, AlertEvent, Severity
from kinesync.alerts.signing import new_secret

WebhookFormat = Literal["generic", "slack", "teams"]
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
MAX_URL_CHARS = 2000


class SubscriptionIn(BaseModel):
    """What a coach (or admin) posts to subscribe a webhook."""

    model_config = ConfigDict(extra="forbid")

    url: HttpUrl = Field(description="the webhook URL (Slack incoming webhook, Teams Workflows, or your endpoint)")
    format: WebhookFormat = "generic"
    name: str | None = Field(None, max_length=200)
    teams: list[str] = Field(default_factory=list, description="only alerts for these teams (empty: any)")
    athletes: list[str] = Field(default_factory=list, description="only alerts for these athletes (empty: any)")
    min_severity: Severity = "info"
    send_resolved: bool = True
    secret_env: str | None = Field(
        None, description="generic: sign with the secret in this environment variable of the alerts service "
        "instead of a generated one"
    )

    _norm = field_validator("teams", "athletes", mode="before")(_as_list)

    @field_validator("url")
    @classmethod
    def _url_fits(cls, v: HttpUrl) -> HttpUrl:
        # Normalising (IDNA, percent-encoding) can lengthen a URL past what HttpUrl accepts when it
        # is read back; refuse it here with a 422 rather than store something unreadable.
        if len(str(v)) > MAX_URL_CHARS:
            raise ValueError(f"the URL is longer than {MAX_URL_CHARS} characters once normalised")
        return v

    @field_validator("secret_env")
    @classmethod
    def _env_name(cls, v: str | None) -> str | None:
        if v is not None and not _ENV_NAME.match(v):
            raise ValueError("secret_env must be an environment variable name (A-Z, 0-9, _)")
        return v


class Subscription(SubscriptionIn):
    id: str
    created_at_ns: int
    # Generic webhooks only; kept in the alerts database because HMAC needs the secret itself.
    secret: SecretStr | None = None

    def matches(self, event: AlertEvent) -> bool:
        if event.state == "resolved" and not self.send_resolved:
            return False
        if self.teams and event.team not in self.teams:
            return False
        if self.athletes and event.athlete not in self.athletes:
            return False
        return SEVERITY_ORDER[event.severity] >= SEVERITY_ORDER[self.min_severity]

    def masked_url(self) -> str:
        # Slack and Teams webhook URLs are credentials themselves: show only where they point.
        u = self.url
        return f"{u.scheme}://{u.host}{':' + str(u.port) if u.port and u.port not in (80, 443) else ''}/…"


def new_subscription(data: SubscriptionIn, now_ns: int) -> Subscription:
    secret = None
    if data.format == "generic" and data.secret_env is None:
        secret = SecretStr(new_secret())  # whsec_ form, as Standard Webhooks receivers expect it
    return Subscription(**data.model_dump(), id=f"sub_{secrets.token_hex(8)}", created_at_ns=now_ns, secret=secret)
