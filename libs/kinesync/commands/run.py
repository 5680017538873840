"""``kinesync run``: the whole system on its embedded default."""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import httpx

from kinesync.settings import Settings

if TYPE_CHECKING:
    from kinesync.runtime.supervisor import Supervisor


def _print_status(url: str) -> None:
    try:
        rows = httpx.get(f"{url}/api/stations", timeout=2.0).json()
    except (httpx.HTTPError, ValueError):
        print("  (api not answering)")
        return
    if not rows:
        print("  waiting for the first windows ...")
        return
    cells = []
    for r in rows:
        lag = "  --  " if r.get("lag_ms") is None else f"{r['lag_ms']:6.1f}"
        mark = {True: "in ", False: "OUT", None: " - "}[r.get("in_window")]
        cells.append(f"{r['station']}: {lag} ms {mark}")
    for i in range(0, len(cells), 4):
        print("  " + "   ".join(cells[i : i + 4]))


def _demo_console_token(settings: Settings) -> str | None:
    """With no API token configured, a fresh admin token for this run, so the console can be signed in to
    at once; reads stay open (the wall needs no token) as they were. Handed to the services through the
    environment; None when the operator configured tokens (theirs apply, and reads need one)."""
    if any(v is not None for v in (settings.api_admin_token, settings.api_admin_token_sha256,
                                   settings.api_viewer_token, settings.api_viewer_token_sha256)):
        return None
    token = secrets.token_urlsafe(18)
    os.environ["KINESYNC_API_ADMIN_TOKEN"] = token
    os.environ["KINESYNC_API_OPEN_READS"] = "true"
    return token


def _broker_restarted(sup: Supervisor, max_mb: float) -> bool:
    """Restart the embedded broker (empty) and every service once it holds ``max_mb``; False when the
    services did not come back."""
    held_mb = (sup.broker.resident_bytes() if sup.broker else 0) / 1e6
    if held_mb < max_mb:
        return True
    print(f"[{time.strftime('%H:%M:%S')}] the embedded broker holds {held_mb:.0f} MB (limit {max_mb:g} MB): "
          "restarting it empty with every service; the wall pauses for a few seconds", flush=True)
    try:
        sup.restart_broker()
    except (RuntimeError, subprocess.CalledProcessError) as exc:  # no broker, or its topics not made
        print(f"kinesync run: the embedded broker did not come back: {exc}", file=sys.stderr)
        return False
    if not sup.wait_ready():
        print(f"kinesync run: services did not come back after the broker's restart ({sup.gave_up or 'timeout'})",
              file=sys.stderr)
        return False
    assert sup.broker is not None
    print(f"[{time.strftime('%H:%M:%S')}] running again on an empty broker ({sup.broker.bootstrap})", flush=True)
    return True


def cmd_run(args: argparse.Namespace) -> int:
    from kinesync.runtime.supervisor import Supervisor

    settings = Settings()
    console_token = _demo_console_token(settings)
    sup = Supervisor(
        stations=args.stations, port=args.port,
        max_failures=settings.supervisor_max_failures, failure_window_s=settings.supervisor_failure_window_s,
    )

    def on_term(signum: int, frame: object) -> None:
        # The children got the same signal and are exiting: that is no failure to restart.
        sup.stopping = True
        raise KeyboardInterrupt

    # SIGINT too: a shell that starts `make run &` hands it down ignored, and Python keeps that.
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    url = f"http://{sup.host}:{sup.port}"
    try:
        try:
            sup.start()
        except RuntimeError as exc:
            print(f"kinesync run: {exc}", file=sys.stderr)
            return 2
        print(f"KineSync: embedded broker on {sup.broker.bootstrap}, {args.stations} simulated stations")
        if not sup.wait_ready():
            print(
                f"kinesync run: services did not come up ({sup.gave_up or 'timeout'}); see the log lines above",
                file=sys.stderr,
            )
            return 1
        print(f"\n  Live wall:       {url}/\n  Station status:  {url}/api/stations\n  Health:          {url}/health")
        if console_token is not None:
            print(f"  Coach console:   {url}/console  (admin token for this run: {console_token})")
        else:
            print(f"  Coach console:   {url}/console  (sign in with your KINESYNC_API_ADMIN_TOKEN)")
        print("  Press Ctrl-C to stop everything.")
        # Said up front: the embedded broker keeps every frame and its fetches slow as the run goes on.
        max_mb = settings.supervisor_broker_max_mb
        print("  The embedded broker is for trying KineSync: for a whole training day use Apache Kafka\n"
              "  (docs/operations.md, \"The embedded broker\")."
              + (f" It keeps every frame in memory, so at {max_mb:g} MB it is\n"
                 "  restarted empty with every service (KINESYNC_SUPERVISOR_BROKER_MAX_MB).\n" if max_mb else "\n"))
        started = time.monotonic()
        next_status = started + 5
        while args.duration is None or time.monotonic() - started < args.duration:
            # A service that exits is restarted; only one that keeps failing ends the run.
            gave_up = sup.check()
            if gave_up is not None:
                print(f"kinesync run: {gave_up}", file=sys.stderr)
                return 1
            if time.monotonic() >= next_status:
                print(f"[{time.strftime('%H:%M:%S')}] phase lag per station (target 80-120 ms):")
                _print_status(url)
                next_status = time.monotonic() + 5
                if max_mb and not _broker_restarted(sup, max_mb):
                    return 1
            time.sleep(0.2)
        return 0
    except KeyboardInterrupt:
        print("\nstopping ...")
        return 0
    finally:
        sup.stop()
        print("all KineSync processes stopped.")


def register(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser(
        "run", help="start the whole system on its embedded default (broker, services, wall page)",
        description="Start the embedded Kafka-compatible broker, a gateway with simulated athletes, "
        "the analyzer, the writer (SQLite in .kinesync/), alerts to the log and the API with the live "
        "wall page. A service that exits is restarted with backoff; one that fails KINESYNC_SUPERVISOR_MAX_FAILURES "
        "times within KINESYNC_SUPERVISOR_FAILURE_WINDOW_S stops the run. The embedded broker keeps every record in "
        "memory: once it holds KINESYNC_SUPERVISOR_BROKER_MAX_MB (1024) it is restarted empty with every service, "
        "after the frames already sent are stored. Ctrl-C stops all of it.",
    )
    run.add_argument("--stations", type=int, default=8, help="simulated stations (default 8)")
    run.add_argument("--port", type=int, default=8000, help="API and wall page port (default 8000)")
    run.add_argument("--duration", type=float, default=None, help="stop by itself after this many seconds")
    run.set_defaults(func=cmd_run)
