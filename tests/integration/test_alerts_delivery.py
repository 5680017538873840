"""Webhook delivery against a real HTTP receiver on loopback: signature, retries, Slack and Teams."""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from standardwebhooks import Webhook

from kinesync.alerts.delivery import Dispatcher
from kinesync.alerts.rules import AlertEvent
from kinesync.alerts.signing import new_secret, signed_headers
from kinesync.alerts.store import AlertStore
from kinesync.alerts.subscriptions import SubscriptionIn, new_subscription

pytestmark = pytest.mark.integration
DOCS = Path(__file__).resolve().parents[2] / "docs" / "alerts.md"


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float


Validator = Callable[[bytes], tuple[int, str]]


@dataclass
class Receiver:
    """A webhook endpoint on 127.0.0.1 that dedupes by webhook-id like a careful receiver."""

    script: dict[str, list[int]] = field(default_factory=dict)  # per path: statuses to answer first
    validators: dict[str, Validator] = field(default_factory=dict)  # per path: emulate a service
    failing: bool = False  # answer 500 to everything while set
    stalls: dict[str, list[float]] = field(default_factory=dict)  # per path: seconds to hang first
    requests: list[Seen] = field(default_factory=list)
    accepted: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str]:
        with self.lock:
            stall = (self.stalls.get(path) or [0.0]).pop(0) if self.stalls.get(path) else 0.0
        if stall:
            time.sleep(stall)  # the sender's timeout fires first; the request still counts as seen
            with self.lock:
                self.requests.append(Seen(path, headers, body, 0, time.monotonic()))
            return 500, "too late"
        with self.lock:
            queue = self.script.get(path) or []
            if self.failing:
                status, text = 500, "down"
            elif queue:
                status, text = queue.pop(0), "scripted"
            elif path in self.validators:
                status, text = self.validators[path](body)
            else:
                status, text = 200, "ok"
            if 200 <= status < 300:
                key = headers.get("webhook-id") or json.loads(body).get("id") or f"body:{hash(body)}"
                self.accepted[key] = self.accepted.get(key, 0) + 1
            self.requests.append(Seen(path, headers, body, status, time.monotonic()))
            return status, text

    def __enter__(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, text = receiver.handle(self.path, headers, body)
                data = text.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.shutdown()
        self.server.server_close()

    def to(self, path: str) -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if r.path == path]


def documented_verifier() -> Callable[..., bool]:
    """The receiver snippet from docs/alerts.md, executed as published."""
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    snippet = next(b for b in blocks if "def verify_kinesync" in b)
    namespace: dict[str, object] = {}
    exec(compile(snippet, str(DOCS), "exec"), namespace)
    return namespace["verify_kinesync"]  # type: ignore[return-value]


