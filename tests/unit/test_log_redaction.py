"""No secret reaches the logs, even at DEBUG with uvicorn's access log on.

A real service process (``run_service``, as every KineSync service starts) runs the API under
uvicorn at DEBUG, with every secret setting set; it serves requests that carry tokens in headers
and query strings, posts to a URL with a password in it (httpx logs every request), makes a SASL
connection attempt to the embedded broker (aiokafka at DEBUG), and logs carelessly on purpose.
Everything the process writes is captured; no secret value may appear in it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from kinesync.runtime.broker import EmbeddedBroker
from kinesync.runtime.ports import free_port
from kinesync.runtime.redact import MASK, Redactor

SECRETS = {
    "KINESYNC_API_ADMIN_TOKEN": "adm-7f3c9a1e5d2b8c4f",
    "KINESYNC_API_VIEWER_TOKEN": "view-1a2b3c4d5e6f7a8b",
    "KINESYNC_INFLUX_PASSWORD": "influx-pw-9d8c7b6a",
    "KINESYNC_INFLUX_TOKEN": "influx-token-55aa66bb",
    "KINESYNC_GRAFANA_TOKEN": "glsa_grafana_0f1e2d3c",
    "KINESYNC_KAFKA_SASL_PASSWORD": "sasl-pw-3e4f5a6b",
    "COACH_HOOK_SECRET": "hook-secret-77cc88dd",
}
DEVICE_TOKEN = "device-token-never-configured-42"  # not a setting: must be masked by its shape alone
SLACK_PATH = "T000/B000/slackcredential123"

SCRIPT = textwrap.dedent(
    """
    import asyncio, logging, os, sys
    import httpx, uvicorn, websockets
    from kinesync.api import LiveState, create_app
    from kinesync.api.auth import ApiTokens
    from kinesync.bus.kafka import KafkaBus
    from kinesync.runtime.secrets import read_secret
    from kinesync.runtime.service import run_service

    PORT = int(os.environ["TEST_PORT"])
    log = logging.getLogger("kinesync.test")

    async def main(settings, stop):
        hook_secret = read_secret("COACH_HOOK_SECRET")
        app = create_app(LiveState(), tokens=ApiTokens.from_settings(settings))
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=PORT, log_level="debug",
                                               access_log=True, lifespan="off"))
        server.install_signal_handlers = lambda: None
        serve = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.02)
        admin = settings.api_admin_token.get_secret_value()
        viewer = settings.api_viewer_token.get_secret_value()
        base = f"http://127.0.0.1:{PORT}"
        async with httpx.AsyncClient(base_url=base) as client:
            r1 = await client.get("/api/stations", headers={"Authorization": f"Bearer {viewer}"})
            r2 = await client.get("/api/stations", params={"token": admin})
            r3 = await client.post(f"http://influx:{settings.influx_password.get_secret_value()}@127.0.0.1:{PORT}"
                                   f"/write?u=influx&p={settings.influx_password.get_secret_value()}", content=b"x")
            r4 = await client.get("/api/stations", headers={"Authorization": "Bearer " + os.environ["DEVICE_TOKEN"]})
            log.info("statuses %s %s %s %s", r1.status_code, r2.status_code, r3.status_code, r4.status_code)
        async with websockets.connect(f"ws://127.0.0.1:{PORT}/ws/stations?token={viewer}") as ws:
            await ws.recv()
        try:
            await asyncio.wait_for(KafkaBus(settings).ensure_topics(attempts=1), 15)
        except Exception as exc:
            log.warning("kafka: %s", exc)
        # Careless logging, on purpose: values, reprs, dumps, exceptions.
        log.debug("settings %r", settings)
        log.debug("dump %s", settings.model_dump())
        log.info("influx token is %s and grafana %s", settings.influx_token.get_secret_value(),
                 settings.grafana_token.get_secret_value())
        log.info("signing with " + hook_secret)
        log.warning("posting to https://hooks.slack.com/services/" + os.environ["SLACK_PATH"])
        try:
            raise RuntimeError(f"login failed for password {settings.kafka_sasl_password.get_secret_value()}")
        except RuntimeError:
            log.exception("sasl")
        log.info("done")
        server.should_exit = True
        await serve

    run_service("redact", main)
    """
)


@pytest.mark.integration
def test_no_secret_in_debug_logs(broker: EmbeddedBroker) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINESYNC_")}
    env.update(SECRETS)
    env.update(
        KINESYNC_LOG_LEVEL="DEBUG", KINESYNC_BOOTSTRAP_SERVERS=broker.bootstrap,
        KINESYNC_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KINESYNC_KAFKA_SASL_MECHANISM="PLAIN",
        KINESYNC_KAFKA_SASL_USERNAME="svc", TEST_PORT=str(free_port()), DEVICE_TOKEN=DEVICE_TOKEN,
        SLACK_PATH=SLACK_PATH,
    )
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=90)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    # The scenario really ran and was logged at DEBUG, access log included.
    assert "statuses 200 401 404 401" in out, out[-3000:]
    assert "GET /api/stations?token=*** HTTP/1.1" in out, out[-3000:]
    assert "DEBUG" in out and "done" in out and "Traceback" in out
    assert "SASL" in out or "sasl" in out
    leaked = {name: value for name, value in SECRETS.items() if value in out}
    assert not leaked, f"secrets in the logs: {sorted(leaked)}"
    assert DEVICE_TOKEN not in out and SLACK_PATH not in out
    assert out.count(MASK) >= 8


def test_redactor_masks_values_and_credential_shapes() -> None:
    r = Redactor(["s3cr3t-value", "abc"])  # "abc" is too short to mask without mangling words
    assert r.redact("value s3cr3t-value, label abc") == f"value {MASK}, label abc"
    cases = {
        "GET /v1/stream?token=abcDEF123&x=1": f"GET /v1/stream?token={MASK}&x=1",
        "Authorization: Bearer abc.def": f"Authorization: Bearer {MASK}",
        "http://admin:hunter2@influx:8086/write?db=k&u=admin&p=pw123": f"http://admin:{MASK}@influx:8086/write?db=k&u=admin&p={MASK}",
        "sasl_plain_password='pw-x'": f"sasl_plain_password='{MASK}'",
        '{"password": "pw-x", "n": 1}': f'{{"password": "{MASK}", "n": 1}}',
        "https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/x": f"https://acme.webhook.office.com/webhookb2/{MASK}",
    }
    for text, expected in cases.items():
        assert r.redact(text) == expected, text
    # Ordinary text is left alone.
    for text in ("p=0.01 over 3 tokens", "invalid token", "KINESYNC_GATEWAY_TOKENS_FILE=/etc/k/tokens.json"):
        assert r.redact(text) == text
