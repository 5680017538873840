"""Signatures of generic webhooks: HMAC-SHA256 over the timestamp and the raw body.

The signed message is ``f"{timestamp}.".encode() + body`` (the same scheme as Stripe and Slack):
binding the timestamp into the MAC lets a receiver reject replays older than a few minutes without
trusting an unsigned header. docs/alerts.md shows a receiver's check; ``verify`` is the same code.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping

SIGNATURE_HEADER = "X-KineSync-Signature"
TIMESTAMP_HEADER = "X-KineSync-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
EVENT_HEADER = "X-KineSync-Event"
SCHEME = "v1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (s since the epoch)."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"{SCHEME}={mac.hexdigest()}"


def signed_headers(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: sign(secret, ts, body)}


def verify(secret: str, headers: Mapping[str, str], body: bytes, *, tolerance_s: int = 300,
           now: int | None = None) -> bool:
    """True when the signature matches the raw body and the timestamp is recent."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        ts = int(lower[TIMESTAMP_HEADER.lower()])
        given = lower[SIGNATURE_HEADER.lower()]
    except (KeyError, ValueError):
        return False
    if abs((int(time.time()) if now is None else now) - ts) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, ts, body), given)
