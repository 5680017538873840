"""Request limits for the HTTP services (API and gateway ingest), as one pure ASGI middleware.

Per request, in this order:

1. **rate** — a token bucket per client: keyed by the bearer token (``Authorization`` or ``?token=``)
   when the app recognises it, else by the client address, so a valid token keeps its own budget
   wherever it connects from and random tokens cannot buy fresh buckets. Empty bucket: 429 with
   ``Retry-After`` (HTTP) or close code 1013 before the handshake (WebSocket).
2. **body size** — a declared ``Content-Length`` above the limit is refused at once (413) without
   reading the body; a chunked body is counted while the handler reads it and cut off at the limit.
3. **handling time** — a request whose handler has not answered within the timeout gets 504.
4. **WebSocket** — a client message above the limit closes the socket with 1009, and an optional
   idle timeout closes a socket on which the client sent nothing for that long (1001).

Below the ASGI layer, ``uvicorn_options`` sets what only the server can enforce: keep-alive idle
timeout, a concurrency cap (503 above it), the WebSocket frame size and ping/pong liveness.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException

from kinesync.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_TRACKED_CLIENTS = 10_000  # buckets kept; the least recently seen client is forgotten first
WS_TOO_BIG = 1009
WS_GOING_AWAY = 1001
WS_TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class HttpLimits:
    """The limits of one HTTP app; ``None`` or 0 switches a limit off."""

    max_body_bytes: int | None = None
    rate_per_s: float = 0.0
    rate_burst: int = 1
    request_timeout_s: float | None = None
    ws_max_message_bytes: int | None = None
    ws_idle_s: float | None = None

    @classmethod
    def for_api(cls, s: Settings) -> HttpLimits:
        # The wall sends nothing on its socket, so no idle timeout there: ping/pong finds dead peers.
        return cls(max_body_bytes=s.api_max_body_kb * 1024, rate_per_s=s.api_rate_per_s, rate_burst=s.api_rate_burst,
                   request_timeout_s=s.api_request_timeout_s, ws_max_message_bytes=s.api_ws_max_message_kb * 1024)

    @classmethod
    def for_gateway(cls, s: Settings) -> HttpLimits:
        # Ingest answers a slightly oversized WebSocket frame itself (JSON 413, socket kept); the
        # server's frame limit (uvicorn_options) closes the socket on anything far larger.
        return cls(max_body_bytes=s.gateway_max_body_kb * 1024, rate_per_s=s.gateway_rate_per_s,
                   rate_burst=s.gateway_rate_burst, request_timeout_s=s.gateway_request_timeout_s,
                   ws_idle_s=s.gateway_ws_idle_s)


def uvicorn_options(s: Settings, ws_max_message_bytes: int) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.Config`` that bound connections below the ASGI app."""
    return {
        "timeout_keep_alive": s.http_keep_alive_s,
        "limit_concurrency": s.http_max_concurrency,
        # The protocol layer refuses to buffer a larger frame (close 1009); a little headroom lets
        # the app answer a moderately oversized message itself.
        "ws_max_size": ws_max_message_bytes + 64 * 1024,
        "ws_ping_interval": s.http_ws_ping_s,
        "ws_ping_timeout": s.http_ws_ping_s,
    }


