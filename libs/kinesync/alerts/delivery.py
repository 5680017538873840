"""Delivering the outbox: webhooks (generic signed JSON, Slack, Teams) and Grafana annotations.

Each pending row is tried until the destination accepts it (2xx), a permanent refusal (4xx other
than 408/429), or the retry horizon passes. Between attempts: exponential backoff with jitter.
Every attempt of one alert carries the same ``webhook-id`` (the alert's key, also sent as
``Idempotency-Key``), so a receiver that saw an attempt whose answer was lost (timeout, crash of
this service) can drop the repeat; each attempt is signed afresh with its own send time.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from kinesync.alerts.formats import render
from kinesync.alerts.rules import AlertEvent
from kinesync.alerts.signing import EVENT_HEADER, IDEMPOTENCY_HEADER, signed_headers
from kinesync.alerts.store import GRAFANA, AlertStore, OutboxRow
from kinesync.alerts.subscriptions import Subscription
from kinesync.runtime.retry import backoff_s
from kinesync.runtime.secrets import SecretFileError, read_secret

log = logging.getLogger("kinesync.alerts.delivery")
NS = 1_000_000_000
USER_AGENT = "KineSync-Alerts/1"


class Permanent(Exception):
    """The destination refused the alert for good (retrying cannot help)."""


def retry_delay_s(attempts: int, base_s: float, cap_s: float, rng: random.Random | None = None) -> float:
    """Delay after the ``attempts``-th failure (1-based): equal jitter on base·2^(attempts−1), half
    fixed and half random (jitter spreads many alerts that failed together; the fixed half gives a
    receiver that is down real breathing room between attempts)."""
    return backoff_s(attempts - 1, base_s, cap_s, rng, fixed_share=0.5)


def webhook_request(sub: Subscription, event: AlertEvent) -> tuple[bytes, dict[str, str]]:
    body = render(sub.format, event)
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    if sub.format == "generic":
        # Slack and Teams ignore extra headers, but their URLs are the secret; generic
        # endpoints get the idempotency key and the Standard Webhooks signature.
        headers[IDEMPOTENCY_HEADER] = event.key
        headers[EVENT_HEADER] = event.state
        try:  # the variable itself, its _FILE, or the secrets directory (kinesync.runtime.secrets)
            secret = sub.secret.get_secret_value() if sub.secret else read_secret(sub.secret_env)
        except SecretFileError as exc:
            raise Permanent(f"no signing secret: {exc}") from None
        if not secret:
            raise Permanent(f"no signing secret (environment variable {sub.secret_env} is empty)")
        try:
            # The id is the alert's key, so retries and restarts repeat it; the timestamp is now.
            headers.update(signed_headers(secret, event.key, body))
        except ValueError as exc:  # a malformed whsec_ secret: retrying cannot fix it
            raise Permanent(f"unusable signing secret: {exc}") from None
    return body, headers


GrafanaAnnotate = Callable[[AlertEvent], Awaitable[None]]


@dataclass
class Dispatcher:
    store: AlertStore
    client: httpx.AsyncClient
    base_s: float = 1.0
    cap_s: float = 300.0
    horizon_s: float = 3600.0
    grafana: GrafanaAnnotate | None = None
    concurrency: int = 16
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    attempts_made: int = 0
    _inflight: set[int] = field(default_factory=set)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, stop: asyncio.Event, poll_s: float = 0.5) -> None:
        sem = asyncio.Semaphore(self.concurrency)
        try:
            while not stop.is_set():
                self.wake.clear()
                rows = await self.store.run(self.store.due, time.time_ns(), 200)
                for row in rows:
                    if row.id in self._inflight:
                        continue
                    self._inflight.add(row.id)
                    task = asyncio.create_task(self._guarded(sem, row))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                nxt = await self.store.run(self.store.next_due_ns)
                wait = poll_s if nxt is None else min(poll_s, max(0.01, (nxt - time.time_ns()) / NS))
                stopped = asyncio.create_task(stop.wait())
                woken = asyncio.create_task(self.wake.wait())
                await asyncio.wait({stopped, woken}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                woken.cancel()
        finally:
            # A delivery cut short stays pending in the outbox and is retried after a restart.
            for t in list(self._tasks):
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _guarded(self, sem: asyncio.Semaphore, row: OutboxRow) -> None:
        try:
            async with sem:
                await self.attempt(row)
        finally:
            self._inflight.discard(row.id)

    async def attempt(self, row: OutboxRow) -> None:
        attempts = row.attempts + 1
        self.attempts_made += 1
        started = time.monotonic()
        try:
            await self._send(row)
        except Permanent as exc:
            log.error("alert %s to %s refused for good after %d attempts: %s",
                      row.alert_key, row.destination, attempts, exc)
            await self.store.run(self.store.mark_final, row.id, attempts, "failed", str(exc))
            return
        except Exception as exc:  # network errors, timeouts, 5xx, Grafana errors: retry
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            now = time.time_ns()
            delay = retry_delay_s(attempts, self.base_s, self.cap_s)
            if now + delay * NS > row.created_ns + self.horizon_s * NS:
                log.error("alert %s to %s expired after %d attempts: %s", row.alert_key, row.destination,
                          attempts, error)
                await self.store.run(self.store.mark_final, row.id, attempts, "expired", error)
                return
            log.warning("alert %s to %s: attempt %d failed (%s), retry in %.1f s", row.alert_key,
                        row.destination, attempts, error, delay)
            await self.store.run(self.store.mark_retry, row.id, attempts, now + int(delay * NS), error)
            return
        now = time.time_ns()
        await self.store.run(self.store.mark_delivered, row.id, attempts, now)
        log.info("alert %s delivered to %s (attempt %d, %.0f ms, %.0f ms after the alert was queued)",
                 row.alert_key, row.destination, attempts, (time.monotonic() - started) * 1000,
                 (now - row.created_ns) / 1e6)

    async def _send(self, row: OutboxRow) -> None:
        if row.destination == GRAFANA:
            if self.grafana is None:
                raise Permanent("Grafana is not configured")
            await self.grafana(row.event)
            return
        sub = await self.store.run(self.store.subscription, row.destination)
        if sub is None:
            raise Permanent("subscription deleted")
        body, headers = webhook_request(sub, row.event)
        resp = await self.client.post(str(sub.url), content=body, headers=headers)
        if 200 <= resp.status_code < 300:
            return
        detail = f"HTTP {resp.status_code}: {resp.text[:200]}"
        if 400 <= resp.status_code < 500 and resp.status_code not in (408, 425, 429):
            raise Permanent(detail)
        raise RuntimeError(detail)
