"""People: athletes and their target windows per exercise, through the REST routes' own functions.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from kinesync.api import deps
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
from kinesync.api.routes import facility as rest
from kinesync.facility.models import (
    MAX_ID,
    MAX_LIMIT,
    AthleteIn,
    AthletePatch,
    Exercise,
    TargetIn,
)

# people


async def _athletes_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = deps.get_registry(request)
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
        athlete = await rest.create_athlete("admin", deps.get_registry(request), body)
    except HTTPException as exc:
        return await _athletes_page(request, s, exc.status_code, errors={"_": str(exc.detail)}, values=form)
    return await _athletes_page(request, s, message=f"Added {athlete.name}.")


async def _athlete_page(request: Request, s: ConsoleSession, code: int, **ctx: Any) -> HTMLResponse:
    ctx["analysis"] = await athlete_analysis(request, ctx["athlete"].id, ctx["sessions"])
    # the effective window for every exercise (GET /api/v1/athletes/{id}/targets)
    ctx["targets"] = await rest.list_targets(None, deps.get_registry(request), ctx["athlete"].id)
    for key, empty in (("target_errors", {}), ("target_values", {}), ("target_message", None),
                       ("target_error", None)):
        ctx.setdefault(key, empty)
    return render_page(request, "athlete.html", s, code, **ctx)


async def _athlete_ctx(request: Request, athlete_id: int) -> dict[str, Any]:
    """What the athlete page shows besides the analysis, with the athlete form showing the stored values."""
    reg = deps.get_registry(request)
    athlete = await rest.get_athlete(None, reg, athlete_id)
    return {"athlete": athlete, "teams": (await reg.list_teams(MAX_LIMIT, 0)).items, "errors": {},
            "values": {"name": athlete.name, "team_id": athlete.team_id or ""},
            "sessions": (await reg.list_sessions(50, 0, athlete_id=athlete_id)).items, "message": None}


@router.get("/athletes/{athlete_id}", response_class=HTMLResponse)
async def edit_athlete_form(request: Request, athlete_id: int) -> Response:
    try:
        s = need_session(request)
    except Redirect as r:
        return RedirectResponse(r.to, 303)
    reg = deps.get_registry(request)
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
    reg = deps.get_registry(request)
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
        await rest.delete_athlete("admin", deps.get_registry(request), athlete_id)
    except HTTPException as exc:
        return await _athletes_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _athletes_page(request, s, message=f"Deleted athlete {athlete_id}.")


# target windows per exercise


@router.post("/athletes/{athlete_id}/targets/{exercise}")
async def set_target(request: Request, athlete_id: int, exercise: str) -> Response:
    """Set (``action=set``) or reset (``action=reset``) the athlete's window for one exercise: the functions of
    ``PUT``/``DELETE /api/v1/athletes/{id}/targets/{exercise}`` (stored, and published when a session runs)."""
    s, form = await changing_request(request)
    try:
        ex = Exercise(exercise)
    except ValueError as exc:
        raise HTTPException(404, detail=f"unknown exercise {exercise!r}") from exc
    if not 1 <= athlete_id <= MAX_ID:
        raise HTTPException(404, detail=f"athlete {athlete_id} not found")
    ctx = await _athlete_ctx(request, athlete_id)  # 404 for an unknown athlete
    reg = deps.get_registry(request)
    values = {"low_ms": form.get("low_ms", "").strip(), "high_ms": form.get("high_ms", "").strip()}
    name = ex.value.replace("_", " ")
    try:
        if form.get("action") == "reset":
            target = await rest.reset_target("admin", reg, deps.get_session_sink(request), athlete_id, ex)
        else:
            try:
                body = TargetIn.model_validate({k: v or None for k, v in values.items()})
            except ValidationError as exc:
                errors = field_errors(exc)
                if "_" in errors:  # low ≥ high: a message about both, shown under the upper edge
                    errors.setdefault("high_ms", errors.pop("_"))
                return await _athlete_page(request, s, 422, **ctx, target_errors={ex.value: errors},
                                           target_values={ex.value: values},
                                           target_error=f"The {name} window was not saved: see below.")
            target = await rest.set_target("admin", reg, deps.get_session_sink(request), athlete_id, ex, body)
    except HTTPException as exc:
        return await _athlete_page(request, s, exc.status_code, **ctx, target_values={ex.value: values},
                                   target_error=str(exc.detail))
    text = "the facility default, " if target.default else ""
    return await _athlete_page(request, s, 200, **ctx,
                               target_message=f"{name.capitalize()}: {text}{target.low_ms:g}–{target.high_ms:g} ms.")