class BodyTooLarge(HTTPException):
    """Raised inside ``receive`` when a streamed body passes the limit; FastAPI re-raises HTTPException."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes; at most {limit}")


class TokenBuckets:
    """Token buckets per key, LRU-bounded; ``take`` returns 0 when allowed, else seconds to wait."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate_per_s
        self.burst = float(max(1, burst))
        self.clock = clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str) -> float:
        now = self.clock()
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= 1.0:
            tokens -= 1.0
        else:
            wait = (1.0 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_TRACKED_CLIENTS:
            self._buckets.popitem(last=False)
        return wait


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def _bearer(scope: Scope) -> str | None:
    auth = _header(scope, b"authorization")
    if auth and auth[:7].lower() == "bearer ":
        return auth[7:].strip() or None
    from urllib.parse import parse_qs

    values = parse_qs((scope.get("query_string") or b"").decode("latin-1")).get("token")
    return values[0] if values else None


async def _send_json(send: Send, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class LimitsMiddleware:
    """Pure ASGI middleware enforcing ``HttpLimits`` (see the module docstring).

    ``known_token`` says whether a bearer token is valid (then it keys the rate limit); ``on_reject``
    is told the reason of every refusal (``too_large``, ``rate_limited``, ``timeout``,
    ``ws_too_large``, ``ws_idle``) so a service can count them.
    """

    def __init__(
        self,
        app: ASGIApp,
        limits: HttpLimits,
        known_token: Callable[[Scope, str], bool] | None = None,
        on_reject: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.known_token = known_token
        self.on_reject = on_reject
        self.buckets = TokenBuckets(limits.rate_per_s, limits.rate_burst) if limits.rate_per_s > 0 else None

    def _rejected(self, reason: str) -> None:
        if self.on_reject is not None:
            self.on_reject(reason)

    def _client_key(self, scope: Scope) -> str:
        token = _bearer(scope)
        if token and self.known_token is not None and self.known_token(scope, token):
            return "token:" + hashlib.sha256(token.encode("utf-8")).hexdigest()[:24]
        client = scope.get("client")
        return "addr:" + (client[0] if client else "unknown")

    def _retry_after(self, scope: Scope) -> float:
        return self.buckets.take(self._client_key(scope)) if self.buckets is not None else 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        lim = self.limits
        wait = self._retry_after(scope)
        if wait > 0:
            self._rejected("rate_limited")
            seconds = max(1, math.ceil(wait))
            await _send_json(send, 429, f"rate limit: {lim.rate_per_s:g} requests/s (burst {lim.rate_burst}) "
                             f"per client; retry after {seconds} s", {"Retry-After": str(seconds)})
            return
        declared = _header(scope, b"content-length")
        if lim.max_body_bytes is not None and declared is not None and declared.isdigit() \
                and int(declared) > lim.max_body_bytes:
            self._rejected("too_large")
            await _send_json(send, 413, f"request body is {declared} bytes; at most {lim.max_body_bytes}")
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if lim.max_body_bytes is not None and message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > lim.max_body_bytes:
                    self._rejected("too_large")
                    raise BodyTooLarge(lim.max_body_bytes)
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            if lim.request_timeout_s is None:
                await self.app(scope, counted_receive, tracked_send)
            else:
                await asyncio.wait_for(self.app(scope, counted_receive, tracked_send), lim.request_timeout_s)
        except TimeoutError:
            self._rejected("timeout")
            if not started:  # once the status line is out, the only honest signal left is a cut connection
                await _send_json(send, 504, f"the request took longer than {lim.request_timeout_s:g} s")
        except BodyTooLarge as exc:  # an app that read the body outside FastAPI's own error handling
            if not started:
                await _send_json(send, 413, str(exc.detail))

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        lim = self.limits
        if self._retry_after(scope) > 0:
            self._rejected("rate_limited")
            message = await receive()  # websocket.connect
            if message["type"] == "websocket.connect":
                await send({"type": "websocket.close", "code": WS_TRY_AGAIN_LATER, "reason": "rate limit"})
            return
        closed = False

        async def close(code: int, reason: str) -> Message:
            nonlocal closed
            if not closed:
                closed = True
                await send({"type": "websocket.close", "code": code, "reason": reason})
            return {"type": "websocket.disconnect", "code": code}

        async def limited_receive() -> Message:
            if closed:
                return {"type": "websocket.disconnect", "code": WS_GOING_AWAY}
            try:
                if lim.ws_idle_s is None:
                    message = await receive()
                else:
                    message = await asyncio.wait_for(receive(), lim.ws_idle_s)
            except TimeoutError:
                self._rejected("ws_idle")
                return await close(WS_GOING_AWAY, f"idle for {lim.ws_idle_s:g} s")
            if lim.ws_max_message_bytes is not None and message["type"] == "websocket.receive":
                data = message.get("bytes")
                size = len(data) if data is not None else len((message.get("text") or "").encode("utf-8"))
                if size > lim.ws_max_message_bytes:
                    self._rejected("ws_too_large")
                    return await close(WS_TOO_BIG, f"message of {size} bytes; at most {lim.ws_max_message_bytes}")
            return message

        async def guarded_send(message: Message) -> None:
            if closed:
                return  # the app has not yet seen the disconnect we handed it; its last words go nowhere
            await send(message)

        await self.app(scope, limited_receive, guarded_send)
