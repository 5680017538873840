"""Signing and retry timing, without a network."""

from __future__ import annotations

import random

from kinesync.alerts.delivery import retry_delay_s, webhook_request
from kinesync.alerts.rules import AlertEvent
from kinesync.alerts.signing import sign, verify
from kinesync.alerts.subscriptions import SubscriptionIn, new_subscription


def test_sign_and_verify_round_trip_and_rejections() -> None:
    body = b'{"a":1}'
    headers = {"X-KineSync-Timestamp": "1000", "X-KineSync-Signature": sign("s3cret", 1000, body)}
    assert verify("s3cret", headers, body, now=1100)
    assert not verify("s3cret", headers, body + b" ", now=1100)
    assert not verify("s3cret", headers, body, now=1000 + 301)  # replay window
    assert not verify("other", headers, body, now=1100)
    assert not verify("s3cret", {}, body, now=1100)


def test_retry_delays_grow_with_jitter_and_cap() -> None:
    rng = random.Random(1)
    for attempt, d in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 300.0)]:
        delays = [retry_delay_s(attempt, 1.0, 300.0, rng) for _ in range(200)]
        assert min(delays) >= d / 2 and max(delays) <= d
        assert max(delays) - min(delays) > d / 4  # actually jittered


def test_secret_from_environment(monkeypatch) -> None:
    e = AlertEvent("r", "s", "A", "firing", "m", 1)
    sub = new_subscription(SubscriptionIn(url="http://127.0.0.1:9/x", secret_env="COACH_HOOK_SECRET"), 0)
    assert sub.secret is None
    monkeypatch.setenv("COACH_HOOK_SECRET", "from-env")
    body, headers = webhook_request(sub, e)
    assert verify("from-env", headers, body) and headers["Idempotency-Key"] == e.key
