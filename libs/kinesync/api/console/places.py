"""Places: teams, stations and plan templates: list, create, edit, delete through the REST routes' own functions.

Validation is the facility models' (``TeamIn``, ``StationIn``, ``StationPatch``, ``PlanTemplateIn``);
the messages stand next to their field. Plan templates have no edit in the REST API (sessions keep a
copy of the plan they started with), so the console offers create and delete for them.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from kinesync.api import deps
from kinesync.api.console.core import (
    ConsoleSession,
    changing_request,
    field_errors,
    form_int,
    looking,
    render_page,
    router,
)
from kinesync.api.routes import facility as rest
from kinesync.api.routes import plans as plan_routes
from kinesync.facility.models import (
    MAX_LIMIT,
    Exercise,
    StationIn,
    StationPatch,
    TeamIn,
    TeamPatch,
)
from kinesync.facility.plans import PlanTemplateIn, PlanTemplates

PLAN_ROWS = 5  # block rows in the new-plan form; empty rows are left out
BLOCK_FIELDS = ("kind", "exercise", "sets", "reps_per_set", "rest_s", "load_kg")


def _ctx(ctx: dict[str, Any]) -> dict[str, Any]:
    for key in ("errors", "values"):
        ctx.setdefault(key, {})
    ctx.setdefault("message", None)
    ctx.setdefault("edit_errors", {})
    return ctx


# teams


async def _teams_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = deps.get_registry(request)
    athletes = (await reg.list_athletes(MAX_LIMIT, 0)).items
    counts = {t: sum(a.team_id == t for a in athletes) for t in {a.team_id for a in athletes}}
    return render_page(request, "teams.html", s, code, teams=(await reg.list_teams(MAX_LIMIT, 0)).items, counts=counts,
                 **_ctx(ctx))


@router.get("/teams", response_class=HTMLResponse)
async def teams(request: Request) -> Response:
    s = looking(request)
    return s if not isinstance(s, ConsoleSession) else await _teams_page(request, s)


@router.post("/teams")
async def create_team(request: Request) -> Response:
    s, form = await changing_request(request)
    try:
        body = TeamIn(name=form.get("name", ""))
    except ValidationError as exc:
        return await _teams_page(request, s, 422, errors=field_errors(exc), values=form)
    try:
        team = await rest.create_team("admin", deps.get_registry(request), body)
    except HTTPException as exc:
        return await _teams_page(request, s, exc.status_code, errors={"_": str(exc.detail)}, values=form)
    return await _teams_page(request, s, message=f"Added {team.name}.")


@router.post("/teams/{team_id}")
async def rename_team(request: Request, team_id: int) -> Response:
    s, form = await changing_request(request)
    try:
        body = TeamPatch(name=form.get("name", ""))
    except ValidationError as exc:
        return await _teams_page(request, s, 422, edit_errors={team_id: field_errors(exc)})
    try:
        team = await rest.update_team("admin", deps.get_registry(request), team_id, body)
    except HTTPException as exc:
        return await _teams_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _teams_page(request, s, message=f"Renamed to {team.name}.")


@router.post("/teams/{team_id}/delete")
async def delete_team(request: Request, team_id: int) -> Response:
    s, _ = await changing_request(request)
    try:
        await rest.delete_team("admin", deps.get_registry(request), team_id)
    except HTTPException as exc:
        return await _teams_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _teams_page(request, s, message=f"Deleted team {team_id}.")


# stations


async def _stations_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = deps.get_registry(request)
    return render_page(request, "stations.html", s, code, stations=(await reg.list_stations(MAX_LIMIT, 0)).items,
                 **_ctx(ctx))


@router.get("/stations", response_class=HTMLResponse)
async def stations(request: Request) -> Response:
    s = looking(request)
    return s if not isinstance(s, ConsoleSession) else await _stations_page(request, s)


@router.post("/stations")
async def create_station(request: Request) -> Response:
    s, form = await changing_request(request)
    try:
        body = StationIn(id=form.get("id", "").strip(), label=form.get("label", "").strip() or None,
                         bar_sensor=form.get("bar_sensor") == "on")
    except ValidationError as exc:
        return await _stations_page(request, s, 422, errors=field_errors(exc), values=form)
    try:
        st = await rest.create_station("admin", deps.get_registry(request), body)
    except HTTPException as exc:
        return await _stations_page(request, s, exc.status_code, errors={"_": str(exc.detail)}, values=form)
    return await _stations_page(request, s, message=f"Added {st.id}.")


@router.post("/stations/{station_id}")
async def edit_station(request: Request, station_id: str) -> Response:
    s, form = await changing_request(request)
    try:
        body = StationPatch(label=form.get("label", "").strip() or None, bar_sensor=form.get("bar_sensor") == "on")
    except ValidationError as exc:
        return await _stations_page(request, s, 422, edit_errors={station_id: field_errors(exc)})
    try:
        # The REST function: a bar-sensor change is published with the station's running session.
        await rest.update_station("admin", deps.get_registry(request), deps.get_session_sink(request), station_id, body)
    except HTTPException as exc:
        return await _stations_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _stations_page(request, s, message=f"Saved {station_id}.")


@router.post("/stations/{station_id}/delete")
async def delete_station(request: Request, station_id: str) -> Response:
    s, _ = await changing_request(request)
    try:
        await rest.delete_station("admin", deps.get_registry(request), station_id)
    except HTTPException as exc:
        return await _stations_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _stations_page(request, s, message=f"Deleted {station_id}.")


# plan templates


async def _plans_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = deps.get_registry(request)
    return render_page(request, "plans.html", s, code, plans=(await PlanTemplates(reg).list(MAX_LIMIT, 0)).items,
                 rows=PLAN_ROWS, exercises=[e.value for e in Exercise], **_ctx(ctx))


@router.get("/plans", response_class=HTMLResponse)
async def plans(request: Request) -> Response:
    s = looking(request)
    return s if not isinstance(s, ConsoleSession) else await _plans_page(request, s)


def _float(value: str | None) -> float | str | None:
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        return value


def plan_body(form: dict[str, str]) -> tuple[dict[str, Any], dict[int, int]]:
    """The PlanTemplateIn fields from the form's block rows (``b{row}_{field}``); blank rows are skipped.
    Also which form row each block came from, so a block's error lands next to its row."""
    blocks, rows = [], {}
    for i in range(PLAN_ROWS):
        row = {f: form.get(f"b{i}_{f}", "").strip() for f in BLOCK_FIELDS}
        if not any(row[f] for f in ("sets", "reps_per_set", "rest_s", "load_kg")):
            continue
        block: dict[str, Any] = {"kind": row["kind"], "exercise": row["exercise"], "sets": form_int(row["sets"]),
                                 "reps_per_set": form_int(row["reps_per_set"])}
        if row["rest_s"]:
            block["rest_s"] = _float(row["rest_s"])
        if row["load_kg"]:
            block["load_kg"] = _float(row["load_kg"])
        rows[len(blocks)] = i
        blocks.append(block)
    return {"name": form.get("name", ""), "plan": {"blocks": blocks}}, rows


