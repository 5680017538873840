"""``kinesync gateway``: the gateway service, its source and options on the command line.

Every option defaults to its ``KINESYNC_*`` setting and the command line overrides it: the
command builds ``Settings`` with the options given, checks the combination, then runs the same
service main as ``python -m kinesync_services.gateway``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from kinesync.runtime.secrets import SecretFileError
from kinesync.settings import Settings

SOURCES = ("sim", "c3d", "csv", "lsl", "http")
REPLAY = ("c3d", "csv")

DESCRIPTION = """\
Run the gateway: read one source, stamp facility time, publish frames to Kafka (key = station,
topic by sensor kind) and serve /health plus the HTTP ingest on --port. Every option defaults to
its KINESYNC_* variable (shown in brackets with the built-in default); the command line wins.

sources (--source):
  sim   Simulated athletes whose true lags are known: per station an EMG kit (2000 Hz), a dual
        force plate (1000 Hz) and an LPT on the bar. Options: --stations, --lags-ms, --seed,
        --duration-s, --[no-]realtime, --[no-]bar.
          kinesync gateway --source sim --stations 16
  c3d   Replays a C3D file (EMG and force plates on one analog clock). Needs --file. Without
        --mapping the plates and EMG channels are detected and play on --station.
          kinesync gateway --source c3d --file session.c3d --station rack-3 --speed 0
  csv   Replays a CSV or OpenSim .mot recording. Needs --file and --mapping (stations, devices,
        channels and units; example in docs/mappings/).
          kinesync gateway --source csv --file jump.csv \\
              --mapping docs/mappings/squat_jump_dual_forceplates.json --loop
  lsl   Lab Streaming Layer inlets, resolved by stream name or type. Needs --mapping (streams
        to stations, devices and channels).
          kinesync gateway --source lsl --mapping lsl_streams.json
  http  No source of its own: devices POST frames to /v1/frames or stream them on /v1/stream
        with a device token (kinesync device-token). Needs --port above 0.
          kinesync gateway --source http --host 0.0.0.0 --port 8001 --tokens-file tokens.json

