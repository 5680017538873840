"""/api/alerts: subscriptions and rules through the API, with admin/viewer tokens."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from kinesync.alerts.store import AlertStore
from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens
from kinesync.settings import Settings

ADMIN, VIEWER = "adm-secret", "view-secret"


@pytest.fixture
def app_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {id: sig, kind: signal_loss, seconds: 8}\n", encoding="utf-8")
    settings = Settings(api_admin_token=ADMIN, api_viewer_token=VIEWER, alerts_db=str(tmp_path / "alerts.db"),
                        alert_rules=str(rules))
    app = create_app(LiveState(), tokens=ApiTokens.from_settings(settings), settings=settings)
    app.state.alerts_store = AlertStore(settings.alerts_db)
    yield app
    app.state.alerts_store.close()


def client(app, token: str | None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t", headers=headers)


async def test_subscriptions_crud_secret_shown_once_and_tokens_enforced(app_store, caplog) -> None:
    body = {"url": "https://coach.example.org/hook?token=abc", "format": "generic", "teams": "first-team",
            "min_severity": "warning", "name": "S&C"}
    async with client(app_store, ADMIN) as admin, client(app_store, VIEWER) as viewer, client(app_store, None) as anon:
        assert (await viewer.post("/api/alerts/subscriptions", json=body)).status_code == 403
        assert (await anon.post("/api/alerts/subscriptions", json=body)).status_code == 401
        assert (await anon.get("/api/alerts/subscriptions")).status_code == 401
        created = await admin.post("/api/alerts/subscriptions", json=body)
        assert created.status_code == 201, created.text
        sub = created.json()
        assert len(sub["secret"]) >= 40 and sub["teams"] == ["first-team"] and sub["signed"]
        listed = (await viewer.get("/api/alerts/subscriptions")).json()
        assert [s["id"] for s in listed] == [sub["id"]]
        assert "secret" not in listed[0] and listed[0]["url"] == "https://coach.example.org/…"
        one = (await viewer.get(f"/api/alerts/subscriptions/{sub['id']}")).json()
        assert "secret" not in one and "token=abc" not in str(one)
        slack = await admin.post("/api/alerts/subscriptions",
                                 json={"url": "https://hooks.slack.com/services/T/B/X", "format": "slack"})
        assert slack.status_code == 201 and slack.json()["secret"] is None
        bad = await admin.post("/api/alerts/subscriptions", json={"url": "not a url"})
        assert bad.status_code == 422
        bad = await admin.post("/api/alerts/subscriptions", json={**body, "min_severity": "panic"})
        assert bad.status_code == 422
        assert (await viewer.delete(f"/api/alerts/subscriptions/{sub['id']}")).status_code == 403
        assert (await admin.delete(f"/api/alerts/subscriptions/{sub['id']}")).status_code == 204
        assert (await admin.delete(f"/api/alerts/subscriptions/{sub['id']}")).status_code == 404
    assert sub["secret"] not in caplog.text
    # The alerts service reads the same database (and can sign with the stored secret).
    store: AlertStore = app_store.state.alerts_store
    [left] = store.subscriptions()
    assert left.format == "slack"


async def test_rules_crud_merges_file_and_api_rules(app_store) -> None:
    rule = {"id": "lag-drift", "kind": "lag_out_of_window", "n": 4, "m": 6, "severity": "critical",
            "scope": {"teams": ["first-team"]}, "cooldown_s": 120}
    async with client(app_store, ADMIN) as admin, client(app_store, VIEWER) as viewer:
        listed = (await viewer.get("/api/alerts/rules")).json()
        assert [(r["source"], r["rule"]["id"]) for r in listed] == [("file", "sig")]
        assert (await viewer.post("/api/alerts/rules", json=rule)).status_code == 403
        r = await admin.post("/api/alerts/rules", json=rule)
        assert r.status_code == 201, r.text
        assert (await admin.post("/api/alerts/rules", json=rule)).status_code == 409
        bad = await admin.post("/api/alerts/rules", json={**rule, "id": "x", "n": 9})
        assert bad.status_code == 422
        bad = await admin.post("/api/alerts/rules", json={"id": "y", "kind": "transfer_drop", "drop": 5})
        assert bad.status_code == 422
        put = await admin.put("/api/alerts/rules/lag-drift", json={**rule, "n": 2})
        assert put.status_code == 200 and put.json()["rule"]["n"] == 2
        assert (await admin.put("/api/alerts/rules/other", json=rule)).status_code == 422
        listed = (await viewer.get("/api/alerts/rules")).json()
        assert {(r["source"], r["rule"]["id"]) for r in listed} == {("file", "sig"), ("api", "lag-drift")}
        assert (await admin.delete("/api/alerts/rules/sig")).status_code == 404  # file rules are read-only
        assert (await admin.delete("/api/alerts/rules/lag-drift")).status_code == 204
        assert (await viewer.get("/api/alerts/deliveries?status=pending")).json() == []
