"""Child processes that never outlive their parent, and the environment that hands them settings."""

from __future__ import annotations

import ctypes
import json
import multiprocessing
import os
import signal

from pydantic import SecretStr

from kinesync.settings import Settings

_PR_SET_PDEATHSIG = 1


def _signal_on_parent_death(sig: int) -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, sig)
    except OSError:  # not Linux: the parent's own cleanup still stops children
        pass


def child_preexec() -> None:
    """Runs in the child before exec: ask Linux to SIGTERM it when the parent dies, even by SIGKILL."""
    _signal_on_parent_death(signal.SIGTERM)


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """The same request for a ``multiprocessing`` child, which has no pre-exec hook: called first thing in
    the child, it gets ``sig`` when the process that started it dies; already orphaned, it ends at once.

    The bench's children use it: killed, a bench left its analyzers spinning against a broker that was gone,
    and they took a core's tenth from every measurement after (2026-12-05).
    """
    parent = multiprocessing.parent_process()
    _signal_on_parent_death(sig)
    if parent is not None and os.getppid() != parent.pid:  # the parent died before the request was made
        os.kill(os.getpid(), sig)


def resident_bytes(pid: int | str = "self") -> int:
    """Resident set size of process ``pid`` from Linux's /proc, bytes; 0 where it cannot be read."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


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