Replays (c3d, csv) take --speed (1 = real time, 0 = as fast as possible), --loop and --frame-s.
Every source goes through the same publisher: validation, sequence gaps, latency offsets and the
outage buffer apply to all. Details: docs/gateway.md.
"""

EPILOG = "Exit status 2: the options do not fit together (one line on stderr says why)."


class GatewayConfigError(ValueError):
    """The options and settings do not make a runnable gateway; the message is one line."""


@dataclass(frozen=True)
class Option:
    flag: str
    field: str
    group: str
    help: str | None = None  # default: the setting's own description
    type: Callable[[str], Any] | None = str
    metavar: str | None = None
    flag_only: bool = False  # --x/--no-x
    sources: tuple[str, ...] = SOURCES  # the sources that read it
    needs_http: bool = False  # only meaningful with the HTTP server


def _lags(text: str) -> list[str]:
    # Comma-separated on the command line; Settings converts and checks the numbers.
    return [part.strip() for part in text.split(",") if part.strip()]


def _json_object(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc.msg}): {text!r}") from None


GROUPS = {
    "source": "source",
    "replay": "replay (c3d, csv)",
    "sim": "simulator (sim)",
    "http": "health and HTTP ingest server",
    "publish": "broker and outage buffer",
}

OPTIONS = (
    Option("--source", "gateway_source", "source", type=None, metavar="{" + ",".join(SOURCES) + "}"),
    Option("--file", "gateway_file", "replay", metavar="PATH", sources=REPLAY),
    Option("--mapping", "gateway_mapping", "replay", metavar="PATH", sources=("c3d", "csv", "lsl"),
           help="JSON channel mapping (csv and lsl: required; c3d: optional, default auto-detected)"),
    Option("--station", "gateway_station", "replay", metavar="NAME", sources=("c3d",)),
    Option("--speed", "gateway_speed", "replay", type=float, metavar="X", sources=REPLAY),
    Option("--loop", "gateway_loop", "replay", flag_only=True, sources=REPLAY),
    Option("--frame-s", "gateway_frame_s", "replay", type=float, metavar="S", sources=REPLAY),
    Option("--stations", "sim_stations", "sim", type=int, metavar="N", sources=("sim",),
           help="number of simulated stations"),
    Option("--lags-ms", "sim_lags_ms", "sim", type=_lags, metavar="MS,MS,...", sources=("sim",),
           help="true phase lags of the simulated stations, used in turn, ms (comma-separated)"),
    Option("--rep-periods-s", "sim_rep_periods_s", "sim", type=_lags, metavar="LOW,HIGH", sources=("sim",),
           help="each station's rep period is drawn between these, s (equal: every station in step)"),
    Option("--seed", "sim_seed", "sim", type=int, metavar="N", sources=("sim",), help="simulator random seed"),
    Option("--duration-s", "sim_duration_s", "sim", type=float, metavar="S", sources=("sim",)),
    Option("--realtime", "sim_realtime", "sim", flag_only=True, sources=("sim",),
           help="simulate in real time (--no-realtime: as fast as possible)"),
    Option("--bar", "sim_bar", "sim", flag_only=True, sources=("sim",)),
    Option("--presynth-s", "sim_presynth_s", "sim", type=float, metavar="S", sources=("sim",)),
    Option("--host", "gateway_host", "http", metavar="ADDR", needs_http=True,
           help="address the health and ingest server listens on"),
    Option("--port", "gateway_port", "http", type=int, metavar="PORT"),
    Option("--tokens-file", "gateway_tokens_file", "http", metavar="PATH", needs_http=True),
    Option("--max-body-kb", "gateway_max_body_kb", "http", type=int, metavar="KB", needs_http=True),
    Option("--rate-per-s", "gateway_rate_per_s", "http", type=float, metavar="N", needs_http=True),
    Option("--rate-burst", "gateway_rate_burst", "http", type=int, metavar="N", needs_http=True),
    Option("--request-timeout-s", "gateway_request_timeout_s", "http", type=float, metavar="S", needs_http=True),
    Option("--ws-idle-s", "gateway_ws_idle_s", "http", type=float, metavar="S", needs_http=True),
    Option("--bootstrap-servers", "bootstrap_servers", "publish", metavar="HOST:PORT[,...]"),
    Option("--buffer-frames", "gateway_buffer_frames", "publish", type=int, metavar="N"),
    Option("--buffer-mb", "gateway_buffer_mb", "publish", type=float, metavar="MB"),
    Option("--buffer-s", "gateway_buffer_s", "publish", type=float, metavar="S"),
    Option("--send-timeout-s", "gateway_send_timeout_s", "publish", type=float, metavar="S"),
    Option("--latency-ms", "gateway_latency_ms", "publish", type=_json_object, metavar="JSON",
           help='per-device latency offsets, ms, subtracted from its stamps (JSON: \'{"trigno-1": 17.0}\')'),
)
BY_FIELD = {o.field: o for o in OPTIONS}


def _env_name(field: str) -> str:
    return f"KINESYNC_{field.upper()}"


def _help(option: Option) -> str:
    info = Settings.model_fields[option.field]
    text = option.help or info.description or option.field
    default = info.get_default()
    shown: object = default
    if default is None:
        shown = "unset"
    elif isinstance(default, bool):
        shown = "on" if default else "off"
    elif isinstance(default, list):
        shown = ",".join(f"{x:g}" for x in default)
    elif isinstance(default, dict):
        shown = json.dumps(default)
    # argparse %-formats help strings: a literal % must be doubled.
    return f"{text} [{_env_name(option.field)}, default {shown}]".replace("%", "%%")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "gateway", help="run the gateway: a source (sim, c3d, csv, lsl, http) to Kafka frames",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    groups = {key: parser.add_argument_group(title) for key, title in GROUPS.items()}
    for option in OPTIONS:
        # default None: "not given", so the setting (environment, secrets directory, built-in) applies.
        if option.flag_only:
            groups[option.group].add_argument(option.flag, dest=option.field, action=argparse.BooleanOptionalAction,
                                              default=None, help=_help(option))
        elif option.field == "gateway_source":
            groups[option.group].add_argument(option.flag, dest=option.field, choices=SOURCES, default=None,
                                              metavar=option.metavar, help=_help(option))
        else:
            groups[option.group].add_argument(option.flag, dest=option.field, type=option.type, default=None,
                                              metavar=option.metavar, help=_help(option))
    parser.set_defaults(func=cmd_gateway)


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line gives: every option that was set."""
    return {o.field: getattr(args, o.field) for o in OPTIONS if getattr(args, o.field, None) is not None}


