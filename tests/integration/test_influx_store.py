"""InfluxV1Store against a real InfluxDB 1.x (Debian's influxd, started by the ``influxdb`` fixture)."""

from __future__ import annotations

import pytest

from kinesync.models import WindowMetric
from kinesync.storage import StorageRejected, StorageUnavailable
from kinesync.storage.influx_v1 import InfluxV1Store
from kinesync.storage.lineprotocol import TAG_KEYS
from tests.fixtures.influx import InfluxServer
from tests.unit.test_storage_sqlite import make_metrics

pytestmark = pytest.mark.integration


@pytest.fixture
async def store(influxdb: InfluxServer):
    s = InfluxV1Store(influxdb.url, influxdb.new_database())
    await s.start()
    yield s
    await s.close()


async def read_back(store: InfluxV1Store, where: str = "") -> list[WindowMetric]:
    body = await store.query(f"SELECT * FROM window_metrics {where} ORDER BY time")
    series = body["results"][0].get("series", [])
    out = []
    for s in series:
        cols = s["columns"]
        for row in s["values"]:
            rec = dict(zip(cols, row, strict=True))
            rec["window_start_ns"] = rec.pop("time")
            out.append(WindowMetric.model_validate({k: v for k, v in rec.items() if v is not None}))
    return out


async def count(store: InfluxV1Store) -> int:
    body = await store.query("SELECT COUNT(window_end_ns) FROM window_metrics")
    series = body["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def key(m: WindowMetric) -> tuple[str, int]:
    return m.station, m.window_start_ns


async def test_write_read_back_and_replay(store: InfluxV1Store) -> None:
    metrics = make_metrics(3, 2500)  # 7 500 points: two requests
    await store.write(metrics)
    assert await count(store) == 7500

    got = sorted(await read_back(store), key=key)
    assert got == sorted(metrics, key=key)  # every field, types included (ints stay ints, bools bools)

    await store.write(metrics)  # replay after a crash: same points, overwritten
    await store.write(metrics[:100])
    assert await count(store) == 7500


async def test_awkward_tag_values_round_trip(store: InfluxV1Store) -> None:
    odd = [
        WindowMetric(
            station="Rack 1,West=A",
            athlete="O'Neil, J.",
            team='U-19 "A"',
            exercise="push press",
            session="2026-11-02 am",
            window_start_ns=1_700_000_000_000_000_000 + i,
            window_end_ns=1_700_000_002_000_000_000 + i,
            lag_ms=100.0,
            in_window=True,
        )
        for i in range(3)
    ]
    await store.write(odd)
    got = await read_back(store, "WHERE station = 'Rack 1,West=A'")
    assert got == odd
    body = await store.query("SHOW TAG KEYS FROM window_metrics")
    assert {v[0] for v in body["results"][0]["series"][0]["values"]} <= set(TAG_KEYS)


async def test_bad_line_is_rejected_not_retried(store: InfluxV1Store) -> None:
    with pytest.raises(StorageRejected, match="unable to parse"):
        await store.write_lines(["window_metrics,station=x lag_ms=oops 1"])
    m = make_metrics(1, 1)[0]
    await store.write([m])
    # field types are fixed per shard: same time range as the existing point
    with pytest.raises(StorageRejected, match="field type conflict") as info:
        await store.write_lines([f"window_metrics,station=s00 lag_ms=1i {m.window_start_ns + 1}"])
    assert info.value.status == 400


async def test_unknown_retention_policy(influxdb: InfluxServer) -> None:
    # InfluxDB 1.6 answers 500 here. That is a configuration error an operator fixes, not bad data:
    # retrying (and holding Kafka offsets) is right, dropping the batch would not be.
    async with InfluxV1Store(influxdb.url, influxdb.new_database(), retention_policy="nope") as s:
        with pytest.raises(StorageUnavailable, match="retention policy not found"):
            await s.write(make_metrics(1, 1))


async def test_missing_database_is_rejected(influxdb: InfluxServer) -> None:
    async with InfluxV1Store(influxdb.url, influxdb.new_database()) as s:
        await s.query(f'DROP DATABASE "{s.database}"')
        with pytest.raises(StorageRejected, match="database not found") as info:
            await s.write(make_metrics(1, 1))
    assert info.value.status == 404


async def test_server_down_is_unavailable_and_recovers(store: InfluxV1Store, influxdb: InfluxServer) -> None:
    first = make_metrics(2, 10)
    await store.write(first)
    with influxdb.down():
        with pytest.raises(StorageUnavailable):
            await store.write(make_metrics(2, 10, t0=2_000_000_000_000_000_000))
        with pytest.raises(StorageUnavailable):
            await store.start()
    # same client after the restart: data kept, writes go through again
    await store.write(make_metrics(2, 10, t0=2_000_000_000_000_000_000))
    assert await count(store) == 40
