"""Secrets from files: ``KINESYNC_*_FILE``, the secrets directory, and webhook signing secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinesync.alerts.delivery import Permanent, webhook_request
from kinesync.alerts.rules import AlertEvent
from kinesync.alerts.signing import verify
from kinesync.alerts.subscriptions import SubscriptionIn, new_subscription
from kinesync.api.auth import ApiTokens
from kinesync.bus.security import kafka_security_kwargs
from kinesync.commands.config import rows
from kinesync.runtime.secrets import SecretFileError, read_secret
from kinesync.settings import Settings

SECRET_SETTINGS = ("influx_token", "influx_password", "grafana_token", "grafana_password", "api_admin_token",
                   "api_viewer_token", "kafka_sasl_password", "kafka_ssl_key_password")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # An empty secrets directory by default, so a /run/secrets on the test machine cannot leak in.
    empty = tmp_path / "no-secrets"
    empty.mkdir()
    monkeypatch.setenv("KINESYNC_SECRETS_DIR", str(empty))
    for name in SECRET_SETTINGS:
        for suffix in ("", "_FILE"):
            monkeypatch.delenv(f"KINESYNC_{name.upper()}{suffix}", raising=False)


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", SECRET_SETTINGS)
def test_every_secret_setting_reads_its_file_variable(name: str, monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    value = f"{name}-value-from-file"
    monkeypatch.setenv(f"KINESYNC_{name.upper()}_FILE", str(_write(tmp_path / name, value + "\n")))
    assert getattr(Settings(), name).get_secret_value() == value  # the editor's newline is gone


def test_secrets_directory_serves_secret_and_plain_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    folder.mkdir()
    _write(folder / "KINESYNC_INFLUX_TOKEN", "influx-token-from-dir\n")
    _write(folder / "kinesync_kafka_sasl_password", "sasl-from-dir")  # Docker's lower-case names work too
    _write(folder / "KINESYNC_KAFKA_SASL_USERNAME", "svc-kinesync")
    _write(folder / "KINESYNC_SIM_LAGS_MS", "[70, 80]")
    monkeypatch.setenv("KINESYNC_SECRETS_DIR", str(folder))
    s = Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="SCRAM-SHA-512")
    assert s.influx_token.get_secret_value() == "influx-token-from-dir"
    assert s.sim_lags_ms == [70.0, 80.0]
    kwargs = kafka_security_kwargs(s)
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("svc-kinesync", "sasl-from-dir")


def test_environment_beats_file_beats_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "secrets"
    folder.mkdir()
    _write(folder / "KINESYNC_API_ADMIN_TOKEN", "from-dir")
    monkeypatch.setenv("KINESYNC_SECRETS_DIR", str(folder))
    assert Settings().api_admin_token.get_secret_value() == "from-dir"
    monkeypatch.setenv("KINESYNC_API_ADMIN_TOKEN_FILE", str(_write(tmp_path / "admin", "from-file")))
    assert Settings().api_admin_token.get_secret_value() == "from-file"
    monkeypatch.setenv("KINESYNC_API_ADMIN_TOKEN", "from-env")
    assert Settings().api_admin_token.get_secret_value() == "from-env"
    # An API token from a file is hashed like any other, and only its role is known afterwards.
    monkeypatch.delenv("KINESYNC_API_ADMIN_TOKEN")
    tokens = ApiTokens.from_settings(Settings())
    assert tokens.role_of("from-file") == "admin" and tokens.role_of("from-dir") is None


def test_file_variables_are_for_secrets_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KINESYNC_INFLUX_URL_FILE", str(_write(tmp_path / "url", "http://example:8086")))
    assert Settings().influx_url is None


def test_missing_files_are_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KINESYNC_GRAFANA_TOKEN_FILE", str(tmp_path / "absent"))
    with pytest.raises(SecretFileError, match=r"KINESYNC_GRAFANA_TOKEN_FILE: cannot read .*absent"):
        Settings()
    monkeypatch.delenv("KINESYNC_GRAFANA_TOKEN_FILE")
    monkeypatch.setenv("KINESYNC_SECRETS_DIR", str(tmp_path / "no-such-dir"))
    with pytest.raises(SecretFileError, match="KINESYNC_SECRETS_DIR"):
        Settings()


def test_secrets_from_files_are_masked_by_kinesync_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KINESYNC_INFLUX_PASSWORD_FILE", str(_write(tmp_path / "pw", "hunter2-influx")))
    shown = {env: current for env, current, _, _ in rows(Settings())}
    assert shown["KINESYNC_INFLUX_PASSWORD"] == "(set)"
    assert "hunter2-influx" not in repr(shown)


def test_webhook_signing_secret_from_file_and_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    event = AlertEvent("r", "s", "A", "firing", "m", 1)
    sub = new_subscription(SubscriptionIn(url="http://127.0.0.1:9/x", secret_env="COACH_HOOK_SECRET"), 0)
    monkeypatch.delenv("COACH_HOOK_SECRET", raising=False)
    with pytest.raises(Permanent, match="no signing secret"):
        webhook_request(sub, event)

    monkeypatch.setenv("COACH_HOOK_SECRET_FILE", str(_write(tmp_path / "hook", "hook-secret-from-file\n")))
    body, headers = webhook_request(sub, event)
    assert verify("hook-secret-from-file", headers, body)

    monkeypatch.delenv("COACH_HOOK_SECRET_FILE")
    folder = tmp_path / "secrets"
    folder.mkdir()
    _write(folder / "coach_hook_secret", "hook-secret-from-dir")
    monkeypatch.setenv("KINESYNC_SECRETS_DIR", str(folder))
    body, headers = webhook_request(sub, event)
    assert verify("hook-secret-from-dir", headers, body)
    assert not verify("hook-secret-from-file", headers, body)

    monkeypatch.setenv("COACH_HOOK_SECRET_FILE", str(tmp_path / "gone"))
    with pytest.raises(Permanent, match="COACH_HOOK_SECRET_FILE"):
        webhook_request(sub, event)


def test_read_secret_without_a_name_is_empty() -> None:
    assert read_secret(None) == "" and read_secret("") == ""
