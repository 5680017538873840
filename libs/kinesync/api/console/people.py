"""People: athletes, through the REST routes' own functions.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from kinesync.api import facility_routes as rest
from kinesync.api.console.athlete import athlete_analysis
from kinesync.api.console.core import (
    ConsoleSession,
    Redirect,
    changing_request,
    field_errors,
    form_int,
    need_session,
    render_page,
    router,
)
from kinesync.api.facility_models import (
    MAX_LIMIT,
    AthleteIn,
    AthletePatch,
)

# people


async def _athletes_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = rest.registry_of(request)
    ctx.setdefault("errors", {})
    ctx.setdefault("values", {})
    ctx.setdefault("message", None)
    return render_page(request, "athletes.html", s, code, athletes=(await reg.list_athletes(MAX_LIMIT, 0)).items,
                 teams=(await reg.list_teams(MAX_LIMIT, 0)).items, **ctx)


@router.get("/athletes", response_class=HTMLResponse)
async def athletes(request: Request) -> Response:
    try:
        s = need_session(request)
    except Redirect as r:
        return RedirectResponse(r.to, 303)
    return await _athletes_page(request, s)


def _athlete_fields(form: dict[str, str]) -> dict[str, Any]:
    return {"name": form.get("name", ""), "team_id": form_int(form.get("team_id"))}


@router.post("/athletes")
async def create_athlete(request: Request) -> Response:
    s, form = await changing_request(request)
    values = _athlete_fields(form)
    try:
        body = AthleteIn.model_validate(values)
    except ValidationError as exc:
        return await _athletes_page(request, s, 422, errors=field_errors(exc), values=form)
    try:
        athlete = await rest.create_athlete("admin", rest.registry_of(request), body)
    except HTTPException as exc:
        return await _athletes_page(request, s, exc.status_code, errors={"_": str(exc.detail)}, values=form)
    return await _athletes_page(request, s, message=f"Added {athlete.name}.")


async def _athlete_page(request: Request, s: ConsoleSession, code: int, **ctx: Any) -> HTMLResponse:
    ctx["analysis"] = await athlete_analysis(request, ctx["athlete"].id, ctx["sessions"])
    return render_page(request, "athlete.html", s, code, **ctx)


@router.get("/athletes/{athlete_id}", response_class=HTMLResponse)
async def edit_athlete_form(request: Request, athlete_id: int) -> Response:
    try:
        s = need_session(request)
    except Redirect as r:
        return RedirectResponse(r.to, 303)
    reg = rest.registry_of(request)
    try:
        athlete = await rest.get_athlete(None, reg, athlete_id)
    except HTTPException as exc:
        raise HTTPException(exc.status_code, detail=exc.detail) from exc
    sessions = (await reg.list_sessions(50, 0, athlete_id=athlete_id)).items
    return await _athlete_page(request, s, 200, athlete=athlete, teams=(await reg.list_teams(MAX_LIMIT, 0)).items,
                               errors={}, values={"name": athlete.name, "team_id": athlete.team_id or ""},
                               sessions=sessions, message=None)


@router.post("/athletes/{athlete_id}")
async def edit_athlete(request: Request, athlete_id: int) -> Response:
    s, form = await changing_request(request)
    reg = rest.registry_of(request)
    athlete = await rest.get_athlete(None, reg, athlete_id)
    sessions = (await reg.list_sessions(50, 0, athlete_id=athlete_id)).items
    teams = (await reg.list_teams(MAX_LIMIT, 0)).items
    try:
        body = AthletePatch.model_validate(_athlete_fields(form))
    except ValidationError as exc:
        return await _athlete_page(request, s, 422, athlete=athlete, teams=teams, errors=field_errors(exc),
                     values=form, sessions=sessions, message=None)
    try:
        athlete = await rest.update_athlete("admin", reg, athlete_id, body)
    except HTTPException as exc:
        return await _athlete_page(request, s, exc.status_code, athlete=athlete, teams=teams,
                     errors={"_": str(exc.detail)}, values=form, sessions=sessions, message=None)
    return await _athlete_page(request, s, 200, athlete=athlete, teams=teams, errors={}, sessions=sessions,
                 values={"name": athlete.name, "team_id": athlete.team_id or ""}, message="Saved.")


@router.post("/athletes/{athlete_id}/delete")
async def delete_athlete(request: Request, athlete_id: int) -> Response:
    s, _form_values = await changing_request(request)
    try:
        await rest.delete_athlete("admin", rest.registry_of(request), athlete_id)
    except HTTPException as exc:
        return await _athletes_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _athletes_page(request, s, message=f"Deleted athlete {athlete_id}.")
