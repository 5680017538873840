"""The influxdb-client (InfluxDB 2/3) store writing into a real server that speaks /api/v2/write."""

from __future__ import annotations

import pytest

from kinesync.models import WindowMetric
from kinesync.settings import Settings
from kinesync.storage import open_store
from kinesync.storage.influx_v2 import InfluxV2Store
from tests.fixtures.victoria import VictoriaServer

pytestmark = pytest.mark.integration

T0 = 1_700_000_000_000_000_000
HOP = 250_000_000


def _metrics(n: int, station: str) -> list[WindowMetric]:
    return [
        WindowMetric(
            station=station, athlete="Athlete 07", team="first-team", exercise="back_squat", session="s-1",
            window_start_ns=T0 + i * HOP, window_end_ns=T0 + i * HOP + 2_000_000_000,
            lag_ms=80.0 + i * 0.5, coupling=0.75, in_window=i % 2 == 0, alignment=0.1 * (i % 10),
            body_weight_n=812.25, rfd_0_100_n_per_s=5400.0 + i, peak_propulsive_force_n=1900.5,
            emitted_at_ns=T0 + i * HOP + 2_100_000_000,
        )
        for i in range(n)
    ]


async def test_points_read_back_equal_what_was_sent(victoria: VictoriaServer) -> None:
    settings = Settings(influx_url=victoria.url, influx_version="2", influx_token="not-a-real-token",
                        influx_org="kinesync", influx_bucket="kinesync", batch_size=40)
    store = open_store(settings)
    assert isinstance(store, InfluxV2Store)
    sent = _metrics(100, "v2-station")  # 3 requests of at most 40 lines
    async with store:
        await store.write(sent)
    by_name = {
        s["metric"]["__name__"]: s for s in victoria.export('{__name__=~"window_metrics_.*",station="v2-station"}')
    }
    # VictoriaMetrics stores field f of measurement m as metric m_f, tags as labels, times in ms.
    for field, getter in (
        ("lag_ms", lambda m: m.lag_ms),
        ("coupling", lambda m: m.coupling),
        ("rfd_0_100_n_per_s", lambda m: m.rfd_0_100_n_per_s),
        ("alignment", lambda m: m.alignment),
        ("in_window", lambda m: 1.0 if m.in_window else 0.0),
    ):
        series = by_name[f"window_metrics_{field}"]
        assert series["metric"]["athlete"] == "Athlete 07"
        assert series["metric"]["exercise"] == "back_squat"
        got = dict(zip(series["timestamps"], series["values"], strict=True))
        want = {m.window_start_ns // 1_000_000: getter(m) for m in sent}
        assert got == pytest.approx(want), field


async def test_unreachable_server_is_unavailable() -> None:
    from kinesync.runtime.ports import free_port
    from kinesync.storage.base import StorageUnavailable

    async with InfluxV2Store(f"http://127.0.0.1:{free_port()}", token="t", org="o", bucket="b") as store:
        with pytest.raises(StorageUnavailable):
            await store.write(_metrics(1, "nowhere"))
