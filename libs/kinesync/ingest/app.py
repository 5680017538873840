"""The gateway's HTTP server: health with every counter, and frame ingest for devices.

``POST /v1/frames`` takes one binary frame (``application/octet-stream``) or, for low-rate
devices, a JSON frame; ``/v1/stream`` is a WebSocket for continuous streams (binary or JSON
messages, one JSON acknowledgement each). Errors: 401 no or unknown token, 403 device or station
not granted to the token, 413 body too large, 422 not a valid frame, 429 with ``Retry-After``
when the publish buffer is nearly full (the broker is behind or away).
"""

from __future__ import annotations

import time
from typing import Annotated, Literal

import numpy as np
from fastapi import Depends, FastAPI, Header, HTTPException, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel, Field, ValidationError

from kinesync.api.limits import HttpLimits, LimitsMiddleware
from kinesync.codec.frame import MAX_RATE_HZ, MIN_RATE_HZ, Frame, FrameError, SensorKind, decode
from kinesync.gateway.health import GatewayHealth
from kinesync.gateway.publisher import Publisher
from kinesync.ingest.tokens import DeviceGrant, TokenStore

RETRY_AFTER_S = 1


class JsonFrame(BaseModel):
    """A frame as JSON, for devices that send a few samples a second."""

    station: str = Field(min_length=1)
    device: str = Field(min_length=1)
    kind: Literal["emg", "force", "velocity"]
    channels: list[str] = Field(min_length=1)
    units: list[str] = Field(default_factory=lambda: [""])
    rate_hz: float
    t0_ns: int | None = Field(None, ge=-(2**63), lt=2**63,
                              description="facility time of the first sample, ns; default: now minus the frame")
    seq: int = Field(ge=0, lt=2**64)
    samples: list[list[float]] = Field(min_length=1, description="channel-major: one list per channel")

    def to_frame(self) -> Frame:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes Inf, which the frame checks refuse
            data = np.asarray(self.samples, dtype=np.float32)
        if data.ndim != 2:
            raise FrameError("samples must be one equally long list per channel")
        t0 = self.t0_ns
        if t0 is None:
            # Only a rate the format accepts can date the frame; any other is refused when it is encoded.
            in_range = MIN_RATE_HZ <= self.rate_hz <= MAX_RATE_HZ
            t0 = time.time_ns() - (round(data.shape[1] * 1e9 / self.rate_hz) if in_range else 0)
        return Frame(
            station=self.station,
            device=self.device,
            kind=SensorKind[self.kind.upper()],
            channels=tuple(self.channels),
            units=tuple(self.units),
            rate_hz=self.rate_hz,
            t0_ns=t0,
            seq=self.seq,
            samples=data,
        )


class Accepted(BaseModel):
    status: int = 202
    station: str
    device: str
    seq: int
    buffered_frames: int


class IngestError(Exception):
    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


class Ingest:
    """The checks shared by POST and WebSocket; every rejection is counted by reason."""

    def __init__(self, publisher: Publisher, tokens: TokenStore, max_body_bytes: int, high_water: float) -> None:
        self.publisher = publisher
        self.tokens = tokens
        self.max_body_bytes = max_body_bytes
        self.high_water = high_water

    def reject(self, status: int, reason: str, detail: str) -> IngestError:
        self.publisher.stats.rejected[reason] += 1
        return IngestError(status, reason, detail)

    def authenticate(self, authorization: str | None) -> tuple[str, DeviceGrant]:
        if not self.tokens.grants:
            raise self.reject(401, "unauthorized", "no device tokens are configured on this gateway; "
                              "create one with `kinesync device-token add DEVICE --station STATION`")
        if not authorization or not authorization.lower().startswith("bearer "):
            raise self.reject(401, "unauthorized", "send the device token as 'Authorization: Bearer <token>'")
        found = self.tokens.authenticate(authorization[7:].strip())
        if found is None:
            raise self.reject(401, "unauthorized", "unknown device token")
        return found

    def parse(self, body: bytes, content_type: str) -> Frame:
        if len(body) > self.max_body_bytes:
            raise self.reject(413, "too_large", f"body is {len(body)} bytes; at most {self.max_body_bytes}")
        try:
            if content_type.startswith("application/json"):
                return JsonFrame.model_validate_json(body).to_frame()
            return decode(body)
        except FrameError as exc:
            raise self.reject(422, "malformed", f"not a valid frame: {exc.reason}") from exc
        except (ValidationError, ValueError) as exc:
            raise self.reject(422, "malformed", f"not a valid JSON frame: {exc}") from exc

    def accept(self, frame: Frame, device: str, grant: DeviceGrant) -> Accepted:
        if frame.device != device:
            raise self.reject(403, "forbidden", f"this token belongs to device {device!r}, not {frame.device!r}")
        if not grant.allows(frame.station):
            raise self.reject(403, "unknown_station", f"station {frame.station!r} is not one of device {device!r}'s "
                              f"stations ({', '.join(grant.stations)}); add it in the device tokens file")
        if self.publisher.fill >= self.high_water:
            raise self.reject(429, "busy", f"the gateway is {self.publisher.fill:.0%} full because the broker is "
                              f"behind; retry after {RETRY_AFTER_S} s")
        reason = self.publisher.submit(frame)
        if reason is not None:
            raise IngestError(422, "invalid", f"frame rejected: {reason}")  # already counted as invalid
        return Accepted(station=frame.station, device=frame.device, seq=frame.seq,
                        buffered_frames=self.publisher.stats.buffered_frames)


