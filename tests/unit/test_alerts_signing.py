"""Standard Webhooks signing and retry timing, without a network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
import time

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from kinesync.alerts import signing
from kinesync.alerts.delivery import Permanent, retry_delay_s, webhook_request
from kinesync.alerts.rules import AlertEvent
from kinesync.alerts.signing import new_secret, sign, signed_headers, verify, whsec
from kinesync.alerts.subscriptions import SubscriptionIn, new_subscription

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"version":1,"id":"718a39dabdfd47854b191420d4e1172b","value":152.3}'


def receiver_accepts(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does with the standardwebhooks package (docs/alerts.md)."""
    try:
        Webhook(secret).verify(body, headers)
    except WebhookVerificationError:
        return False
    return True


def test_signature_is_the_standard_webhooks_one() -> None:
    # The test vector of the Standard Webhooks libraries: same secret, id, time and payload, same bytes out.
    assert sign(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}') == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    # And by hand: v1, base64 HMAC-SHA256 keyed with the secret's bytes over "{id}.{timestamp}.{body}".
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    mac = hmac.new(key, b"alert-1.1700000000." + BODY, hashlib.sha256).digest()
    assert sign(SECRET, "alert-1", 1_700_000_000, BODY) == "v1," + base64.b64encode(mac).decode()


def test_headers_verify_with_the_receiver_library_and_with_verify() -> None:
    headers = signed_headers(SECRET, "718a39dabdfd47854b191420d4e1172b", BODY)
    assert set(headers) == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    assert headers["webhook-id"] == "718a39dabdfd47854b191420d4e1172b"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) <= 2  # the send time
    assert headers["webhook-signature"].startswith("v1,")
    assert receiver_accepts(SECRET, headers, BODY) and verify(SECRET, headers, BODY)
    # Header names are case-insensitive on the wire.
    assert receiver_accepts(SECRET, {k.title(): v for k, v in headers.items()}, BODY)


def test_replays_and_tampering_fail_verification() -> None:
    now = int(time.time())
    headers = signed_headers(SECRET, "alert-1", BODY, timestamp=now)
    # A captured delivery re-sent under a new id, to get past the receiver's de-duplication.
    assert not receiver_accepts(SECRET, {**headers, "webhook-id": "alert-2"}, BODY)
    # The same one with a fresh timestamp, to get past the age check.
    assert not receiver_accepts(SECRET, {**headers, "webhook-timestamp": str(now + 1)}, BODY)
    # A changed body: one byte, or trailing whitespace.
    assert not receiver_accepts(SECRET, headers, BODY.replace(b"152.3", b"102.3"))
    assert not receiver_accepts(SECRET, headers, BODY + b" ")
    # A signature of another body pasted in; another secret; missing headers.
    other = signed_headers(SECRET, "alert-1", b"{}", timestamp=now)
    assert not receiver_accepts(SECRET, {**headers, "webhook-signature": other["webhook-signature"]}, BODY)
    assert not receiver_accepts(new_secret(), headers, BODY)
    for name in headers:
        assert not receiver_accepts(SECRET, {k: v for k, v in headers.items() if k != name}, BODY)
    # verify() answers the same.
    assert not verify(SECRET, {**headers, "webhook-id": "alert-2"}, BODY)
    assert not verify(SECRET, headers, BODY + b" ")


@pytest.mark.parametrize("age_s", [signing.TOLERANCE_S + 5, 3600, -(signing.TOLERANCE_S + 5)])
def test_a_correctly_signed_old_or_future_timestamp_fails(age_s: int) -> None:
    # Validly signed, but outside the tolerance: a recorded delivery replayed later (or a skewed clock).
    headers = signed_headers(SECRET, "alert-1", BODY, timestamp=int(time.time()) - age_s)
    assert not receiver_accepts(SECRET, headers, BODY)
    assert not verify(SECRET, headers, BODY)


def test_within_the_tolerance_a_late_delivery_still_verifies() -> None:
    headers = signed_headers(SECRET, "alert-1", BODY, timestamp=int(time.time()) - (signing.TOLERANCE_S - 30))
    assert receiver_accepts(SECRET, headers, BODY)


def test_raw_secrets_map_to_their_whsec_form() -> None:
    assert whsec("s3cret") == "whsec_" + base64.b64encode(b"s3cret").decode() == "whsec_czNjcmV0"
    assert whsec("pässwort") == "whsec_" + base64.b64encode("pässwort".encode()).decode()
    assert whsec(SECRET) == SECRET
    assert whsec("whsec_czNjcmV0") == "whsec_czNjcmV0"
    assert whsec("whsec_YWI") == "whsec_YWI"  # unpadded base64 is accepted, as the library does
    headers = signed_headers("s3cret", "alert-1", BODY)
    assert receiver_accepts("whsec_czNjcmV0", headers, BODY)  # what the receiver configures
    assert receiver_accepts(whsec("s3cret"), headers, BODY) and verify("s3cret", headers, BODY)
    # A raw secret and the whsec_ secret of the same bytes are one key.
    assert sign("s3cret", "a", 1, BODY) == sign("whsec_czNjcmV0", "a", 1, BODY)


