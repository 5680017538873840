"""Secrets from files: ``KINESYNC_*_FILE`` variables and a secrets directory.

Orchestrators (Docker and Compose secrets, Kubernetes, systemd credentials) hand secrets over as
files so they never sit in the environment, where ``ps e`` and crash reports can see them. Three
ways reach a secret setting, strongest first:

1. the variable itself, ``KINESYNC_INFLUX_TOKEN=...``;
2. ``KINESYNC_INFLUX_TOKEN_FILE=/path/to/file`` (secret settings only);
3. a file named like the variable (``KINESYNC_INFLUX_TOKEN`` or ``kinesync_influx_token``) in the
   secrets directory: ``KINESYNC_SECRETS_DIR``, else ``/run/secrets`` when it exists.

Webhook signing secrets named by a subscription's ``secret_env`` follow the same rules
(``read_secret``). Trailing whitespace (the newline editors add) is removed.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from kinesync.runtime.redact import register_secret

SECRETS_DIR_VARIABLE = "KINESYNC_SECRETS_DIR"
DEFAULT_SECRETS_DIR = Path("/run/secrets")
FILE_SUFFIX = "_FILE"


class SecretFileError(ValueError):
    """A secret file named by the configuration cannot be read."""


def secrets_dir(environ: os._Environ[str] | dict[str, str] | None = None) -> Path | None:
    """The directory secret files are read from, or None."""
    env = os.environ if environ is None else environ
    given = env.get(SECRETS_DIR_VARIABLE)
    if given:
        path = Path(given)
        if not path.is_dir():
            raise SecretFileError(f"{SECRETS_DIR_VARIABLE}={given} is not a directory")
        return path
    return DEFAULT_SECRETS_DIR if DEFAULT_SECRETS_DIR.is_dir() else None


def _read(path: Path, origin: str) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip()
    except OSError as exc:
        raise SecretFileError(f"{origin}: cannot read {path} ({exc.strerror})") from None


def _in_dir(folder: Path | None, name: str) -> Path | None:
    if folder is None:
        return None
    for candidate in (name, name.lower()):
        path = folder / candidate
        if path.is_file():
            return path
    return None


def read_secret(name: str | None, environ: os._Environ[str] | dict[str, str] | None = None) -> str:
    """The secret held by environment variable ``name``, its ``name_FILE``, or the secrets directory ('' if none)."""
    if not name:
        return ""
    env = os.environ if environ is None else environ
    file_var = name + FILE_SUFFIX
    path = None if env.get(name) or env.get(file_var) else _in_dir(secrets_dir(env), name)
    if env.get(name):
        value = env[name]
    elif env.get(file_var):
        value = _read(Path(env[file_var]), file_var)
    else:
        value = _read(path, f"secrets directory entry {name}") if path else ""
    register_secret(value)  # whatever reads a secret at run time keeps it out of the logs
    return value


def _is_secret(field: FieldInfo) -> bool:
    annotation = field.annotation
    args = getattr(annotation, "__args__", ())
    return annotation is SecretStr or SecretStr in args


class SecretFilesSource(PydanticBaseSettingsSource):
    """Secret settings from ``<VARIABLE>_FILE`` paths and from the secrets directory."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.prefix = str(settings_cls.model_config.get("env_prefix", "")).upper()

    folder: Path | None = None

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        variable = self.prefix + field_name.upper()
        file_var = variable + FILE_SUFFIX
        if _is_secret(field) and os.environ.get(file_var):
            return _read(Path(os.environ[file_var]), file_var), field_name, False
        path = _in_dir(self.folder, variable)
        if path is not None:
            return _read(path, f"secrets directory entry {path.name}"), field_name, False
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        self.folder = secrets_dir()  # once per Settings(), not once per field
        for name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, name)
            if value is not None:
                values[key] = self.decode_complex_value(name, field, value) if self.field_is_complex(field) else value
        return values