def plan_errors(exc: ValidationError, rows: dict[int, int]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in exc.errors():
        loc = e["loc"]
        msg = e["msg"].removeprefix("Value error, ")
        if len(loc) >= 4 and loc[:2] == ("plan", "blocks") and isinstance(loc[2], int):
            key = f"b{rows.get(loc[2], loc[2])}_{loc[3]}"
        elif loc[:1] == ("plan",):
            key = "blocks"
        else:
            key = str(loc[0]) if loc else "_"
        out.setdefault(key, msg)
    return out


@router.post("/plans")
async def create_plan(request: Request) -> Response:
    s, form = await changing_request(request)
    data, rows = plan_body(form)
    try:
        body = PlanTemplateIn.model_validate(data)
    except ValidationError as exc:
        return await _plans_page(request, s, 422, errors=plan_errors(exc, rows), values=form)
    try:
        plan = await plan_routes.create_plan("admin", deps.get_registry(request), body)
    except HTTPException as exc:
        return await _plans_page(request, s, exc.status_code, errors={"_": str(exc.detail)}, values=form)
    return await _plans_page(request, s, message=f"Added plan {plan.name}.")


@router.post("/plans/{plan_id}/delete")
async def delete_plan(request: Request, plan_id: int) -> Response:
    s, _ = await changing_request(request)
    try:
        await plan_routes.delete_plan("admin", deps.get_registry(request), plan_id)
    except HTTPException as exc:
        return await _plans_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _plans_page(request, s, message=f"Deleted plan {plan_id}.")
