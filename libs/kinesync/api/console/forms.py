"""Console forms: reading the posted text into what the REST models take, and the one shape every
create and edit handler of people and places shares (``submit``).

The text is handed over as typed where it does not parse (``"heavy"`` for a number): pydantic then
says what is wrong with it, in the same words the REST API uses.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from fastapi import HTTPException
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ValidationError

from kinesync.facility.models import MAX_ID

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
# A page renderer: page(status, **context); the page reads its items fresh from the stores.
PageFn = Callable[..., Awaitable[HTMLResponse]]


def path_id(value: int, what: str) -> int:
    """A numeric id from a console path, or 404: beyond MAX_ID SQLite's driver overflows (a 500, not a 404)."""
    if not 1 <= value <= MAX_ID:
        raise HTTPException(404, detail=f"{what} {value} not found")
    return value


def form_int(value: str | None) -> int | str | None:
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        return value


def form_float(value: str | None) -> float | str | None:
    if value is None or value.strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        return value


def form_list(text: str | None) -> list[str]:
    """A comma-separated field (ids may hold spaces, never commas); blank items are dropped."""
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def field_errors(exc: ValidationError) -> dict[str, str]:
    """The first message per field; an item of a list field names the item, so "which one" is answered."""
    out: dict[str, str] = {}
    for e in exc.errors():
        loc = e["loc"]
        msg = e["msg"].removeprefix("Value error, ")
        if len(loc) > 1 and isinstance(loc[1], int):
            msg = f"{e['input']}: {msg}"
        out.setdefault(str(loc[0]) if loc else "_", msg)
    return out


def refusal(exc: HTTPException) -> dict[str, str]:
    """A REST route's 404/409 as form errors: next to the field the registry named, else on top of the page."""
    field = getattr(exc.__cause__, "field", None)  # the registry's Conflict, chained by registry_errors
    return {field or "_": str(exc.detail)}


async def submit(page: PageFn, model: type[M], data: dict[str, Any], save: Callable[[M], Awaitable[T]],
                 done: Callable[[T], str], *, values: Mapping[str, str],
                 errors: Callable[[ValidationError], dict[str, str]] = field_errors,
                 row: object = None) -> HTMLResponse:
    """Validate ``data`` with the REST model, save it through the REST route's function, answer with the page.

    Invalid: 422, each message next to its field and the form as typed. Refused by the route (unknown
    team, a name or device taken): its status, the message next to the field it is about or on top of
    the page. Saved: the page with ``done(result)``. ``row`` is the list item whose own form was posted
    (a team's rename, a station's card): its messages and typed values go to that item's form.
    """
    try:
        body = model.model_validate(data)
    except ValidationError as exc:
        return await _failed(page, 422, errors(exc), values, row)
    try:
        out = await save(body)
    except HTTPException as exc:
        return await _failed(page, exc.status_code, refusal(exc), values, row)
    return await page(200, message=done(out))


async def _failed(page: PageFn, code: int, errors: dict[str, str], values: Mapping[str, str],
                  row: object) -> HTMLResponse:
    if row is None:
        return await page(code, errors=errors, values=dict(values))
    # Not about a field (the item is gone, say): on top of the page, where it is seen whatever the row.
    top = {"_": errors.pop("_")} if "_" in errors else {}
    return await page(code, errors=top, edit_errors={row: errors}, edit_values={row: dict(values)})