def event(state: str = "firing", athlete: str = "Athlete 04") -> AlertEvent:
    return AlertEvent(
        rule="lag-drift", station="station-04", athlete=athlete, state=state,  # type: ignore[arg-type]
        message=f"{athlete}: lag out of 80-120 ms in 3 of the last 5 reps (latest 152 ms)",
        at_ns=1_795_000_000_000_000_000, severity="warning", team="first-team", exercise="back_squat",
        value=152.3, fired_at_ns=1_795_000_000_000_000_000,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


async def wait_until(predicate: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(0.02)
    return False


async def deliver(store: AlertStore, events: list[tuple[AlertEvent, str]], until: Callable[[], bool],
                  timeout_s: float = 20.0, base_s: float = 0.2) -> Dispatcher:
    store.record(events, {}, {}, time.time_ns())
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=10.0) as client:
        dispatcher = Dispatcher(store, client, base_s=base_s, cap_s=2.0, horizon_s=60.0)
        task = asyncio.create_task(dispatcher.run(stop, poll_s=0.05))
        await wait_until(until, timeout_s)
        await asyncio.sleep(0.3)  # anything extra (a duplicate) would arrive now
        stop.set()
        await task
    return dispatcher


async def test_signature_verifies_with_documented_snippet_and_tampering_fails(
    receiver: Receiver, tmp_path: Path
) -> None:
    store = AlertStore(tmp_path / "alerts.db")
    sub = new_subscription(SubscriptionIn(url=f"{receiver.url}/hook", format="generic"), time.time_ns())
    store.add_subscription(sub)
    before = int(time.time())
    await deliver(store, [(event(), sub.id)], lambda: bool(receiver.to("/hook")))
    [seen] = receiver.to("/hook")
    verify = documented_verifier()
    secret = sub.secret.get_secret_value()
    assert secret.startswith("whsec_")
    headers = {name: seen.headers[name] for name in ("webhook-id", "webhook-timestamp", "webhook-signature")}
    payload = verify(secret, seen.headers, seen.body)  # every header as received, as a web framework hands them
    assert payload == json.loads(seen.body)
    assert payload["id"] == headers["webhook-id"] == seen.headers["idempotency-key"] == event().key
    assert payload["state"] == "firing" and payload["athlete"] == "Athlete 04"
    assert before <= int(headers["webhook-timestamp"]) <= int(time.time())  # the send time
    assert "x-kinesync-signature" not in seen.headers and "x-kinesync-timestamp" not in seen.headers
    # Tampering: one changed byte of the body, a wrong secret, a shifted timestamp.
    tampered = seen.body.replace(b"152.3", b"102.3")
    assert tampered != seen.body
    assert verify(secret, headers, tampered) is None
    assert verify(new_secret(), headers, seen.body) is None
    shifted = {**headers, "webhook-timestamp": str(int(headers["webhook-timestamp"]) + 1)}
    assert verify(secret, shifted, seen.body) is None
    # Replays: the captured delivery under a new id (past the receiver's de-duplication), or signed
    # correctly but an hour ago (past the age check).
    assert verify(secret, {**headers, "webhook-id": "0" * 32}, seen.body) is None
    stale = signed_headers(secret, headers["webhook-id"], seen.body, timestamp=int(time.time()) - 3600)
    assert verify(secret, stale, seen.body) is None
    store.close()


async def test_500_twice_then_200_is_accepted_once_with_one_key(receiver: Receiver, tmp_path: Path) -> None:
    receiver.script["/flaky"] = [500, 500]
    store = AlertStore(tmp_path / "alerts.db")
    sub = new_subscription(SubscriptionIn(url=f"{receiver.url}/flaky"), time.time_ns())
    store.add_subscription(sub)
    started = time.monotonic()
    await deliver(store, [(event(), sub.id)], lambda: bool(receiver.accepted), base_s=0.2)
    seen = receiver.to("/flaky")
    assert [s.status for s in seen] == [500, 500, 200]
    keys = {s.headers["webhook-id"] for s in seen}
    assert keys == {event().key}
    # Each attempt is signed at its own send time, and each verifies under the one id.
    secret = sub.secret.get_secret_value()
    assert all(Webhook(secret).verify(s.body, s.headers) for s in seen)
    assert receiver.accepted == {event().key: 1}
    bodies = {s.body for s in seen}
    assert len(bodies) == 1, "every attempt must send the same bytes"
    gaps = [b.at - a.at for a, b in itertools.pairwise(seen)]
    # equal jitter on 0.2 s then 0.4 s: at least half of each, at most all (plus polling)
    assert 0.1 <= gaps[0] <= 0.2 + 0.25 and 0.2 <= gaps[1] <= 0.4 + 0.25, gaps
    [row] = store.deliveries()
    assert row.status == "delivered" and row.attempts == 3
    print(f"\n3 attempts (500, 500, 200), gaps {', '.join(f'{g * 1000:.0f} ms' for g in gaps)}, "
          f"accepted {seen[-1].at - started:.2f} s after queueing")
    store.close()


def slack_like(body: bytes) -> tuple[int, str]:
    """What Slack's incoming webhooks check, as far as documented: 400 with a reason, else 200 ok."""
    try:
        data = json.loads(body)
    except ValueError:
        return 400, "invalid_payload"
    if not isinstance(data.get("text"), str) or not data["text"].strip():
        return 400, "no_text"
    blocks = data.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > 50:
        return 400, "invalid_blocks"
    for b in blocks:
        t = b.get("type")
        if t == "header":
            if b["text"]["type"] != "plain_text" or not 0 < len(b["text"]["text"]) <= 150:
                return 400, "invalid_blocks"
        elif t == "section":
            if b["text"]["type"] not in ("plain_text", "mrkdwn") or not 0 < len(b["text"]["text"]) <= 3000:
                return 400, "invalid_blocks"
        elif t == "context":
            els = b.get("elements", [])
            if not 0 < len(els) <= 10 or any(e["type"] not in ("mrkdwn", "plain_text", "image") for e in els):
                return 400, "invalid_blocks"
        elif t != "divider":
            return 400, "invalid_blocks"
    return 200, "ok"


def teams_like(body: bytes) -> tuple[int, str]:
    """The Teams Workflows webhook trigger with a "post card" action: a message with Adaptive Cards."""
    try:
        data = json.loads(body)
        assert data["type"] == "message"
        atts = data["attachments"]
        assert isinstance(atts, list) and atts
        for a in atts:
            assert a["contentType"] == "application/vnd.microsoft.card.adaptive"
            card = a["content"]
            assert card["type"] == "AdaptiveCard"
            assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
            assert tuple(int(x) for x in card["version"].split(".")) <= (1, 5)  # Teams renders up to 1.5
            for el in card["body"]:
                assert el["type"] in ("TextBlock", "FactSet", "ColumnSet", "Container")
                if el["type"] == "TextBlock":
                    assert isinstance(el["text"], str) and el["text"]
                    assert el.get("color", "Default") in ("Default", "Dark", "Light", "Accent", "Good",
                                                          "Warning", "Attention")
                if el["type"] == "FactSet":
                    assert all(isinstance(f["title"], str) and isinstance(f["value"], str) for f in el["facts"])
    except (ValueError, KeyError, TypeError, AssertionError) as exc:
        return 400, f"invalid card: {exc!r}"
    return 202, ""


async def test_slack_and_teams_payloads_have_the_shapes_those_services_accept(
    receiver: Receiver, tmp_path: Path
) -> None:
    receiver.validators["/slack"] = slack_like
    receiver.validators["/teams"] = teams_like
    store = AlertStore(tmp_path / "alerts.db")
    slack = new_subscription(SubscriptionIn(url=f"{receiver.url}/slack", format="slack"), time.time_ns())
    teams = new_subscription(SubscriptionIn(url=f"{receiver.url}/teams", format="teams"), time.time_ns())
    assert slack.secret is None and teams.secret is None  # their URLs are the credential
    store.add_subscription(slack)
    store.add_subscription(teams)
    events = [event("firing"), event("resolved")]
    pairs = [(e, s.id) for e in events for s in (slack, teams)]
    await deliver(store, pairs, lambda: len(receiver.accepted) >= 2 and len(receiver.requests) >= 4)
    assert [s.status for s in receiver.to("/slack")] == [200, 200]
    assert [s.status for s in receiver.to("/teams")] == [202, 202]
    assert all(r.status == "delivered" and r.attempts == 1 for r in store.deliveries())
    # Deliveries run concurrently: find each message by what it says, not by arrival order.
    slack_texts = [json.loads(r.body)["text"] for r in receiver.to("/slack")]
    assert any("lag out of 80-120 ms" in t for t in slack_texts), slack_texts
    titles = [json.loads(r.body)["attachments"][0]["content"]["body"][0] for r in receiver.to("/teams")]
    resolved = [t for t in titles if t["text"].startswith("Resolved")]
    assert len(resolved) == 1 and resolved[0]["color"] == "Good", titles
    # No signature or idempotency header leaks to Slack/Teams (they would ignore it anyway).
    for r in receiver.requests:
        assert not {"webhook-id", "webhook-timestamp", "webhook-signature", "idempotency-key"} & set(r.headers)
    store.close()


async def test_permanent_4xx_is_not_retried(receiver: Receiver, tmp_path: Path) -> None:
    receiver.script["/gone"] = [404]
    store = AlertStore(tmp_path / "alerts.db")
    sub = new_subscription(SubscriptionIn(url=f"{receiver.url}/gone"), time.time_ns())
    store.add_subscription(sub)
    await deliver(store, [(event(), sub.id)], lambda: bool(receiver.to("/gone")))
    assert len(receiver.to("/gone")) == 1
    [row] = store.deliveries()
    assert row.status == "failed" and "404" in (row.last_error or "")
    store.close()


async def test_grafana_annotation_through_grafana_client(receiver: Receiver, tmp_path: Path) -> None:
    from kinesync.alerts.runner import grafana_annotator
    from kinesync.alerts.store import GRAFANA
    from kinesync.settings import Settings

    receiver.script["/api/annotations"] = [503]  # Grafana restarting: retried like a webhook
    receiver.validators["/api/annotations"] = lambda body: (200, '{"id": 7, "message": "Annotation added"}')
    settings = Settings(grafana_url=receiver.url, grafana_token="glsa_test")
    annotate = grafana_annotator(settings)
    assert annotate is not None and grafana_annotator(Settings(grafana_token=None)) is None
    store = AlertStore(tmp_path / "alerts.db")
    store.record([(event(), GRAFANA)], {}, {}, time.time_ns())
    stop = asyncio.Event()
    async with httpx.AsyncClient(timeout=10.0) as client:
        dispatcher = Dispatcher(store, client, base_s=0.1, cap_s=1.0, horizon_s=60.0, grafana=annotate)
        task = asyncio.create_task(dispatcher.run(stop, poll_s=0.05))
        await wait_until(lambda: len(receiver.to("/api/annotations")) >= 2, 20)
        await asyncio.sleep(0.2)
        stop.set()
        await task
    seen = receiver.to("/api/annotations")
    assert [s.status for s in seen] == [503, 200]
    note = json.loads(seen[-1].body)
    assert note["time"] == event().at_ns // 1_000_000 and "kinesync-alert" in note["tags"]
    assert "station-04" in note["tags"] and note["text"].startswith("[firing]")
    assert seen[-1].headers["authorization"] == "Bearer glsa_test"
    [row] = store.deliveries()
    assert row.status == "delivered" and row.attempts == 2
    store.close()


async def test_a_timed_out_attempt_is_retried_with_the_same_key(receiver: Receiver, tmp_path: Path) -> None:
    receiver.stalls["/slow"] = [1.5]
    store = AlertStore(tmp_path / "alerts.db")
    sub = new_subscription(SubscriptionIn(url=f"{receiver.url}/slow"), time.time_ns())
    store.add_subscription(sub)
    store.record([(event(), sub.id)], {}, {}, time.time_ns())
    stop = asyncio.Event()
    # 0.5 s stands in for the production 10 s per-attempt timeout (KINESYNC_ALERTS_TIMEOUT_S).
    async with httpx.AsyncClient(timeout=0.5) as client:
        task = asyncio.create_task(Dispatcher(store, client, base_s=0.1, cap_s=1.0).run(stop, poll_s=0.05))
        await wait_until(lambda: store.deliveries()[0].status == "delivered", 20)
        stop.set()
        await task
    [row] = store.deliveries()
    assert row.status == "delivered" and row.attempts == 2
    assert receiver.accepted == {event().key: 1}
    assert {s.headers["webhook-id"] for s in receiver.to("/slow")} == {event().key}
    store.close()
