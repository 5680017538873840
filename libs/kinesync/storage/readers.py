"""Reading reps (and the latest windows) back: one interface over the embedded SQLite store and InfluxDB.

The session report, the priming effect and the trends read reps through ``RepReader``, so they work
on whichever database the writer fills. ``open_rep_reader`` (next to ``open_store``) picks it from
the settings.

InfluxDB keeps a rep as one ``reps`` point (tags, fields, the peak time) and its downsampled envelopes
as ``emg_envelope`` points (docs/storage.md); ``InfluxRepReader`` rebuilds ``RepMetric`` records from
both with InfluxQL on the 1.x ``/query`` endpoint, which InfluxDB 2 (through a DBRP mapping) and 3
answer too. Both readers are also a ``RecentReader``: a restarted API starts its wall from the last
minute of stored windows, and its cues and set lags from the last minutes of stored reps.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Protocol, Self, runtime_checkable

from kinesync.models import RepMetric, WindowMetric
from kinesync.storage.influx_v1 import InfluxV1Store
from kinesync.storage.lineprotocol import ENVELOPE_MEASUREMENT, MEASUREMENT, REP_MEASUREMENT

if TYPE_CHECKING:
    from kinesync.settings import Settings

# The writer's envelope grid (kinesync.streaming.station.ENVELOPE_STEP_NS); only needed to rebuild an
# envelope of a single stored bin, whose spacing the stored times cannot tell.
ENVELOPE_STEP_NS = 50_000_000
QUERY_CHUNK_ROWS = 10_000


@runtime_checkable
class RepReader(Protocol):
    """Reps as the writer stored them, in time order (rep peak, then station)."""

    async def session_reps(self, session: str) -> list[RepMetric]:
        """Every rep of one session, with its stored downsampled envelopes."""
        ...

    async def athlete_reps(
        self, athlete: str, *, since_ns: int | None = None, until_ns: int | None = None
    ) -> list[RepMetric]:
        """The athlete's reps with ``since_ns <= rep_peak_ns < until_ns`` (either end open when None),
        without envelopes (the priming effect and the trends use the per-rep numbers only)."""
        ...

    async def close(self) -> None: ...


@runtime_checkable
class RecentReader(Protocol):
    """The last minutes as the writer stored them: what a restarted API starts its wall and its cues from
    (``kinesync.api.workers.seed_from_store``)."""

    async def recent_windows(self, since_ns: int) -> list[WindowMetric]:
        """Every station's windows starting at or after ``since_ns``, by station then window start."""
        ...

    async def recent_reps(self, since_ns: int) -> list[RepMetric]:
        """Every station's reps with ``rep_peak_ns >= since_ns``, in time order (rep peak, then station),
        without envelopes."""
        ...


def without_envelopes(reps: Iterable[RepMetric]) -> list[RepMetric]:
    return [r.model_copy(update={"envelope_t0_ns": None, "envelope_step_ns": None, "envelopes_uv": {}})
            if r.envelopes_uv or r.envelope_t0_ns is not None else r for r in reps]


