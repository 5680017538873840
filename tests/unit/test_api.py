from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx
import pytest

from kinesync.api import LiveState, StationStatus, create_app
from kinesync.models import WindowMetric

T0 = 1_700_000_000_000_000_000
HOP = 250_000_000


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def metric(station: str = "s01", i: int = 0, **kw: object) -> WindowMetric:
    values: dict[str, object] = dict(
        station=station,
        athlete="ath1",
        team="red",
        exercise="jump",
        session="sess1",
        window_start_ns=T0 + i * HOP,
        window_end_ns=T0 + i * HOP + 2_000_000_000,
    )
    values.update(kw)
    return WindowMetric.model_validate(values)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def state(clock: Clock) -> LiveState:
    return LiveState(clock=clock)


@pytest.fixture
async def client(state: LiveState):
    app = create_app(state, title="Test <Wall>")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://wall") as c:
        yield c


async def test_health(client: httpx.AsyncClient, state: LiveState) -> None:
    r = await client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["stations"] == 0 and body["uptime_s"] >= 0
    state.update(metric("a"))
    state.update(metric("b"))
    assert (await client.get("/health")).json()["stations"] == 2


async def test_stations_contents_sorted(client: httpx.AsyncClient, state: LiveState, clock: Clock) -> None:
    assert (await client.get("/api/stations")).json() == []
    state.update(metric("s10", lag_ms=97.0, in_window=True, coupling=0.8, alignment=0.75,
                        peak_propulsive_force_n=1900.0))
    state.update(metric("s02", lag_ms=140.0, in_window=False, target_low_ms=90.0, target_high_ms=130.0))
    r = await client.get("/api/stations")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    rows = [StationStatus.model_validate(x) for x in r.json()]
    assert [s.station for s in rows] == ["s02", "s10"]
    s02, s10 = rows
    assert (s10.lag_ms, s10.in_window, s10.coupling, s10.alignment, s10.peak_propulsive_force_n) == (
        97.0,
        True,
        0.8,
        0.75,
        1900.0,
    )
    assert (s10.athlete, s10.team, s10.exercise) == ("ath1", "red", "jump")
    assert (s02.lag_ms, s02.in_window, s02.target_low_ms, s02.target_high_ms) == (140.0, False, 90.0, 130.0)
    assert not s10.stale and s10.age_s == 0.0
    assert datetime.fromisoformat(s10.updated_at) == datetime.fromtimestamp(clock.t, UTC)
    assert s10.updated_at.endswith("Z")


async def test_lag_is_kept_across_windows_without_rep(state: LiveState, clock: Clock) -> None:
    state.update(metric(i=0, lag_ms=101.0, in_window=True, coupling=0.9, alignment=0.5))
    clock.t += 1.0
    state.update(metric(i=4, lag_ms=None, alignment=None, peak_propulsive_force_n=800.0))
    clock.t += 1.0
    (s,) = state.snapshot()
    assert s.lag_ms == 101.0 and s.in_window is True and s.coupling == 0.9
    assert s.alignment == 0.5 and s.peak_propulsive_force_n == 800.0
    assert s.lag_age_s == 2.0 and s.age_s == 1.0  # lag is older than the record, and says so
    assert s.window_start_ns == T0 + 4 * HOP


async def test_new_athlete_drops_previous_numbers(state: LiveState) -> None:
    state.update(metric(i=0, lag_ms=101.0, in_window=True, alignment=0.9))
    state.update(metric(i=1, athlete="ath2", session="sess2"))
    (s,) = state.snapshot()
    assert s.athlete == "ath2" and s.lag_ms is None and s.alignment is None and s.in_window is None


async def test_old_windows_do_not_roll_back(state: LiveState, clock: Clock) -> None:
    assert state.update(metric(i=10, lag_ms=100.0))
    assert not state.update(metric(i=3, lag_ms=50.0))  # redelivered after a rebalance
    assert state.snapshot()[0].lag_ms == 100.0
    clock.t += 10  # station quiet, then a replay starts over: take it
    assert state.update(metric(i=3, lag_ms=50.0))
    assert state.snapshot()[0].lag_ms == 50.0


async def test_staleness(client: httpx.AsyncClient, state: LiveState, clock: Clock) -> None:
    state.update(metric("s01", lag_ms=100.0))
    clock.t += 5.0
    assert not (await client.get("/api/stations")).json()[0]["stale"]
    state.update(metric("s02", lag_ms=100.0))
    clock.t += 0.5
    rows = (await client.get("/api/stations")).json()
    assert [(r["station"], r["stale"], r["age_s"]) for r in rows] == [("s01", True, 5.5), ("s02", False, 0.5)]
    # a fresh record revives the tile
    state.update(metric("s01", i=1))
    assert not (await client.get("/api/stations")).json()[0]["stale"]


async def test_wall_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    page = r.text
    assert "<title>Test &lt;Wall&gt; · live wall</title>" in page
    assert "api/stations" in page and "POLL_MS = 500" in page
    assert "NO SIGNAL" in page and "kiosk" in page
    assert "STALE_S = 5" in page
    assert "clamp(" in page and "vmin" in page
    # nothing from the network: wall screens run on isolated floors
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
