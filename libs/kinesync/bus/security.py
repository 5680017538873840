"""Kafka transport security: settings → the keyword arguments every aiokafka client takes.

One function so the producer, the consumers, the admin client and the gateway's acknowledged
producer can never disagree on how they reach a TLS or SASL listener. ``PLAINTEXT`` (the embedded
broker) adds nothing. The password is handed to aiokafka as a plain string because that is what its
SASL code needs; it stays out of ``repr`` and logs (``kinesync.runtime.redact``).
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from aiokafka.helpers import create_ssl_context

from kinesync.settings import Settings

TLS_PROTOCOLS = frozenset({"SSL", "SASL_SSL"})
SASL_PROTOCOLS = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})


class KafkaSecurityError(ValueError):
    """The Kafka security settings are incomplete or point at files that do not exist."""


def _existing(path: str | None, variable: str) -> str | None:
    if path is None:
        return None
    if not Path(path).is_file():
        raise KafkaSecurityError(f"{variable}={path} is not a readable file")
    return path


def ssl_context_of(settings: Settings) -> ssl.SSLContext:
    """A client TLS context: the facility CA (or the system store), optional client certificate."""
    s = settings
    cafile = _existing(s.kafka_ssl_cafile, "KINESYNC_KAFKA_SSL_CAFILE")
    certfile = _existing(s.kafka_ssl_certfile, "KINESYNC_KAFKA_SSL_CERTFILE")
    keyfile = _existing(s.kafka_ssl_keyfile, "KINESYNC_KAFKA_SSL_KEYFILE")
    if keyfile and not certfile:
        raise KafkaSecurityError("KINESYNC_KAFKA_SSL_KEYFILE needs KINESYNC_KAFKA_SSL_CERTFILE")
    password = s.kafka_ssl_key_password.get_secret_value() if s.kafka_ssl_key_password else None
    try:
        context = create_ssl_context(cafile=cafile, certfile=certfile, keyfile=keyfile, password=password)
    except ssl.SSLError as exc:
        raise KafkaSecurityError(f"cannot load the Kafka TLS files: {exc}") from exc
    if cafile is None:
        # create_ssl_context trusts nothing without a CA file; a broker with a public certificate
        # should still verify against the system store.
        context.load_default_certs()
    # Hostname checking needs certificate verification; turning it off keeps verifying the chain.
    context.check_hostname = s.kafka_ssl_check_hostname
    return context


def kafka_security_kwargs(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
    s = settings
    protocol = s.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    if protocol in TLS_PROTOCOLS:
        kwargs["ssl_context"] = ssl_context_of(s)
    if protocol in SASL_PROTOCOLS:
        if s.kafka_sasl_mechanism is None:
            raise KafkaSecurityError(
                f"KINESYNC_KAFKA_SECURITY_PROTOCOL={protocol} needs KINESYNC_KAFKA_SASL_MECHANISM "
                "(PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512)"
            )
        if not s.kafka_sasl_username or s.kafka_sasl_password is None:
            raise KafkaSecurityError(
                f"SASL {s.kafka_sasl_mechanism} needs KINESYNC_KAFKA_SASL_USERNAME and KINESYNC_KAFKA_SASL_PASSWORD "
                "(or KINESYNC_KAFKA_SASL_PASSWORD_FILE)"
            )
        kwargs.update(
            sasl_mechanism=s.kafka_sasl_mechanism,
            sasl_plain_username=s.kafka_sasl_username,
            sasl_plain_password=s.kafka_sasl_password.get_secret_value(),
        )
    return kwargs


def connection_hint(settings: Settings) -> str:
    """What to check when no broker answers, given the security settings in force."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return ("check KINESYNC_BOOTSTRAP_SERVERS and that the broker runs; a TLS or SASL listener also refuses "
                "PLAINTEXT clients (set KINESYNC_KAFKA_SECURITY_PROTOCOL)")
    hint = f"check KINESYNC_BOOTSTRAP_SERVERS and that the broker listens with {protocol} there"
    if protocol in TLS_PROTOCOLS:
        hint += ("; a TLS handshake that never completes means the listener is PLAINTEXT or SASL_PLAINTEXT, "
                 "a certificate error names the CA file or host name to fix")
    if protocol in SASL_PROTOCOLS:
        hint += f"; SASL {settings.kafka_sasl_mechanism} needs the user to exist on the broker with that mechanism"
    return hint


async def check_connection(settings: Settings, *, timeout_s: float = 5.0) -> None:
    """Connect once with the configured security; ConnectionError with a clear reason within ``timeout_s``."""
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.errors import KafkaError

    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.bootstrap_servers,
        client_id="kinesync-check",
        request_timeout_ms=max(1, int(timeout_s * 1000)),
        **kafka_security_kwargs(settings),
    )
    try:
        await asyncio.wait_for(admin.start(), timeout_s + 1.0)
    except (KafkaError, OSError, TimeoutError) as exc:
        raise ConnectionError(
            f"cannot reach Kafka at {settings.bootstrap_servers} with {settings.kafka_security_protocol} "
            f"within {timeout_s:g} s ({exc or type(exc).__name__}); {connection_hint(settings)}"
        ) from exc
    finally:
        await admin.close()
