"""People: athletes (name, team, body mass, dominant side) and their target windows per exercise, through
the REST routes' own functions; the forms go through ``forms.submit`` like those of places.
"""

from __future__ import annotations

from functools import partial
from typing import Any, get_args

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from kinesync.api import deps
from kinesync.api.console.athlete import athlete_analysis
from kinesync.api.console.core import (
    ConsoleSession,
    Redirect,
    changing_request,
    need_session,
    render_page,
    router,
)
from kinesync.api.console.forms import field_errors, form_float, form_int, path_id, submit
from kinesync.api.routes import facility as rest
from kinesync.facility.models import (
    MAX_LIMIT,
    Athlete,
    AthleteIn,
    AthletePatch,
    Exercise,
    Side,
    TargetIn,
)

SIDES = get_args(Side)

# people


async def _athletes_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = deps.get_registry(request)
    ctx.setdefault("errors", {})
    ctx.setdefault("values", {})
    ctx.setdefault("message", None)
    return render_page(request, "athletes.html", s, code, athletes=(await reg.list_athletes(MAX_LIMIT, 0)).items,
                       teams=(await reg.list_teams(MAX_LIMIT, 0)).items, sides=SIDES, **ctx)


@router.get("/athletes", response_class=HTMLResponse)
async def athletes(request: Request) -> Response:
    try:
        s = need_session(request)
    except Redirect as r:
        return RedirectResponse(r.to, 303)
    return await _athletes_page(request, s)


def _athlete_fields(form: dict[str, str]) -> dict[str, Any]:
    # Every field, blank ones as null: the edit form shows all stored values, so a cleared box clears the value.
    return {"name": form.get("name", ""), "team_id": form_int(form.get("team_id")),
            "body_mass_kg": form_float(form.get("body_mass_kg")), "dominant_side": form.get("dominant_side") or None}


def _athlete_values(a: Athlete) -> dict[str, str]:
    return {"name": a.name, "team_id": str(a.team_id or ""), "dominant_side": a.dominant_side or "",
            "body_mass_kg": "" if a.body_mass_kg is None else f"{a.body_mass_kg:g}"}


@router.post("/athletes")
async def create_athlete(request: Request) -> Response:
    s, form = await changing_request(request)
    reg = deps.get_registry(request)
    return await submit(partial(_athletes_page, request, s), AthleteIn, _athlete_fields(form),
                        lambda body: rest.create_athlete("admin", reg, body), lambda a: f"Added {a.name}.", values=form)


async def _athlete_page(request: Request, s: ConsoleSession, athlete_id: int, code: int = 200,
                        **ctx: Any) -> HTMLResponse:
    """The athlete page, read fresh from the registry (404 for an unknown athlete); the form shows the stored
    values unless ``ctx`` brings what was typed."""
    reg = deps.get_registry(request)
    athlete = await rest.get_athlete(None, reg, path_id(athlete_id, "athlete"))
    sessions = (await reg.list_sessions(50, 0, athlete_id=athlete_id)).items
    for key, empty in (("errors", {}), ("message", None), ("target_errors", {}), ("target_values", {}),
                       ("target_message", None), ("target_error", None)):
        ctx.setdefault(key, empty)
    ctx.setdefault("values", _athlete_values(athlete))
    ctx["analysis"] = await athlete_analysis(request, athlete_id, sessions)
    # the effective window for every exercise (GET /api/v1/athletes/{id}/targets)
    ctx["targets"] = await rest.list_targets(None, reg, athlete_id)
    return render_page(request, "athlete.html", s, code, athlete=athlete, sessions=sessions, sides=SIDES,
                       teams=(await reg.list_teams(MAX_LIMIT, 0)).items, **ctx)


@router.get("/athletes/{athlete_id}", response_class=HTMLResponse)
async def edit_athlete_form(request: Request, athlete_id: int) -> Response:
    try:
        s = need_session(request)
    except Redirect as r:
        return RedirectResponse(r.to, 303)
    return await _athlete_page(request, s, athlete_id)


@router.post("/athletes/{athlete_id}")
async def edit_athlete(request: Request, athlete_id: int) -> Response:
    s, form = await changing_request(request)
    reg, athlete_id = deps.get_registry(request), path_id(athlete_id, "athlete")
    return await submit(partial(_athlete_page, request, s, athlete_id), AthletePatch, _athlete_fields(form),
                        lambda body: rest.update_athlete("admin", reg, athlete_id, body), lambda _: "Saved.",
                        values=form)


@router.post("/athletes/{athlete_id}/delete")
async def delete_athlete(request: Request, athlete_id: int) -> Response:
    s, _form_values = await changing_request(request)
    try:
        await rest.delete_athlete("admin", deps.get_registry(request), path_id(athlete_id, "athlete"))
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
    athlete_id = path_id(athlete_id, "athlete")
    page = partial(_athlete_page, request, s, athlete_id)  # a 404 for an unknown athlete, whatever happened
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
                return await page(422, target_errors={ex.value: errors}, target_values={ex.value: values},
                                  target_error=f"The {name} window was not saved: see below.")
            target = await rest.set_target("admin", reg, deps.get_session_sink(request), athlete_id, ex, body)
    except HTTPException as exc:
        return await page(exc.status_code, target_values={ex.value: values}, target_error=str(exc.detail))
    text = "the facility default, " if target.default else ""
    return await page(200, target_message=f"{name.capitalize()}: {text}{target.low_ms:g}–{target.high_ms:g} ms.")
