"""The personal target window of the athlete on a station (``/api/v1/stations/{id}/personal-window``).

The coach's choice (fixed or personal window, locked or learning) is kept per athlete and exercise
in the personal-window store and published with the station's running session, so the analyzer
follows it at once; the window judging now is the one the station's last record carried.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from kinesync.api.deps import AdminDep, LiveDep, PersonalStoreDep, RegistryDep, SinkDep, StationPath, ViewerDep
from kinesync.api.schemas.errors import PERSONAL_READ_ERRORS, WRITE_ERRORS
from kinesync.api.schemas.personal_windows import PersonalWindowIn, PersonalWindowOut
from kinesync.api.sessions_out import PublishError
from kinesync.api.state import LiveState
from kinesync.facility.models import Session
from kinesync.facility.personal import PersonalState
from kinesync.facility.registry import NotFound, Registry, assignment_of

router = APIRouter(prefix="/api/v1")


async def _running(reg: Registry, station_id: str) -> Session:
    try:
        st = await reg.get_station(station_id)
        if st.active_session_id is None:
            raise HTTPException(status.HTTP_409_CONFLICT, detail=f"no running session on station {station_id!r}")
        return await reg.get_session(st.active_session_id)
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc


def _live_window(live: LiveState, station: str) -> tuple[float | None, float | None, str | None]:
    s = live.status(station)
    return (None, None, None) if s is None else (s.target_low_ms, s.target_high_ms, s.target_source)


def _out(live: LiveState, station_id: str, s: Session, state: PersonalState) -> PersonalWindowOut:
    low, high, source = _live_window(live, station_id)
    return PersonalWindowOut(station=station_id, session_id=s.id, athlete_id=s.athlete_id, exercise=s.exercise.value,
                             mode=state.mode, locked=state.locked, low_ms=low, high_ms=high, source=source,
                             stored_low_ms=state.low_ms, stored_high_ms=state.high_ms)


@router.get("/stations/{station_id}/personal-window", response_model=PersonalWindowOut,
            tags=["targets"], responses=PERSONAL_READ_ERRORS)
async def get_personal_window(
    _: ViewerDep, station_id: StationPath, reg: RegistryDep, store: PersonalStoreDep, live: LiveDep
) -> PersonalWindowOut:
    """Mode, lock and current window of the athlete on this station (for this exercise)."""
    s = await _running(reg, station_id)
    state = await store.get(s.athlete_id, s.exercise.value)
    return _out(live, station_id, s, state)


@router.put("/stations/{station_id}/personal-window", response_model=PersonalWindowOut,
            tags=["targets"], responses=WRITE_ERRORS)
async def set_personal_window(
    _: AdminDep, station_id: StationPath, body: PersonalWindowIn, reg: RegistryDep, store: PersonalStoreDep,
    sink: SinkDep, live: LiveDep,
) -> PersonalWindowOut:
    """Switch between the fixed and the personal window, lock or unlock; the analyzer follows at once.

    Locking freezes the window the analyzer judges with now (as ``GET`` shows it); unlocking resumes
    learning from there."""
    s = await _running(reg, station_id)
    state = await store.get(s.athlete_id, s.exercise.value)
    update: dict[str, object] = {}
    if body.mode is not None:
        update["mode"] = body.mode
    if body.locked is not None:
        update["locked"] = body.locked
        low, high, source = _live_window(live, station_id)
        if body.locked and source in ("personal", "locked") and low is not None and high is not None:
            update.update(low_ms=low, high_ms=high)
    state = state.model_copy(update=update)
    await store.put(s.athlete_id, s.exercise.value, state)
    try:
        await sink.publish(assignment_of(s))
    except PublishError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail=f"saved but not yet published ({exc}); retried automatically") from exc
    return _out(live, station_id, s, state)
