"""Keep secrets out of logs, whoever logs them (our code, uvicorn's access log, httpx, aiokafka).

Two kinds of redaction, applied to every log record when it is created (a record factory, so it
covers every handler, including ones libraries add later):

* the configured secret values themselves (every ``SecretStr`` setting, webhook secrets read
  through ``kinesync.runtime.secrets``), wherever they appear;
* shapes that carry credentials whatever their value: ``Authorization`` headers, ``token=``,
  ``password=``, ``sig=``... query and keyword parameters, passwords in URLs
  (``scheme://user:password@host``) and the paths of Slack and Teams webhook URLs, which are
  credentials by themselves.

Redaction replaces the value with ``***`` and keeps the record's structure (uvicorn's access
formatter reads its arguments as a tuple).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import SecretStr

MASK = "***"
MIN_SECRET_CHARS = 4  # shorter values would blank out ordinary words; such secrets are not secrets anyway

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer abc / 'authorization': 'Basic abc' / authorization=abc
    (re.compile(r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)(?:(bearer|basic|token)\s+)?[^\s\"',;}]+"),
     rf"\1\2 {MASK}"),
    # keyword arguments and query strings: device_token=abc, password='abc', "api_key": "abc", ?token=abc
    (re.compile(r"(?i)(\b[\w-]*?(?:token|password|passwd|secret|api_?key|signature))([\"']?\s*[=:]\s*[\"']?)"
                r"(?!\*\*\*)[^\s&\"',;}\]#)]+"),
     rf"\1\2{MASK}"),
    # short names that mean a credential only in a query string: InfluxDB's p=, Azure's sig=
    (re.compile(r"(?i)([?&;](?:p|pwd|sig|key)=)[^\s&\"'#]+"), rf"\1{MASK}"),
    # passwords in URLs
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+@"), rf"\1{MASK}@"),
    # Slack and Teams incoming-webhook URLs carry their credential in the path
    (re.compile(r"(?i)(hooks\.slack\.com/(?:services|workflows|triggers)/)[^\s\"'<>]+"), rf"\1{MASK}"),
    (re.compile(r"(?i)(\.webhook\.office\.com/webhookb2/)[^\s\"'<>]+"), rf"\1{MASK}"),
)


class Redactor:
    """Replaces secret values and credential-shaped text with ``***``; thread-safe to extend."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._secrets: tuple[str, ...] = ()
        self.add(*secrets)

    def add(self, *values: str | SecretStr | None) -> None:
        plain = [v.get_secret_value() if isinstance(v, SecretStr) else v for v in values]
        fresh = {v for v in plain if v and len(v) >= MIN_SECRET_CHARS}
        if not fresh:
            return
        with self._lock:
            # Longest first, so a secret that contains another is masked whole.
            self._secrets = tuple(sorted(set(self._secrets) | fresh, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def _arg(self, value: Any) -> Any:
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        text = value if isinstance(value, str) else _safe_str(value)
        if text is None:
            return value
        clean = self.redact(text)
        return value if clean == text else clean

    def redact_record(self, record: logging.LogRecord) -> None:
        if isinstance(record.msg, str):
            record.msg = self.redact(record.msg)
        elif record.msg is not None:
            record.msg = self._arg(record.msg)
        args = record.args
        if isinstance(args, tuple):
            record.args = tuple(self._arg(a) for a in args)
        elif isinstance(args, Mapping):
            record.args = {k: self._arg(v) for k, v in args.items()}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)


def _safe_str(value: object) -> str | None:
    try:
        return str(value)
    except Exception:
        return None


def secret_values(settings: object) -> list[str]:
    """Every ``SecretStr`` value set on a settings object."""
    out = []
    for name in type(settings).model_fields:  # type: ignore[attr-defined]
        value = getattr(settings, name, None)
        if isinstance(value, SecretStr) and value.get_secret_value():
            out.append(value.get_secret_value())
    return out


REDACTOR = Redactor()
_installed = False
_install_lock = threading.Lock()


def install(settings: object | None = None, *extra: str) -> Redactor:
    """Redact every log record of this process from now on; idempotent, adds the settings' secrets."""
    global _installed
    if settings is not None:
        REDACTOR.add(*secret_values(settings))
    REDACTOR.add(*extra)
    with _install_lock:
        if not _installed:
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                try:
                    REDACTOR.redact_record(record)
                except Exception:  # a log line must never crash the service
                    record.msg, record.args = "(log record withheld: redaction failed)", None
                return record

            logging.setLogRecordFactory(factory)
            _installed = True
    return REDACTOR


def register_secret(value: str | SecretStr | None) -> None:
    """Mask ``value`` in every log record from now on (e.g. a webhook secret read at run time)."""
    REDACTOR.add(value)
