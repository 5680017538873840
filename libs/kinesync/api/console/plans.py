"""Plan templates: list, create, edit, delete through the REST routes' own functions (``routes.plans``).

A plan's blocks are the form's rows (``b{row}_{field}``; blank rows are left out) and a block's error
stands next to its row. Editing replaces the template (``PUT /api/v1/plans/{id}``, the same checks as
creating one). Sessions copy the plan when they start, so those already started keep the plan they
started with, which the edit page says.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from kinesync.api import deps
from kinesync.api.console.core import ConsoleSession, changing_request, looking, render_page, router
from kinesync.api.console.forms import form_float, form_int, path_id, submit
from kinesync.api.routes import plans as plan_routes
from kinesync.facility.models import MAX_LIMIT, Exercise
from kinesync.facility.plans import PlanTemplate, PlanTemplateIn, PlanTemplates

PLAN_ROWS = 5  # block rows of the new-plan form
MAX_ROWS = 50  # a plan's most blocks (SessionPlan): the rows a form may post
BLOCK_FIELDS = ("kind", "exercise", "sets", "reps_per_set", "rest_s", "load_kg")


def plan_body(form: dict[str, str]) -> tuple[dict[str, Any], dict[int, int]]:
    """The PlanTemplateIn fields from the form's block rows (``b{row}_{field}``); blank rows are skipped.
    Also which form row each block came from, so a block's error lands next to its row."""
    blocks, rows = [], {}
    for i in range(MAX_ROWS):
        row = {f: form.get(f"b{i}_{f}", "").strip() for f in BLOCK_FIELDS}
        if not any(row[f] for f in ("sets", "reps_per_set", "rest_s", "load_kg")):
            continue
        block: dict[str, Any] = {"kind": row["kind"], "exercise": row["exercise"], "sets": form_int(row["sets"]),
                                 "reps_per_set": form_int(row["reps_per_set"])}
        if row["rest_s"]:
            block["rest_s"] = form_float(row["rest_s"])
        if row["load_kg"]:
            block["load_kg"] = form_float(row["load_kg"])
        rows[len(blocks)] = i
        blocks.append(block)
    plan: dict[str, Any] = {"blocks": blocks}
    if form.get("set_gap_s", "").strip():
        plan["set_gap_s"] = form_float(form["set_gap_s"])
    return {"name": form.get("name", ""), "plan": plan}, rows


def plan_errors(exc: ValidationError, rows: dict[int, int]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in exc.errors():
        loc = e["loc"]
        msg = e["msg"].removeprefix("Value error, ")
        if len(loc) >= 4 and loc[:2] == ("plan", "blocks") and isinstance(loc[2], int):
            key = f"b{rows.get(loc[2], loc[2])}_{loc[3]}"
        elif loc[:2] == ("plan", "set_gap_s"):
            key = "set_gap_s"
        elif loc[:1] == ("plan",):
            key = "blocks"
        else:
            key = str(loc[0]) if loc else "_"
        out.setdefault(key, msg)
    return out


def plan_values(t: PlanTemplate) -> dict[str, str]:
    """A stored template as the form's text, one row per block."""
    values = {"name": t.name, "set_gap_s": f"{t.plan.set_gap_s:g}"}
    for i, b in enumerate(t.plan.blocks):
        values.update({f"b{i}_kind": b.kind.value, f"b{i}_exercise": b.exercise, f"b{i}_sets": str(b.sets),
                       f"b{i}_reps_per_set": str(b.reps_per_set), f"b{i}_rest_s": f"{b.rest_s:g}",
                       f"b{i}_load_kg": "" if b.load_kg is None else f"{b.load_kg:g}"})
    return values


def _form_ctx(ctx: dict[str, Any], at_least: int = PLAN_ROWS) -> dict[str, Any]:
    """Rows for every block posted or stored, and the exercises to choose from: the analyzer's, and any other
    a template already has (made through the REST API), so saving never swaps it silently."""
    values = ctx.setdefault("values", {})
    ctx.setdefault("errors", {})
    ctx.setdefault("message", None)
    posted = [i for i in range(MAX_ROWS) if f"b{i}_kind" in values]
    ctx["rows"] = min(MAX_ROWS, max(at_least, posted[-1] + 1 if posted else 0))
    stored = [v for k, v in values.items() if k.endswith("_exercise") and v]
    ctx["exercises"] = list(dict.fromkeys([*(e.value for e in Exercise), *stored]))
    return ctx


async def _plans_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = deps.get_registry(request)
    return render_page(request, "plans.html", s, code, plans=(await PlanTemplates(reg).list(MAX_LIMIT, 0)).items,
                       **_form_ctx(ctx))


@router.get("/plans", response_class=HTMLResponse)
async def plans(request: Request) -> Response:
    s = looking(request)
    return s if not isinstance(s, ConsoleSession) else await _plans_page(request, s)


@router.post("/plans")
async def create_plan(request: Request) -> Response:
    s, form = await changing_request(request)
    reg = deps.get_registry(request)
    data, rows = plan_body(form)
    return await submit(partial(_plans_page, request, s), PlanTemplateIn, data,
                        lambda body: plan_routes.create_plan("admin", reg, body), lambda p: f"Added plan {p.name}.",
                        values=form, errors=lambda exc: plan_errors(exc, rows))


async def _plan_page(request: Request, s: ConsoleSession, plan_id: int, code: int = 200, **ctx: Any) -> HTMLResponse:
    """The edit page, read fresh from the registry (404 for an unknown plan): the form shows the stored plan
    unless ``ctx`` brings what was typed, with one empty row more than the plan has, to add a block."""
    template = await plan_routes.get_plan(None, deps.get_registry(request), path_id(plan_id, "plan"))
    ctx.setdefault("values", plan_values(template))
    return render_page(request, "plan_edit.html", s, code, plan=template,
                       **_form_ctx(ctx, at_least=max(PLAN_ROWS, len(template.plan.blocks) + 1)))


@router.get("/plans/{plan_id}", response_class=HTMLResponse)
async def plan_page(request: Request, plan_id: int) -> Response:
    s = looking(request)
    return s if not isinstance(s, ConsoleSession) else await _plan_page(request, s, plan_id)


@router.post("/plans/{plan_id}")
async def edit_plan(request: Request, plan_id: int) -> Response:
    s, form = await changing_request(request)
    reg, plan_id = deps.get_registry(request), path_id(plan_id, "plan")
    data, rows = plan_body(form)
    return await submit(partial(_plan_page, request, s, plan_id), PlanTemplateIn, data,
                        lambda body: plan_routes.update_plan("admin", reg, plan_id, body),
                        lambda p: f"Saved plan {p.name}.", values=form, errors=lambda exc: plan_errors(exc, rows))


@router.post("/plans/{plan_id}/delete")
async def delete_plan(request: Request, plan_id: int) -> Response:
    s, _ = await changing_request(request)
    try:
        await plan_routes.delete_plan("admin", deps.get_registry(request), path_id(plan_id, "plan"))
    except HTTPException as exc:
        return await _plans_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _plans_page(request, s, message=f"Deleted plan {plan_id}.")