def create_gateway_app(
    publisher: Publisher,
    tokens: TokenStore | None = None,
    *,
    max_body_bytes: int = 4 * 1024 * 1024,
    high_water: float = 0.9,
    limits: HttpLimits | None = None,
) -> FastAPI:
    ingest = Ingest(publisher, tokens or TokenStore(), max_body_bytes, high_water)
    app = FastAPI(title="KineSync gateway", description=__doc__)
    if limits is not None:
        rejected = publisher.stats.rejected

        def count(reason: str) -> None:
            rejected[reason] += 1

        app.add_middleware(LimitsMiddleware, limits=limits, on_reject=count,
                           known_token=lambda _scope, token: ingest.tokens.authenticate(token) is not None)

    def error(exc: IngestError) -> HTTPException:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        if exc.status == 429:
            headers = {"Retry-After": str(RETRY_AFTER_S)}
        return HTTPException(exc.status, exc.detail, headers=headers)

    def device_auth(authorization: Annotated[str | None, Header()] = None) -> tuple[str, DeviceGrant]:
        try:
            return ingest.authenticate(authorization)
        except IngestError as exc:
            raise error(exc) from None

    @app.get("/health", response_model=GatewayHealth)
    async def health() -> GatewayHealth:
        return publisher.stats.snapshot()

    @app.post(
        "/v1/frames",
        status_code=202,
        response_model=Accepted,
        responses={401: {}, 403: {}, 413: {}, 422: {}, 429: {}},
        openapi_extra={"requestBody": {"content": {
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
            "application/json": {"schema": JsonFrame.model_json_schema()},
        }}},
    )
    async def post_frame(request: Request, auth: tuple[str, DeviceGrant] = Depends(device_auth)) -> Accepted:
        """One frame per request: binary (frame format v1) or JSON."""
        try:
            declared = request.headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > ingest.max_body_bytes:
                raise ingest.reject(413, "too_large", f"body is {declared} bytes; at most {ingest.max_body_bytes}")
            body = bytearray()
            async for chunk in request.stream():  # stop reading as soon as the limit is passed
                body += chunk
                if len(body) > ingest.max_body_bytes:
                    raise ingest.reject(413, "too_large", f"body exceeds {ingest.max_body_bytes} bytes")
            frame = ingest.parse(bytes(body), request.headers.get("content-type", ""))
            return ingest.accept(frame, *auth)
        except IngestError as exc:
            raise error(exc) from None

    @app.websocket("/v1/stream")
    async def stream(ws: WebSocket) -> None:
        """Frames as binary messages (or JSON text); each gets ``{"status": 202|4xx, ...}`` back."""
        await ws.accept()
        header = ws.headers.get("authorization")
        if header is None and ws.query_params.get("token"):
            header = f"Bearer {ws.query_params['token']}"  # browsers cannot set headers on a WebSocket
        try:
            device, grant = ingest.authenticate(header)
        except IngestError as exc:
            await ws.send_json({"status": exc.status, "error": exc.detail})
            await ws.close(code=1008, reason=exc.detail[:120])
            return
        try:
            while True:
                msg = await ws.receive()
                if msg["type"] == "websocket.disconnect":
                    return
                if msg.get("bytes") is not None:
                    body, ctype = msg["bytes"], "application/octet-stream"
                else:
                    body, ctype = (msg.get("text") or "").encode(), "application/json"
                try:
                    ack = ingest.accept(ingest.parse(body, ctype), device, grant)
                    await ws.send_json(ack.model_dump())
                except IngestError as exc:
                    reply: dict[str, object] = {"status": exc.status, "error": exc.detail}
                    if exc.status == 429:
                        reply["retry_after_s"] = RETRY_AFTER_S
                    await ws.send_json(reply)
        except WebSocketDisconnect:
            return

    return app
