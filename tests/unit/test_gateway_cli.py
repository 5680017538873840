"""``kinesync gateway``: help per source, options over settings, one-line refusals, a real replay."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kinesync_services.gateway.main as gateway_main
from kinesync.bus.kafka import KafkaBus
from kinesync.bus.topics import FORCE
from kinesync.cli import main
from kinesync.codec.frame import decode
from kinesync.commands.gateway import OPTIONS, SOURCES
from kinesync.runtime.broker import EmbeddedBroker
from kinesync.settings import Settings
from kinesync.sources.csv import read_csv
from kinesync.sources.mapping import load_mapping

ROOT = Path(__file__).resolve().parents[2]
MAPPING = ROOT / "docs" / "mappings" / "squat_jump_dual_forceplates.json"
CSV = "squat_jump_dual_forceplates_1000hz.csv"  # andrewlba/ACL_squat_jump (MIT), see shared/data/PROVENANCE.md
C3D = "gait_emg_forceplates_1000hz.c3d"  # PhilD001/biomechZoo (Apache-2.0), see shared/data/PROVENANCE.md


@pytest.fixture(autouse=True)
def _no_gateway_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # The machine's own KINESYNC_GATEWAY_* / SIM_* variables must not decide what these tests see.
    for name in list(os.environ):
        if name.startswith(("KINESYNC_GATEWAY_", "KINESYNC_SIM_", "KINESYNC_BOOTSTRAP_SERVERS")):
            monkeypatch.delenv(name)
    empty = tmp_path / "no-secrets"
    empty.mkdir()
    monkeypatch.setenv("KINESYNC_SECRETS_DIR", str(empty))


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, Settings]]:
    """What the command hands to the service runner, instead of running the service."""
    calls: list[tuple[str, Any, Settings]] = []
    monkeypatch.setattr(gateway_main, "run_service", lambda name, fn, settings: calls.append((name, fn, settings)))
    return calls


def test_help_explains_every_source_with_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["gateway", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for source in SOURCES:
        assert re.search(rf"\n  {source} +[A-Z]", text), f"--help does not explain --source {source}"
        assert f"kinesync gateway --source {source}" in text, f"--help has no example for --source {source}"
    for option in OPTIONS:
        assert option.flag in text
        assert f"KINESYNC_{option.field.upper()}" in text, f"{option.flag}: its variable is not named"
    # The raw layout survives: the example lines keep their indentation.
    assert "\n          kinesync gateway --source sim --stations 16\n" in text


def test_every_gateway_setting_has_an_option() -> None:
    fields = {o.field for o in OPTIONS}
    missing = [name for name in Settings.model_fields if name.startswith(("gateway_", "sim_")) and name not in fields]
    assert not missing, f"settings without a `kinesync gateway` option: {missing}"


def test_no_options_run_the_service_main_on_the_environment(
    started: list[tuple[str, Any, Settings]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KINESYNC_SIM_STATIONS", "3")
    assert main(["gateway"]) == 0
    [(name, fn, settings)] = started
    # The same entry as `python -m kinesync_services.gateway`: one service main, settings handed over.
    assert name == "gateway" and fn is gateway_main.main
    assert settings.model_dump() == Settings().model_dump()
    assert settings.gateway_source == "sim" and settings.sim_stations == 3


def test_command_line_overrides_the_environment_and_the_rest_stays(
    started: list[tuple[str, Any, Settings]], monkeypatch: pytest.MonkeyPatch, shared_data: Path, tmp_path: Path
) -> None:
    monkeypatch.setenv("KINESYNC_GATEWAY_SPEED", "2")
    monkeypatch.setenv("KINESYNC_GATEWAY_STATION", "from-env")
    monkeypatch.setenv("KINESYNC_GATEWAY_BUFFER_FRAMES", "123")
    monkeypatch.setenv("KINESYNC_GATEWAY_LOOP", "true")
    tokens = tmp_path / "tokens.json"
    code = main([
        "gateway", "--source", "c3d", "--file", str(shared_data / C3D), "--speed", "0", "--no-loop",
        "--frame-s", "0.1", "--port", "8123", "--host", "0.0.0.0", "--tokens-file", str(tokens),
        "--latency-ms", '{"gait-lab-emg": 17.5}', "--bootstrap-servers", "kafka-1:9092,kafka-2:9092",
        "--send-timeout-s", "3",
    ])
    assert code == 0
    [(_, _, s)] = started
    assert (s.gateway_source, s.gateway_file, s.gateway_speed, s.gateway_loop) == ("c3d", str(shared_data / C3D),
                                                                                    0.0, False)
    assert (s.gateway_frame_s, s.gateway_port, s.gateway_host) == (0.1, 8123, "0.0.0.0")
    assert s.gateway_tokens_file == str(tokens) and s.gateway_latency_ms == {"gait-lab-emg": 17.5}
    assert s.bootstrap_servers == "kafka-1:9092,kafka-2:9092" and s.gateway_send_timeout_s == 3.0
    # Not on the command line: the environment's value.
    assert s.gateway_station == "from-env" and s.gateway_buffer_frames == 123


def test_simulator_options(started: list[tuple[str, Any, Settings]]) -> None:
    code = main(["gateway", "--source", "sim", "--stations", "16", "--lags-ms", "80, 100,120", "--seed", "3",
                 "--duration-s", "30", "--no-realtime", "--no-bar", "--port", "0"])
    assert code == 0
    [(_, _, s)] = started
    assert (s.sim_stations, s.sim_lags_ms, s.sim_seed, s.sim_duration_s) == (16, [80.0, 100.0, 120.0], 3, 30.0)
    assert s.sim_realtime is False and s.sim_bar is False and s.gateway_port == 0


def test_csv_and_lsl_mapping_and_http_ingest_are_accepted(
    started: list[tuple[str, Any, Settings]], shared_data: Path, tmp_path: Path
) -> None:
    assert main(["gateway", "--source", "csv", "--file", str(shared_data / CSV), "--mapping", str(MAPPING)]) == 0
    lsl = tmp_path / "lsl.json"
    lsl.write_text('{"streams": [{"type": "EMG", "station": "rack-1", "device": "trigno-1", "kind": "emg",'
                   ' "channels": [{"source": "0", "name": "quad"}]}]}', encoding="utf-8")
    assert main(["gateway", "--source", "lsl", "--mapping", str(lsl)]) == 0
    assert main(["gateway", "--source", "http", "--port", "8002", "--rate-per-s", "50"]) == 0
    assert [s.gateway_source for _, _, s in started] == ["csv", "lsl", "http"]


BAD = [
    (["--source", "c3d"], "--source c3d needs --file"),
    (["--source", "csv", "--mapping", "{mapping}"], "--source csv needs --file"),
    (["--source", "c3d", "--file", "/no/such/recording.c3d"], "--file /no/such/recording.c3d: no such file"),
    (["--source", "csv", "--file", "{csv}"], "--source csv needs --mapping"),
    (["--source", "lsl"], "--source lsl needs --mapping"),
    (["--source", "csv", "--file", "{csv}", "--mapping", "/no/map.json"], "--mapping /no/map.json: no such file"),
    (["--source", "csv", "--file", "{csv}", "--mapping", "{bad_mapping}"], "is invalid: devices.0.kind"),
    (["--source", "http", "--port", "0"], "--source http needs --port above 0"),
    (["--source", "sim", "--file", "{csv}"], "--file does not apply to --source sim"),
    (["--source", "csv", "--file", "{csv}", "--mapping", "{mapping}", "--station", "x"],
     "--station does not apply to --source csv"),
    (["--source", "http", "--speed", "2"], "--speed does not apply to --source http"),
    (["--source", "c3d", "--file", "{c3d}", "--stations", "4"], "--stations does not apply to --source c3d"),
    (["--port", "0", "--tokens-file", "t.json"], "--tokens-file needs the HTTP server"),
    (["--source", "http", "--tokens-file", "{bad_tokens}"], "device tokens file"),
    (["--source", "c3d", "--file", "{c3d}", "--speed", "-1"], "--speed: Input should be greater than or equal to 0"),
    (["--latency-ms", "[17]"], "--latency-ms: Input should be a valid dictionary"),
    (["--lags-ms", "80,late"], "--lags-ms: Input should be a valid number"),
]


@pytest.mark.parametrize(("argv", "expected"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_combinations_exit_2_with_one_line(
    argv: list[str], expected: str, started: list[tuple[str, Any, Settings]], shared_data: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad_mapping = tmp_path / "bad.json"
    bad_mapping.write_text('{"devices": [{"station": "s", "device": "d", "kind": "eeg", "channels": []}]}',
                           encoding="utf-8")
    bad_tokens = tmp_path / "tokens.json"
    bad_tokens.write_text('{"devices": [{"device": 1}]', encoding="utf-8")
    paths = {"csv": shared_data / CSV, "c3d": shared_data / C3D, "mapping": MAPPING, "bad_mapping": bad_mapping,
             "bad_tokens": bad_tokens}
    argv = [a.format(**paths) for a in argv]
    assert main(["gateway", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("kinesync gateway: "), err
    assert expected in err
    assert "Traceback" not in err
    assert not started, "the service started despite the refusal"


def test_a_bad_environment_value_names_the_variable(
    started: list[tuple[str, Any, Settings]], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KINESYNC_GATEWAY_PORT", "eight-thousand")
    assert main(["gateway"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "KINESYNC_GATEWAY_PORT: Input should be a valid integer" in err
    # The command line fixes it.
    assert main(["gateway", "--port", "0"]) == 0 and started[0][2].gateway_port == 0


@pytest.mark.integration
def test_csv_replay_from_the_command_line_reaches_the_broker(
    broker: EmbeddedBroker, shared_data: Path, tmp_path: Path
) -> None:
    """`kinesync gateway --source csv ...` as a user starts it, against the real embedded broker."""
    path = shared_data / CSV
    exe = Path(sys.executable).with_name("kinesync")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KINESYNC_")}
    env["KINESYNC_SECRETS_DIR"] = str(tmp_path)
    asyncio.run(KafkaBus(Settings(bootstrap_servers=broker.bootstrap)).ensure_topics())  # as `kinesync topics`
    proc = subprocess.Popen(
        [str(exe), "gateway", "--source", "csv", "--file", str(path), "--mapping", str(MAPPING), "--speed", "0",
         "--port", "0", "--bootstrap-servers", broker.bootstrap],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        [device] = read_csv(path, load_mapping(MAPPING)).tracks
        frames = asyncio.run(_read_force_frames(broker, device.n_samples, proc))
    finally:
        proc.send_signal(signal.SIGTERM)  # a finished replay keeps /health up until stopped
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "source finished" in out and "Traceback" not in out, out
    assert {(f.station, f.device) for f in frames} == {("platform-1", "platform-1-plates")}
    frames.sort(key=lambda f: f.seq)
    assert [f.seq for f in frames] == list(range(len(frames)))
    assert frames[0].channels == device.channels and frames[0].rate_hz == device.rate_hz
    np.testing.assert_array_equal(np.concatenate([f.samples for f in frames], axis=1), device.samples)
    assert f"{len(frames)} in, {len(frames)} published, 0 invalid, 0 dropped, 0 sequence gap(s)" in out, out


async def _read_force_frames(broker: EmbeddedBroker, n_samples: int, proc: subprocess.Popen[str]) -> list[Any]:
    bus = KafkaBus(Settings(bootstrap_servers=broker.bootstrap))
    consumer = bus.consumer([FORCE], f"check-{uuid.uuid4().hex[:8]}")
    frames: list[Any] = []
    deadline = time.monotonic() + 60
    await consumer.start()
    try:
        while sum(f.samples.shape[1] for f in frames) < n_samples and time.monotonic() < deadline:
            assert proc.poll() is None, "the gateway stopped by itself"
            for msg in await consumer.getmany(timeout_ms=500):
                frames.append(decode(msg.value))
    finally:
        await consumer.stop()
    return frames

