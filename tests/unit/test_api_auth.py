from __future__ import annotations

import httpx
from fastapi import FastAPI

from kinesync.api.auth import ApiTokens, sha256_hex
from kinesync.api.deps import AdminDep, ViewerDep
from kinesync.settings import Settings


def app_with(tokens: ApiTokens) -> FastAPI:
    app = FastAPI()
    app.state.tokens = tokens

    @app.post("/w")
    async def write(role: AdminDep) -> dict:
        return {"role": role}

    @app.get("/r")
    async def read(role: ViewerDep) -> dict:
        return {"role": role}

    return app


async def call(app: FastAPI, method: str, path: str, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as c:
        return await c.request(method, path, headers=headers)


async def test_admin_writes_viewer_reads_and_strangers_do_neither() -> None:
    settings = Settings(api_admin_token="adm-secret", api_viewer_token_sha256=sha256_hex("view-secret"))
    app = app_with(ApiTokens.from_settings(settings))
    assert (await call(app, "POST", "/w", "adm-secret")).json() == {"role": "admin"}
    assert (await call(app, "POST", "/w", "view-secret")).status_code == 403
    assert (await call(app, "POST", "/w", "wrong")).status_code == 401
    r = await call(app, "POST", "/w")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert (await call(app, "GET", "/r", "view-secret")).json() == {"role": "viewer"}
    assert (await call(app, "GET", "/r", "adm-secret")).json() == {"role": "admin"}
    assert (await call(app, "GET", "/r")).status_code == 401
    assert "adm-secret" not in repr(settings) and "adm-secret" not in repr(ApiTokens.from_settings(settings))


async def test_without_tokens_writes_are_refused_with_a_hint_and_reads_are_open() -> None:
    app = app_with(ApiTokens())
    r = await call(app, "POST", "/w", "anything")
    assert r.status_code == 503 and "KINESYNC_API_ADMIN_TOKEN" in r.json()["detail"]
    assert (await call(app, "GET", "/r")).status_code == 200


async def test_open_reads_keep_the_wall_open_while_writes_need_the_admin_token() -> None:
    # kinesync run's demo: an admin token for the console, the wall and station views without one.
    app = app_with(ApiTokens.from_settings(Settings(api_admin_token="adm-secret", api_open_reads=True)))
    assert (await call(app, "GET", "/r")).status_code == 200
    assert (await call(app, "POST", "/w")).status_code == 401
    assert (await call(app, "POST", "/w", "adm-secret")).json() == {"role": "admin"}
    closed = app_with(ApiTokens.from_settings(Settings(api_admin_token="adm-secret")))
    assert (await call(closed, "GET", "/r")).status_code == 401