def _one_line(exc: ValidationError, given: dict[str, Any]) -> str:
    problems = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        where = BY_FIELD[field].flag if field in given and field in BY_FIELD else _env_name(field)
        problems.append(f"{where}: {err['msg']}")
    return "; ".join(problems)


def _mapping_problem(settings: Settings) -> str | None:
    from kinesync.sources.mapping import load_mapping

    assert settings.gateway_mapping is not None
    try:
        if settings.gateway_source == "lsl":
            from kinesync.sources.lsl import load_lsl_mapping

            load_lsl_mapping(settings.gateway_mapping)
        else:
            load_mapping(settings.gateway_mapping)
    except ValueError as exc:
        cause = exc.__cause__
        if isinstance(cause, ValidationError):  # pydantic's text spans lines; keep each error's place and message
            details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in cause.errors())
            return f"mapping {settings.gateway_mapping} is invalid: {details}"
        return " ".join(str(exc).split())
    return None


def problem(settings: Settings, given: dict[str, Any]) -> str | None:
    """Why these settings cannot run, in one line; None when they can."""
    source = settings.gateway_source
    for field in given:
        option = BY_FIELD[field]
        if source not in option.sources:
            return f"{option.flag} does not apply to --source {source} (it is read by: {', '.join(option.sources)})"
        if option.needs_http and not settings.gateway_port:
            return f"{option.flag} needs the HTTP server, which --port 0 turns off"
    if source in REPLAY:
        if not settings.gateway_file:
            return f"--source {source} needs --file (or KINESYNC_GATEWAY_FILE): the recording to replay"
        if not Path(settings.gateway_file).is_file():
            return f"--file {settings.gateway_file}: no such file"
    if source in ("csv", "lsl") and not settings.gateway_mapping:
        example = " (example: docs/mappings/squat_jump_dual_forceplates.json)" if source == "csv" else ""
        return f"--source {source} needs --mapping (or KINESYNC_GATEWAY_MAPPING): a JSON channel mapping{example}"
    if settings.gateway_mapping and source in ("c3d", "csv", "lsl"):
        if not Path(settings.gateway_mapping).is_file():
            return f"--mapping {settings.gateway_mapping}: no such file"
        found = _mapping_problem(settings)
        if found:
            return found
    if source == "http" and not settings.gateway_port:
        return "--source http needs --port above 0: its frames arrive only through the HTTP ingest"
    if settings.gateway_tokens_file and settings.gateway_port and Path(settings.gateway_tokens_file).is_file():
        from kinesync.ingest.tokens import TokenStore

        try:
            TokenStore.load(settings.gateway_tokens_file)
        except ValueError as exc:
            return " ".join(str(exc).split())
    return None


def gateway_settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment with the command line on top, checked; GatewayConfigError if unusable."""
    given = overrides(args)
    try:
        settings = Settings(**given)
    except ValidationError as exc:
        raise GatewayConfigError(_one_line(exc, given)) from None
    except SecretFileError as exc:
        raise GatewayConfigError(" ".join(str(exc).split())) from None
    found = problem(settings, given)
    if found:
        raise GatewayConfigError(found)
    return settings


def cmd_gateway(args: argparse.Namespace) -> int:
    try:
        settings = gateway_settings(args)
    except GatewayConfigError as exc:
        print(f"kinesync gateway: {exc}", file=sys.stderr)
        return 2
    from kinesync_services.gateway.main import run

    run(settings)
    return 0