@pytest.mark.parametrize("bad", ["", "whsec_", "whsec_not base64!", "whsec_Mf-Q9r8_KYqr"])
def test_unusable_secrets_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="secret"):
        whsec(bad)
    assert not verify(bad, signed_headers(SECRET, "a", BODY), BODY)


def test_new_secrets_are_whsec_with_32_random_bytes() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("whsec_")
    assert len(base64.b64decode(a.removeprefix("whsec_"), validate=True)) == 32
    sub = new_subscription(SubscriptionIn(url="http://127.0.0.1:9/x"), 0)
    assert sub.secret is not None and whsec(sub.secret.get_secret_value()) == sub.secret.get_secret_value()


def test_retries_keep_the_id_and_the_body_and_sign_their_own_send_time(monkeypatch: pytest.MonkeyPatch) -> None:
    e = AlertEvent("r", "s", "A", "firing", "m", 1)
    sub = new_subscription(SubscriptionIn(url="http://127.0.0.1:9/x"), 0)
    secret = sub.secret.get_secret_value()  # type: ignore[union-attr]
    first_body, first = webhook_request(sub, e)
    monkeypatch.setattr(signing.time, "time", lambda: float(int(first["webhook-timestamp"]) + 7))
    retry_body, retry = webhook_request(sub, e)
    assert retry_body == first_body
    assert retry["webhook-id"] == first["webhook-id"] == retry["Idempotency-Key"] == e.key
    assert int(retry["webhook-timestamp"]) == int(first["webhook-timestamp"]) + 7
    assert retry["webhook-signature"] != first["webhook-signature"]
    monkeypatch.undo()
    assert receiver_accepts(secret, first, first_body) and receiver_accepts(secret, retry, retry_body)
    # Another alert (here: its resolution) is another message id.
    _, resolved = webhook_request(sub, AlertEvent("r", "s", "A", "resolved", "m", 1, fired_at_ns=1))
    assert resolved["webhook-id"] != first["webhook-id"]


def test_retry_delays_grow_with_jitter_and_cap() -> None:
    rng = random.Random(1)
    for attempt, d in [(1, 1.0), (2, 2.0), (3, 4.0), (10, 300.0)]:
        delays = [retry_delay_s(attempt, 1.0, 300.0, rng) for _ in range(200)]
        assert min(delays) >= d / 2 and max(delays) <= d
        assert max(delays) - min(delays) > d / 4  # actually jittered


def test_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    e = AlertEvent("r", "s", "A", "firing", "m", 1)
    sub = new_subscription(SubscriptionIn(url="http://127.0.0.1:9/x", secret_env="COACH_HOOK_SECRET"), 0)
    assert sub.secret is None
    monkeypatch.setenv("COACH_HOOK_SECRET", "from-env")  # a raw secret
    body, headers = webhook_request(sub, e)
    assert verify("from-env", headers, body) and headers["Idempotency-Key"] == headers["webhook-id"] == e.key
    assert receiver_accepts(whsec("from-env"), headers, body)
    monkeypatch.setenv("COACH_HOOK_SECRET", SECRET)  # a whsec_ secret is used as it is
    body, headers = webhook_request(sub, e)
    assert receiver_accepts(SECRET, headers, body)
    monkeypatch.setenv("COACH_HOOK_SECRET", "whsec_not base64!")
    with pytest.raises(Permanent, match="unusable signing secret") as refused:
        webhook_request(sub, e)
    assert "not base64!" not in str(refused.value)  # the error never repeats the secret


def test_one_backoff_formula_for_every_retry() -> None:
    # The alerts' equal jitter, the writer's full jitter and the topic creation's plain doubling are
    # the same function (runtime.retry.backoff_s) with a different fixed share.
    from kinesync.runtime.retry import backoff_s

    rng = random.Random(2)
    assert [backoff_s(a, 0.2, 2.0, fixed_share=1.0) for a in range(6)] == pytest.approx([0.2, 0.4, 0.8, 1.6, 2.0, 2.0])
    full = [backoff_s(3, 1.0, 300.0, rng) for _ in range(300)]
    assert min(full) < 1.0 and max(full) <= 8.0 and max(full) > 6.0
    r1, r2 = random.Random(5), random.Random(5)
    assert retry_delay_s(4, 1.0, 300.0, r1) == backoff_s(3, 1.0, 300.0, r2, fixed_share=0.5)
