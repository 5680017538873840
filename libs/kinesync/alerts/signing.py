"""Signatures of generic webhooks: the Standard Webhooks scheme (https://www.standardwebhooks.com/).

Every delivery carries ``webhook-id`` (the alert's idempotency key: the same on every attempt of
one alert), ``webhook-timestamp`` (Unix seconds when the attempt was sent) and ``webhook-signature``
(``v1,`` + base64 HMAC-SHA256 of ``f"{id}.{timestamp}." + body``). Binding the id and the timestamp
into the MAC means a captured request cannot be re-sent under a fresh id (to slip past the
receiver's de-duplication) or with a fresh timestamp (to slip past its age check).

Secrets are ``whsec_`` + base64 of the key bytes. A secret without that prefix (a plain string from
``secret_env`` or a subscription made before) is used as its UTF-8 bytes, whose ``whsec_`` form
``whsec(secret)`` gives. Signing and checking are the ``standardwebhooks`` package's own code, so a
receiver using any Standard Webhooks library agrees with us byte for byte.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime

from standardwebhooks import Webhook, WebhookVerificationError

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"  # the same value as webhook-id, for receivers that key on it
EVENT_HEADER = "X-KineSync-Event"
SECRET_PREFIX = "whsec_"
TOLERANCE_S = 300  # the standardwebhooks check's fixed window: timestamps further off are refused
SECRET_BYTES = 32  # the scheme asks for 24 to 64 random bytes


def new_secret() -> str:
    """A fresh signing secret in the ``whsec_`` form."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def whsec(secret: str) -> str:
    """The ``whsec_`` form of a signing secret; ValueError when it cannot be one.

    A ``whsec_`` secret is kept, after checking its base64 strictly: the library's lenient decoding
    would drop stray characters (a URL-safe ``-`` or ``_``) and sign with a different key than the
    receiver's. Any other string is a raw secret: its UTF-8 bytes, base64-encoded.
    """
    if not secret:
        raise ValueError("the signing secret is empty")
    if not secret.startswith(SECRET_PREFIX):
        return SECRET_PREFIX + base64.b64encode(secret.encode("utf-8")).decode("ascii")
    body = secret[len(SECRET_PREFIX):].rstrip("=")
    try:
        key = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except binascii.Error:
        raise ValueError("the whsec_ signing secret is not standard base64") from None
    if not key:
        raise ValueError("the whsec_ signing secret holds no key")
    return secret


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value for ``body`` sent as ``msg_id`` at ``timestamp`` (s since the epoch)."""
    # An aware datetime: the library would read a naive one as UTC, whatever the host's zone.
    return Webhook(whsec(secret)).sign(msg_id, datetime.fromtimestamp(timestamp, tz=UTC), body)


def signed_headers(secret: str, msg_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The three Standard Webhooks headers of one attempt; ``timestamp`` defaults to now."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {ID_HEADER: msg_id, TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, msg_id, ts, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes) -> bool:
    """True when the headers sign exactly this body and the timestamp is within ``TOLERANCE_S`` of now."""
    try:
        Webhook(whsec(secret)).verify(body, dict(headers), json_parse=False)
    except (WebhookVerificationError, ValueError):
        return False
    return True
