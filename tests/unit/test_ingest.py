"""HTTP ingest: binary and JSON frames, WebSocket stream, and every error a device can provoke."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from kinesync.bus.memory import MemoryBus
from kinesync.codec.frame import Frame, SensorKind, encode
from kinesync.gateway.publisher import BufferLimits, Publisher
from kinesync.ingest import TokenStore, create_gateway_app, hash_token


def frame(station: str = "rack-1", device: str = "trigno-1", seq: int = 0, n: int = 100) -> Frame:
    return Frame(station, device, SensorKind.EMG, ("quad", "pec"), ("V",), 2000.0, 1_800_000_000_000_000_000 + seq,
                 seq, np.ones((2, n), dtype=np.float32))


@pytest.fixture
def setup(tmp_path: Path):
    store = TokenStore()
    token = store.add("trigno-1", ["rack-1"])
    bridge = store.add("vendor-bridge", ["*"])
    store.save(tmp_path / "tokens.json")
    publisher = Publisher(MemoryBus(), limits=BufferLimits(max_frames=10))
    app = create_gateway_app(publisher, TokenStore.load(tmp_path / "tokens.json"), max_body_bytes=8192)
    return TestClient(app), publisher, token, bridge, tmp_path / "tokens.json"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_tokens_are_stored_hashed(setup) -> None:
    _, _, token, _, path = setup
    text = path.read_text()
    assert token not in text and hash_token(token) in text
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_binary_and_json_frames_are_accepted(setup) -> None:
    client, publisher, token, bridge, _ = setup
    binary = {**auth(token), "content-type": "application/octet-stream"}
    r = client.post("/v1/frames", content=encode(frame()), headers=binary)
    assert r.status_code == 202, r.text
    assert r.json()["seq"] == 0 and r.json()["buffered_frames"] == 1
    body = {"station": "rack-9", "device": "vendor-bridge", "kind": "force", "channels": ["fz"], "units": ["N"],
            "rate_hz": 10, "seq": 3, "samples": [[700.0, 701.5]]}
    r = client.post("/v1/frames", json=body, headers=auth(bridge))
    assert r.status_code == 202, r.text
    assert publisher.stats.frames_in == 2 and publisher.stats.buffered_frames == 2
    health = client.get("/health").json()
    assert {d["device"] for d in health["devices"]} == {"trigno-1", "vendor-bridge"}


@pytest.mark.parametrize(
    ("headers", "body", "status", "reason", "text"),
    [
        ({}, b"x", 401, "unauthorized", "Authorization: Bearer"),
        ({"Authorization": "Bearer wrong"}, b"x", 401, "unauthorized", "unknown device token"),
        ("token", encode(frame(device="other")), 403, "forbidden", "belongs to device 'trigno-1'"),
        ("token", encode(frame(station="rack-2")), 403, "unknown_station", "station 'rack-2' is not one of"),
        ("token", b"KS\x01garbage", 422, "malformed", "truncated header"),
        ("token", b"\x00" * 9000, 413, "too_large", "at most 8192"),
        ("json", b'{"station": "rack-1"}', 422, "malformed", "not a valid JSON frame"),
    ],
)
def test_bad_input_gets_a_clear_error_and_the_gateway_keeps_working(setup, headers, body, status, reason, text) -> None:
    client, publisher, token, _, _ = setup
    if headers == "token":
        headers = {**auth(token), "content-type": "application/octet-stream"}
    elif headers == "json":
        headers = {**auth(token), "content-type": "application/json"}
    r = client.post("/v1/frames", content=body, headers=headers)
    assert r.status_code == status, r.text
    assert text in r.json()["detail"]
    if status == 401:
        assert r.headers["www-authenticate"] == "Bearer"
    assert client.get("/health").json()["rejected"][reason] == 1
    ok = client.post("/v1/frames", content=encode(frame(seq=1)), headers={**auth(token), "content-type": "x/y"})
    assert ok.status_code == 202
    assert publisher.stats.buffered_frames == 1


def test_full_buffer_answers_429_with_retry_after(setup) -> None:
    client, publisher, token, _, _ = setup
    codes = [client.post("/v1/frames", content=encode(frame(seq=i)), headers=auth(token)).status_code
             for i in range(12)]
    assert codes[:9] == [202] * 9 and codes[9:] == [429] * 3  # 90 % of 10 frames
    r = client.post("/v1/frames", content=encode(frame(seq=20)), headers=auth(token))
    assert r.headers["retry-after"] == "1" and "broker is behind" in r.json()["detail"]
    assert publisher.stats.frames_dropped == 0  # HTTP devices are pushed back, not dropped


def test_sequence_gaps_from_a_device_are_counted(setup) -> None:
    client, _, token, _, _ = setup
    for seq in (0, 1, 4, 5):
        assert client.post("/v1/frames", content=encode(frame(seq=seq)), headers=auth(token)).status_code == 202
    dev = client.get("/health").json()["devices"][0]
    assert dev["sequence_gaps"] == 2 and dev["last_seq"] == 5


def test_websocket_stream(setup) -> None:
    client, publisher, token, _, _ = setup
    with client.websocket_connect("/v1/stream", headers=auth(token)) as ws:
        ws.send_bytes(encode(frame(seq=0)))
        assert ws.receive_json()["status"] == 202
        ws.send_bytes(b"not a frame")
        bad = ws.receive_json()
        assert bad["status"] == 422 and ("wrong magic" in bad["error"] or "truncated" in bad["error"])
        ws.send_text(json.dumps({"station": "rack-1", "device": "trigno-1", "kind": "emg", "channels": ["quad"],
                                 "rate_hz": 2000, "seq": 1, "samples": [[0.1, 0.2]]}))
        assert ws.receive_json()["status"] == 202
        ws.send_bytes(encode(frame(station="rack-5", seq=2)))
        assert ws.receive_json()["status"] == 403
        ws.send_bytes(b"\x00" * 9000)
        assert ws.receive_json()["status"] == 413
    assert publisher.stats.frames_in == 2
    with client.websocket_connect(f"/v1/stream?token={token}") as ws:
        ws.send_bytes(encode(frame(seq=3)))
        assert ws.receive_json()["status"] == 202


def test_websocket_with_a_wrong_token_is_refused(setup) -> None:
    client, _, _, _, _ = setup
    with client.websocket_connect("/v1/stream", headers=auth("nope")) as ws:
        msg = ws.receive_json()
        assert msg["status"] == 401 and "unknown device token" in msg["error"]


def test_no_tokens_configured_says_how_to_create_one() -> None:
    client = TestClient(create_gateway_app(Publisher(MemoryBus())))
    r = client.post("/v1/frames", content=b"x", headers=auth("t"))
    assert r.status_code == 401 and "kinesync device-token add" in r.json()["detail"]
