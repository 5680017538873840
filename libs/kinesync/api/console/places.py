"""Places: teams and stations: list, create, edit, delete through the REST routes' own functions.

Validation is the facility models' (``TeamIn``, ``TeamPatch``, ``StationIn``, ``StationPatch``); the
forms go through ``forms.submit``, so messages stand next to their field, including the registry's
refusals that are about one (a team name or station id taken, a device of another station).
Teams and stations are edited in their own row of the list page; plan templates are in ``plans``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse

from kinesync.api import deps
from kinesync.api.console.core import (
    ConsoleSession,
    changing_request,
    looking,
    render_page,
    router,
)
from kinesync.api.console.forms import form_list, path_id, submit
from kinesync.api.routes import facility as rest
from kinesync.facility.models import (
    MAX_LIMIT,
    StationIn,
    StationPatch,
    TeamIn,
    TeamPatch,
)


def list_ctx(ctx: dict[str, Any]) -> dict[str, Any]:
    """What a list page with a form per row needs when nothing was posted."""
    for key in ("errors", "values", "edit_errors", "edit_values"):
        ctx.setdefault(key, {})
    ctx.setdefault("message", None)
    return ctx


# teams


async def _teams_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = deps.get_registry(request)
    athletes = (await reg.list_athletes(MAX_LIMIT, 0)).items
    counts = {t: sum(a.team_id == t for a in athletes) for t in {a.team_id for a in athletes}}
    return render_page(request, "teams.html", s, code, teams=(await reg.list_teams(MAX_LIMIT, 0)).items,
                       counts=counts, **list_ctx(ctx))


@router.get("/teams", response_class=HTMLResponse)
async def teams(request: Request) -> Response:
    s = looking(request)
    return s if not isinstance(s, ConsoleSession) else await _teams_page(request, s)


@router.post("/teams")
async def create_team(request: Request) -> Response:
    s, form = await changing_request(request)
    reg = deps.get_registry(request)
    return await submit(partial(_teams_page, request, s), TeamIn, {"name": form.get("name", "")},
                        lambda body: rest.create_team("admin", reg, body), lambda t: f"Added {t.name}.", values=form)


@router.post("/teams/{team_id}")
async def rename_team(request: Request, team_id: int) -> Response:
    s, form = await changing_request(request)
    reg = deps.get_registry(request)
    team_id = path_id(team_id, "team")
    return await submit(partial(_teams_page, request, s), TeamPatch, {"name": form.get("name", "")},
                        lambda body: rest.update_team("admin", reg, team_id, body),
                        lambda t: f"Renamed to {t.name}.", values=form, row=team_id)


@router.post("/teams/{team_id}/delete")
async def delete_team(request: Request, team_id: int) -> Response:
    s, _ = await changing_request(request)
    try:
        await rest.delete_team("admin", deps.get_registry(request), path_id(team_id, "team"))
    except HTTPException as exc:
        return await _teams_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _teams_page(request, s, message=f"Deleted team {team_id}.")


# stations


async def _stations_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = deps.get_registry(request)
    return render_page(request, "stations.html", s, code, stations=(await reg.list_stations(MAX_LIMIT, 0)).items,
                       **list_ctx(ctx))


@router.get("/stations", response_class=HTMLResponse)
async def stations(request: Request) -> Response:
    s = looking(request)
    return s if not isinstance(s, ConsoleSession) else await _stations_page(request, s)


def _station_fields(form: dict[str, str]) -> dict[str, Any]:
    return {"label": form.get("label", "").strip() or None, "bar_sensor": form.get("bar_sensor") == "on",
            "device_ids": form_list(form.get("device_ids"))}


@router.post("/stations")
async def create_station(request: Request) -> Response:
    s, form = await changing_request(request)
    reg = deps.get_registry(request)
    return await submit(partial(_stations_page, request, s), StationIn,
                        {"id": form.get("id", "").strip(), **_station_fields(form)},
                        lambda body: rest.create_station("admin", reg, body), lambda st: f"Added {st.id}.",
                        values=form)


@router.post("/stations/{station_id}")
async def edit_station(request: Request, station_id: str) -> Response:
    s, form = await changing_request(request)
    reg = deps.get_registry(request)
    # The REST function: a bar-sensor change is published with the station's running session (the sink is
    # asked for inside, so "no publisher" is a refusal on the page, after the input was checked).
    return await submit(partial(_stations_page, request, s), StationPatch, _station_fields(form),
                        lambda body: rest.update_station("admin", reg, deps.get_session_sink(request), station_id,
                                                         body),
                        lambda st: f"Saved {st.id}.", values=form, row=station_id)


@router.post("/stations/{station_id}/delete")
async def delete_station(request: Request, station_id: str) -> Response:
    s, _ = await changing_request(request)
    try:
        await rest.delete_station("admin", deps.get_registry(request), station_id)
    except HTTPException as exc:
        return await _stations_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _stations_page(request, s, message=f"Deleted {station_id}.")
