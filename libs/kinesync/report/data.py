"""What a report is made of: the session's reps and, when there is one, its recording.

Two sources. A recording (C3D or CSV, as ``kinesync analyze`` reads them) is replayed through the
live analysis code, exactly as ``kinesync analyze`` does, so the report's numbers are analyze's
numbers, and the raw signals give the envelope and force plots. Storage (the SQLite store of a
``kinesync run``, or InfluxDB, read through ``kinesync.storage.readers.RepReader``) holds the
session's reps with downsampled envelopes but no force curve, so a report from storage has the lag
plot, the table and the envelopes only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from kinesync.models import RepMetric
from kinesync.sources.recording import Recording
from kinesync.storage.readers import RepReader
from kinesync.storage.sqlite import SqliteStore
from kinesync.streaming.offline import analyze_recording
from kinesync.training.load_velocity import AthleteLoadVelocity, athlete_load_velocity
from kinesync.training.priming import NoPrimingComparison, PrimingEffect, priming_effect


@dataclass
class SessionData:
    session: str
    reps: list[RepMetric]
    t0_ns: int
    target_ms: tuple[float, float] = (80.0, 120.0)
    athlete: str | None = None
    exercise: str | None = None
    station: str | None = None
    source: str = ""
    recording: Recording | None = None
    notes: list[str] = field(default_factory=list)
    priming: PrimingEffect | None = None
    load_velocity: AthleteLoadVelocity | None = None


def from_recording(
    rec: Recording, session: str, *, exercise: str | None = None, target_ms: tuple[float, float] = (80.0, 120.0),
    athlete: str | None = None,
) -> SessionData:
    # The same call as `kinesync analyze` (same defaults), so both give the same reps.
    result = analyze_recording(rec, exercise=exercise, target_ms=target_ms)
    return SessionData(session=session, reps=result.reps, t0_ns=rec.t0_ns, target_ms=target_ms, athlete=athlete,
                       exercise=exercise, station=rec.station, source=rec.source or "recording", recording=rec)


async def from_store(source: str | Path | RepReader, session: str) -> SessionData:
    """The session's stored reps, from a SQLite file (a path) or any RepReader (InfluxDB included)."""
    if isinstance(source, str | Path):
        async with SqliteStore(source) as store:
            return await from_reader(store, session)
    return await from_reader(source, session)


async def from_reader(source: RepReader, session: str) -> SessionData:
    reps = await source.session_reps(session)
    if not reps:
        raise LookupError(f"no reps of session {session!r} in {_label(source)}")
    first = reps[0]
    # The priming effect needs the athlete's earlier sessions as well (the baseline); those reps are
    # only counted, so they come without envelopes.
    history = await source.athlete_reps(first.athlete) if first.athlete is not None else reps
    data = SessionData(
        session=session, reps=reps, t0_ns=min(r.rep_start_ns for r in reps),
        target_ms=(first.target_low_ms, first.target_high_ms), athlete=first.athlete, exercise=first.exercise,
        station=first.station, source=f"storage {_label(source)}",
    )
    data.notes.append("force curve not shown: storage keeps per-rep force metrics, not the force signal; "
                      "give the session's recording (C3D or --emg/--force) for it")
    data.priming = session_priming(session, history, data.notes)
    data.load_velocity = session_load_velocity(data, history)
    return data


def session_load_velocity(data: SessionData, history: list[RepMetric]) -> AthleteLoadVelocity | None:
    """The athlete's load–velocity profile for the session's exercise over all their stored sessions,
    when the session measured bar velocity (loads read back from the bar power: storage has no plan)."""
    if data.athlete is None or data.exercise is None:
        return None
    if not any(r.mean_concentric_velocity_m_s is not None for r in data.reps):
        return None
    return athlete_load_velocity(data.athlete, data.exercise, history)


def _label(source: RepReader) -> str:
    if isinstance(source, SqliteStore):
        return str(source.path)
    store = getattr(source, "store", None)  # InfluxRepReader: the URL and database, no credentials
    return f"InfluxDB {store.url} db={store.database}" if store is not None else repr(source)


def session_priming(session: str, reps: list[RepMetric], notes: list[str]) -> PrimingEffect | None:
    """The session's priming effect when it had a priming block; why not in ``notes`` when it cannot be judged."""
    if not any(r.block_kind == "priming" for r in reps if r.session == session):
        return None
    try:
        return priming_effect(session, reps)
    except NoPrimingComparison as exc:
        notes.append(f"no priming effect: {exc}")
        return None