def influxql_string(value: str) -> str:
    """A single-quoted InfluxQL string literal (tag values in WHERE)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _ident(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _rows(chunks: Sequence[dict[str, Any]]) -> Iterator[tuple[dict[str, str], dict[str, Any]]]:
    """(series tags, row as column → value) of every row in chunked InfluxDB answers."""
    for chunk in chunks:
        for result in chunk.get("results", []):
            for series in result.get("series", []):
                tags = series.get("tags") or {}
                columns = series["columns"]
                for values in series.get("values", []):
                    yield tags, dict(zip(columns, values, strict=True))


def rep_of_row(row: dict[str, Any]) -> RepMetric:
    """A ``reps`` row of ``SELECT *`` (tags and fields as columns, time in ns) as a RepMetric."""
    # Points written by earlier versions carry fields RepMetric has since retired (SELECT * returns every
    # field the measurement ever had): they are dropped, as JSON decoding of a RepMetric drops them.
    values = {k: v for k, v in row.items() if v is not None and k not in RepMetric.RETIRED_FIELDS}
    values["rep_peak_ns"] = values.pop("time")
    values["flags"] = [f for f in str(values.get("flags", "")).split(",") if f]
    return RepMetric.model_validate(values)


def window_of_row(row: dict[str, Any]) -> WindowMetric:
    """A ``window_metrics`` row of ``SELECT *`` (tags and fields as columns, time in ns) as a WindowMetric."""
    values = {k: v for k, v in row.items() if v is not None and k not in WindowMetric.RETIRED_FIELDS}
    values["window_start_ns"] = values.pop("time")
    values["flags"] = [f for f in str(values.get("flags", "")).split(",") if f]
    return WindowMetric.model_validate(values)


def _envelope(times: list[int], values: list[float], lo_ns: int, hi_ns: int) -> tuple[int, int, list[float]] | None:
    """(t0, step, values) of the stored bins with ``lo_ns < t`` and ``t + step < hi_ns``."""
    a = bisect.bisect_right(times, lo_ns)
    b = bisect.bisect_left(times, hi_ns)
    inside = list(zip(times[a:b], values[a:b], strict=True))
    if len(inside) > 1:
        step = min(t1 - t0 for (t0, _), (t1, _) in pairwise(inside))
    else:
        step = ENVELOPE_STEP_NS
    # The writer drops the partial bin at each edge of the window, so a bin starting one step before
    # the window end belongs to a neighbouring rep whose window overlaps this one.
    inside = [p for p in inside if p[0] + step < hi_ns]
    if not inside:
        return None
    t0 = inside[0][0]
    # NaN bins are not stored (line protocol has no NaN): put them back as NaN so positions hold.
    out = [math.nan] * ((inside[-1][0] - t0) // step + 1)
    for t, v in inside:
        out[(t - t0) // step] = float(v)
    return t0, step, out


class InfluxRepReader:
    """RepReader on InfluxDB through InfluxQL on ``/query`` (1.x; 2 and 3 through their 1.x API)."""

    def __init__(self, store: InfluxV1Store, *, chunk_rows: int = QUERY_CHUNK_ROWS) -> None:
        self.store = store
        self.chunk_rows = chunk_rows

    @classmethod
    def from_settings(cls, settings: Settings) -> InfluxRepReader:
        if not settings.influx_url:
            raise ValueError("no InfluxDB URL configured (KINESYNC_INFLUX_URL)")
        if settings.influx_version == "2":
            if settings.influx_token is None:
                raise ValueError("reading reps from InfluxDB 2/3 needs KINESYNC_INFLUX_TOKEN (a token with read "
                                 "access to the bucket)")
            # The 1.x query API of InfluxDB 2 finds the bucket through a DBRP mapping whose database name
            # is the bucket's name (docs/storage.md, "Reading reps back"); InfluxDB 3 takes the database.
            return cls(InfluxV1Store(settings.influx_url, settings.influx_bucket, token=settings.influx_token))
        return cls(InfluxV1Store(
            settings.influx_url, settings.influx_database, retention_policy=settings.influx_retention_policy,
            username=settings.influx_username, password=settings.influx_password,
        ))

    def __repr__(self) -> str:
        return f"InfluxRepReader({self.store!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.store.close()

    async def _select(self, influxql: str) -> list[dict[str, Any]]:
        return await self.store.query_chunks(influxql, chunk_size=self.chunk_rows)

    async def _all(self, measurement: str, where: str) -> list[dict[str, Any]]:
        """Every row of ``SELECT * FROM measurement WHERE where``, tags and fields as columns."""
        return [row for _, row in _rows(await self._select(f"SELECT * FROM {_ident(measurement)} WHERE {where}"))]

    async def _reps(self, where: str) -> list[RepMetric]:
        reps = [rep_of_row(row) for row in await self._all(REP_MEASUREMENT, where)]
        reps.sort(key=lambda r: (r.rep_peak_ns, r.station))
        return reps

    async def session_reps(self, session: str) -> list[RepMetric]:
        where = f"{_ident('session')} = {influxql_string(session)}"
        reps = await self._reps(where)
        if not reps:
            return reps
        chunks = await self._select(
            f"SELECT {_ident('envelope')} FROM {_ident(ENVELOPE_MEASUREMENT)} WHERE {where} "
            f"GROUP BY {_ident('station')}, {_ident('muscle')}")
        # station → muscle → (times, values), in time order (InfluxDB answers a series in time order,
        # and a series split over chunks continues where the last chunk stopped).
        series: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
        for tags, row in _rows(chunks):
            if row.get("envelope") is not None:
                times, values = series.setdefault(tags.get("station", ""), {}).setdefault(
                    tags.get("muscle", ""), ([], []))
                times.append(int(row["time"]))
                values.append(float(row["envelope"]))
        return [self._with_envelopes(r, series.get(r.station, {})) for r in reps]

    @staticmethod
    def _with_envelopes(rep: RepMetric, muscles: dict[str, tuple[list[int], list[float]]]) -> RepMetric:
        if not muscles or rep.window_end_ns is None:
            return rep
        envelopes: dict[str, list[float]] = {}
        t0 = step = None
        for muscle, (times, values) in muscles.items():
            got = _envelope(times, values, rep.window_start_ns, rep.window_end_ns)
            if got is not None:
                t0, step, envelopes[muscle] = got
        if not envelopes:
            return rep
        return rep.model_copy(update={"envelope_t0_ns": t0, "envelope_step_ns": step, "envelopes_uv": envelopes})

    async def recent_windows(self, since_ns: int) -> list[WindowMetric]:
        windows = [window_of_row(row) for row in await self._all(MEASUREMENT, f"time >= {int(since_ns)}")]
        windows.sort(key=lambda m: (m.station, m.window_start_ns))
        return windows

    async def recent_reps(self, since_ns: int) -> list[RepMetric]:
        return await self._reps(f"time >= {int(since_ns)}")

    async def athlete_reps(
        self, athlete: str, *, since_ns: int | None = None, until_ns: int | None = None
    ) -> list[RepMetric]:
        where = [f"{_ident('athlete')} = {influxql_string(athlete)}"]
        if since_ns is not None:
            where.append(f"time >= {int(since_ns)}")
        if until_ns is not None:
            where.append(f"time < {int(until_ns)}")
        return await self._reps(" AND ".join(where))


def open_rep_reader(settings: Settings) -> RepReader:
    """InfluxDB when a URL is configured (as ``open_store`` decides), else the embedded SQLite file."""
    if settings.influx_url:
        return InfluxRepReader.from_settings(settings)
    from kinesync.storage.sqlite import SqliteStore

    return SqliteStore(settings.sqlite_path)
