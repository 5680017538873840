"""Children that never outlive their parent: ``die_with_parent`` for ``multiprocessing`` children."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sys
import time

import pytest

from kinesync.runtime.process import die_with_parent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")


def _grandchild(ready) -> None:  # type: ignore[no-untyped-def]
    die_with_parent()
    ready.put(os.getpid())
    while True:  # spins like an analyzer whose broker is gone
        time.sleep(0.05)


def _middle(ready) -> None:  # type: ignore[no-untyped-def]
    # A bench process: it starts a child, then dies by SIGKILL.
    proc = mp.get_context("spawn").Process(target=_grandchild, args=(ready,))
    proc.start()
    while True:
        time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_a_spawned_child_ends_when_its_parent_is_killed() -> None:
    ctx = mp.get_context("spawn")
    ready = ctx.Queue()
    middle = ctx.Process(target=_middle, args=(ready,))
    middle.start()
    child = ready.get(timeout=60)
    assert _alive(child)
    os.kill(middle.pid, signal.SIGKILL)  # no cleanup can run in the parent
    middle.join(10)
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child), "the child outlived its killed parent"


def test_a_child_already_orphaned_ends_at_once() -> None:
    ctx = mp.get_context("spawn")
    result = ctx.Queue()
    proc = ctx.Process(target=_orphan_gate, args=(result,))
    proc.start()
    proc.join(60)
    assert proc.exitcode == -signal.SIGTERM
    assert result.empty()


def _orphan_gate(result) -> None:  # type: ignore[no-untyped-def]
    # Make the recorded parent differ from the real one, as if the parent had died before the call.
    class _Gone:
        pid = -1

    mp.parent_process = lambda: _Gone()  # type: ignore[assignment]
    die_with_parent(signal.SIGTERM)
    result.put("survived")
