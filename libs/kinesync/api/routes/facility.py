"""Teams, athletes, their target windows, and stations (``/api/v1``).

Writes need the admin token, reads the viewer (or admin) token (``kinesync.api.deps``). A change that
touches a running session (a target window, a station's bar sensor) is published with it at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from kinesync.api.deps import (
    AdminDep,
    AthleteId,
    Limit,
    Offset,
    RegistryDep,
    SinkDep,
    StationPath,
    TeamId,
    ViewerDep,
)
from kinesync.api.http_errors import publish_session, registry_errors
from kinesync.api.schemas.errors import READ_ERRORS, WRITE_ERRORS
from kinesync.facility.models import (
    DEFAULT_LIMIT,
    MAX_ID,
    Athlete,
    AthleteIn,
    AthletePatch,
    Exercise,
    Page,
    Station,
    StationIn,
    StationPatch,
    Target,
    TargetIn,
    Team,
    TeamIn,
    TeamPatch,
)

router = APIRouter(prefix="/api/v1")


# teams


@router.get("/teams", response_model=Page[Team], responses=READ_ERRORS, tags=["teams"])
async def list_teams(_: ViewerDep, reg: RegistryDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0) -> Page[Team]:
    return await reg.list_teams(limit, offset)


@router.post("/teams", status_code=201, response_model=Team, responses=WRITE_ERRORS, tags=["teams"])
async def create_team(_: AdminDep, reg: RegistryDep, body: TeamIn) -> Team:
    with registry_errors():
        return await reg.create_team(body)


@router.get("/teams/{team_id}", response_model=Team, responses=READ_ERRORS, tags=["teams"])
async def get_team(_: ViewerDep, reg: RegistryDep, team_id: TeamId) -> Team:
    with registry_errors():
        return await reg.get_team(team_id)


@router.patch("/teams/{team_id}", response_model=Team, responses=WRITE_ERRORS, tags=["teams"])
async def update_team(_: AdminDep, reg: RegistryDep, team_id: TeamId, body: TeamPatch) -> Team:
    with registry_errors():
        return await reg.update_team(team_id, body)


@router.delete("/teams/{team_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS, tags=["teams"])
async def delete_team(_: AdminDep, reg: RegistryDep, team_id: TeamId) -> Response:
    with registry_errors():
        await reg.delete_team(team_id)
    return Response(status_code=204)


# athletes


@router.get("/athletes", response_model=Page[Athlete], responses=READ_ERRORS, tags=["athletes"])
async def list_athletes(
    _: ViewerDep, reg: RegistryDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0,
    team_id: Annotated[int | None, Query(ge=1, le=MAX_ID, description="only this team")] = None,
) -> Page[Athlete]:
    return await reg.list_athletes(limit, offset, team_id)


@router.post("/athletes", status_code=201, response_model=Athlete, responses=WRITE_ERRORS, tags=["athletes"])
async def create_athlete(_: AdminDep, reg: RegistryDep, body: AthleteIn) -> Athlete:
    with registry_errors():
        return await reg.create_athlete(body)


@router.get("/athletes/{athlete_id}", response_model=Athlete, responses=READ_ERRORS, tags=["athletes"])
async def get_athlete(_: ViewerDep, reg: RegistryDep, athlete_id: AthleteId) -> Athlete:
    with registry_errors():
        return await reg.get_athlete(athlete_id)


@router.patch("/athletes/{athlete_id}", response_model=Athlete, responses=WRITE_ERRORS, tags=["athletes"])
async def update_athlete(_: AdminDep, reg: RegistryDep, athlete_id: AthleteId, body: AthletePatch) -> Athlete:
    with registry_errors():
        return await reg.update_athlete(athlete_id, body)


@router.delete("/athletes/{athlete_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS,
            tags=["athletes"])
async def delete_athlete(_: AdminDep, reg: RegistryDep, athlete_id: AthleteId) -> Response:
    with registry_errors():
        await reg.delete_athlete(athlete_id)
    return Response(status_code=204)


# target windows


@router.get("/athletes/{athlete_id}/targets", response_model=list[Target], responses=READ_ERRORS, tags=["targets"])
async def list_targets(_: ViewerDep, reg: RegistryDep, athlete_id: AthleteId) -> list[Target]:
    """The effective target window for every exercise (the facility default where none is set)."""
    with registry_errors():
        return await reg.list_targets(athlete_id)


@router.get("/athletes/{athlete_id}/targets/{exercise}", response_model=Target, responses=READ_ERRORS,
         tags=["targets"])
async def get_target(_: ViewerDep, reg: RegistryDep, athlete_id: AthleteId, exercise: Exercise) -> Target:
    with registry_errors():
        return await reg.get_target(athlete_id, exercise)


@router.put("/athletes/{athlete_id}/targets/{exercise}", response_model=Target, responses=WRITE_ERRORS,
         tags=["targets"])
async def set_target(
    _: AdminDep, reg: RegistryDep, sink: SinkDep, athlete_id: AthleteId, exercise: Exercise, body: TargetIn
) -> Target:
    """Set the athlete's target lag window for an exercise; a running session picks it up at once."""
    with registry_errors():
        target, running = await reg.set_target(athlete_id, exercise, body)
    if running is not None:
        await publish_session(sink, running)
    return target


@router.delete("/athletes/{athlete_id}/targets/{exercise}", response_model=Target, responses=WRITE_ERRORS,
            tags=["targets"])
async def reset_target(
    _: AdminDep, reg: RegistryDep, sink: SinkDep, athlete_id: AthleteId, exercise: Exercise
) -> Target:
    """Back to the facility default; returns the target now in force."""
    with registry_errors():
        target, running = await reg.set_target(athlete_id, exercise, None)
    if running is not None:
        await publish_session(sink, running)
    return target


# stations


@router.get("/stations", response_model=Page[Station], responses=READ_ERRORS, tags=["stations"])
async def list_stations(
    _: ViewerDep, reg: RegistryDep, limit: Limit = DEFAULT_LIMIT, offset: Offset = 0
) -> Page[Station]:
    return await reg.list_stations(limit, offset)


@router.post("/stations", status_code=201, response_model=Station, responses=WRITE_ERRORS, tags=["stations"])
async def create_station(_: AdminDep, reg: RegistryDep, body: StationIn) -> Station:
    """409 when the id exists, or when one of ``device_ids`` already belongs to another station."""
    with registry_errors():
        return await reg.create_station(body)


@router.get("/stations/{station_id}", response_model=Station, responses=READ_ERRORS, tags=["stations"])
async def get_station(_: ViewerDep, reg: RegistryDep, station_id: StationPath) -> Station:
    with registry_errors():
        return await reg.get_station(station_id)


@router.patch("/stations/{station_id}", response_model=Station, responses=WRITE_ERRORS, tags=["stations"])
async def update_station(_: AdminDep, reg: RegistryDep, sink: SinkDep, station_id: StationPath,
                         body: StationPatch) -> Station:
    """A change of ``bar_sensor`` is published with the station's running session, if any. ``device_ids``
    replaces the station's list (``[]`` clears it); a device of another station is a 409."""
    with registry_errors():
        station, running = await reg.update_station(station_id, body)
    if running is not None:
        await publish_session(sink, running)
    return station


@router.delete("/stations/{station_id}", status_code=204, response_class=Response, responses=WRITE_ERRORS,
            tags=["stations"])
async def delete_station(_: AdminDep, reg: RegistryDep, station_id: StationPath) -> Response:
    with registry_errors():
        await reg.delete_station(station_id)
    return Response(status_code=204)
