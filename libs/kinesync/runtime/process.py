"""Child processes that never outlive their parent, and the environment that hands them settings."""

from __future__ import annotations

import ctypes
import json
import signal

from pydantic import SecretStr

from kinesync.settings import Settings

_PR_SET_PDEATHSIG = 1


def child_preexec() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when the parent dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:  # not Linux: the supervisor's own cleanup still stops children
        pass


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``KINESYNC_*`` variables under which a child's ``Settings()`` equals ``settings``.

    Unset settings are left out: None is the default of every optional one.
    """
    env = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        # JSON for the rest: lists and dicts are read back as JSON, and booleans as true/false.
        env[f"KINESYNC_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env
