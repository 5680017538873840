"""Kafka TLS and SASL settings reach every aiokafka client, and a mismatch fails fast and clearly.

The embedded broker only speaks PLAINTEXT and no SASL mechanism, which makes it a good witness:
a client that really uses TLS or SASL cannot talk to it, so the failure proves the settings were
used, and the time it takes proves the failure is bounded.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from kinesync.bus.kafka import KafkaBus
from kinesync.bus.security import KafkaSecurityError, check_connection, kafka_security_kwargs
from kinesync.gateway.sink import BusSink
from kinesync.runtime.broker import EmbeddedBroker
from kinesync.settings import Settings

KEY_PASSWORD = "key-pass-for-tests"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A self-signed CA-style certificate and an encrypted client key, made with openssl."""
    folder = tmp_path_factory.mktemp("pki")
    cert, key = folder / "client.pem", folder / "client.key"
    try:
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=kinesync-test",
             "-passout", f"pass:{KEY_PASSWORD}"],
            check=True, capture_output=True, timeout=30,
        )
    except (FileNotFoundError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"openssl cannot make a test certificate: {exc}")
    return {"ca": cert, "cert": cert, "key": key}


def _client(obj: object):
    # aiokafka keeps the connection settings on its network client (``client`` on the producer).
    return getattr(obj, "_client", None) or obj.client  # type: ignore[attr-defined]


def test_plaintext_adds_nothing() -> None:
    assert kafka_security_kwargs(Settings()) == {}


def test_sasl_scram_over_tls_reaches_producer_consumer_and_admin(pki: dict[str, Path]) -> None:
    s = Settings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="svc-kinesync",
        kafka_sasl_password="scram-password-for-tests", kafka_ssl_cafile=str(pki["ca"]),
        kafka_ssl_certfile=str(pki["cert"]), kafka_ssl_keyfile=str(pki["key"]), kafka_ssl_key_password=KEY_PASSWORD,
        kafka_ssl_check_hostname=False,
    )
    bus = KafkaBus(s)

    async def build() -> dict[str, object]:  # aiokafka clients must be made inside a running loop
        return {
            "producer": _client(bus.producer()._producer),
            "consumer": _client(bus.consumer(["kinesync.emg"], "g")._consumer),
            "admin": _client(AIOKafkaAdminClient(bootstrap_servers=s.bootstrap_servers, **kafka_security_kwargs(s))),
        }

    clients = asyncio.run(build())
    for name, c in clients.items():
        assert c._security_protocol == "SASL_SSL", name
        assert c._sasl_mechanism == "SCRAM-SHA-512", name
        assert c._sasl_plain_username == "svc-kinesync", name
        assert c._sasl_plain_password == "scram-password-for-tests", name
        ctx = c._ssl_context
        assert isinstance(ctx, ssl.SSLContext), name
        assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname is False, name
        # The CA file was loaded: its one certificate is the trust store.
        assert [c["subject"] for c in ctx.get_ca_certs()] == [((("commonName", "kinesync-test"),),)], name


def test_tls_defaults_check_host_names_against_the_system_store() -> None:
    ctx = kafka_security_kwargs(Settings(kafka_security_protocol="SSL"))["ssl_context"]
    assert ctx.check_hostname is True and ctx.verify_mode == ssl.CERT_REQUIRED


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kafka_security_protocol": "SASL_SSL"}, "KINESYNC_KAFKA_SASL_MECHANISM"),
        ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_mechanism": "PLAIN"},
         "KINESYNC_KAFKA_SASL_USERNAME"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_cafile": "/nonexistent/ca.pem"}, "KINESYNC_KAFKA_SSL_CAFILE"),
        ({"kafka_security_protocol": "SSL", "kafka_ssl_keyfile": __file__}, "KINESYNC_KAFKA_SSL_CERTFILE"),
    ],
)
def test_incomplete_settings_name_the_variable(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(KafkaSecurityError, match=message):
        kafka_security_kwargs(Settings(**overrides))


def test_wrong_key_password_is_a_clear_error(pki: dict[str, Path]) -> None:
    s = Settings(kafka_security_protocol="SSL", kafka_ssl_certfile=str(pki["cert"]), kafka_ssl_keyfile=str(pki["key"]),
                 kafka_ssl_key_password="not-the-password")
    with pytest.raises(KafkaSecurityError, match="cannot load the Kafka TLS files"):
        kafka_security_kwargs(s)


@pytest.mark.integration
def test_tls_client_against_a_plaintext_broker_fails_fast_and_says_why(broker: EmbeddedBroker) -> None:
    s = Settings(bootstrap_servers=broker.bootstrap, kafka_security_protocol="SSL")
    t0 = time.monotonic()
    with pytest.raises(ConnectionError) as err:
        asyncio.run(check_connection(s, timeout_s=2.0))
    elapsed = time.monotonic() - t0
    assert elapsed < 6.0, elapsed
    assert "with SSL" in str(err.value) and "listener is PLAINTEXT" in str(err.value)
    # The same settings in PLAINTEXT connect, so the failure above is the protocol, not the broker.
    asyncio.run(check_connection(Settings(bootstrap_servers=broker.bootstrap), timeout_s=5.0))


@pytest.mark.integration
def test_sasl_reaches_the_wire_from_every_client(broker: EmbeddedBroker) -> None:
    """The embedded broker has no SASL: every client that really sends a SASL handshake is refused."""
    s = Settings(bootstrap_servers=broker.bootstrap, kafka_security_protocol="SASL_PLAINTEXT",
                 kafka_sasl_mechanism="SCRAM-SHA-256", kafka_sasl_username="u", kafka_sasl_password="p")
    bus = KafkaBus(s)

    async def attempts() -> dict[str, str]:
        outcomes: dict[str, str] = {}
        with pytest.raises(ConnectionError) as err:
            await bus.ensure_topics(attempts=1)
        outcomes["admin"] = str(err.value)
        for name, client in (("producer", bus.producer()), ("consumer", bus.consumer(["kinesync.emg"], "g"))):
            try:
                with pytest.raises(Exception) as err:  # aiokafka's own error types differ per client
                    await asyncio.wait_for(client.start(), 10)
                outcomes[name] = repr(err.value)
            finally:
                await client.stop()
        sink = BusSink(bus)
        with pytest.raises(ConnectionError) as err:
            await asyncio.wait_for(sink.connect(), 10)
        outcomes["gateway sink"] = str(err.value)
        return outcomes

    t0 = time.monotonic()
    outcomes = asyncio.run(attempts())
    assert time.monotonic() - t0 < 30
    assert "SASL SCRAM-SHA-256" in outcomes["admin"] and "SASL SCRAM-SHA-256" in outcomes["gateway sink"]
    for name in ("producer", "consumer"):
        assert "KafkaConnectionError" in outcomes[name], outcomes
    # Without SASL the same broker serves every client.
    asyncio.run(KafkaBus(Settings(bootstrap_servers=broker.bootstrap)).ensure_topics(attempts=1))
