"""Property-based test of the whole HTTP API from its own OpenAPI document (schemathesis).

Every operation gets generated valid and invalid requests, once with the admin token and once with
the viewer token, against the real app in-process (registry on SQLite, session changes kept in a
list). No response may be a 5xx, and every response must be one the OpenAPI document declares,
with the declared content type and schema: the document has to tell the truth.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens
from kinesync.api.registry import Registry
from kinesync.api.sessions_out import ListSessionSink
from kinesync.models import WindowMetric
from kinesync.settings import Settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

TOKENS = {"admin": "adm-token-for-fuzzing", "viewer": "viewer-token-for-fuzzing"}


def _app():
    state = LiveState()
    state.update(WindowMetric(station="station-01", athlete="Ada", window_start_ns=0, window_end_ns=1, lag_ms=95.0,
                              in_window=True, transfer_index=0.6))
    app = create_app(state, tokens=ApiTokens.from_settings(
        Settings(api_admin_token=TOKENS["admin"], api_viewer_token=TOKENS["viewer"])))
    folder = Path(tempfile.mkdtemp(prefix="kinesync-fuzz-"))
    # The alerts router (mounted on the same app) keeps its own SQLite file: keep it out of the cwd.
    app.state.alerts_settings = Settings(alerts_db=str(folder / "alerts.db"))
    app.state.registry = Registry(folder / "registry.db")
    app.state.session_sink = ListSessionSink()
    return app


APP = _app()
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)
CLIENT = TestClient(APP, raise_server_exceptions=False)  # an exception must show up as the 500 it is


@pytest.fixture(scope="module", autouse=True)
def _seed() -> None:
    # Some real rows, so generated ids 1..3 also reach the success paths, not only 404.
    from kinesync.api.facility_models import AthleteIn, SessionIn, StationIn, TeamIn

    reg: Registry = APP.state.registry

    async def seed() -> None:
        team = await reg.create_team(TeamIn(name="Seed team"))
        for i in range(3):
            await reg.create_athlete(AthleteIn(name=f"Seed {i}", team_id=team.id))
            await reg.create_station(StationIn(id=f"station-0{i + 1}"))
        await reg.start_session(SessionIn(station_id="station-01", athlete_id=1, exercise="back_squat"))

    asyncio.run(seed())


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize("role", ["admin", "viewer"])
@schema.parametrize()
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_server_error_and_responses_match_the_document(case, role: str) -> None:
    # Sent through Starlette's (httpx) TestClient rather than case.call(): schemathesis' own ASGI
    # transport goes through requests, which breaks when urllib3-future shadows urllib3.
    kwargs = case.as_transport_kwargs(base_url="http://testserver",
                                      headers={"Authorization": f"Bearer {TOKENS[role]}"})
    method, url = kwargs.pop("method"), kwargs.pop("url")
    body = {k: kwargs[k] for k in ("json", "data", "content") if k in kwargs}
    if "data" in body:
        body = {"content": body.pop("data")}
    response = CLIENT.request(method, url, headers=kwargs.get("headers"), params=kwargs.get("params"), **body)
    # The facility API must tell the truth in full; other routers mounted on the same app (alerts)
    # are held to the 5xx rule here and to their own tests for the rest.
    ours = case.operation.path.startswith(("/api/v1/", "/api/stations", "/health"))
    case.validate_response(response, checks=CHECKS if ours else [not_a_server_error])
