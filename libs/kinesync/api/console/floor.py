"""Floor: every station as a card, and what a coach does from it (start, stop, set position, window mode and lock).
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError

from kinesync.api import deps
from kinesync.api.console.core import (
    PREFIX,
    ConsoleSession,
    Redirect,
    changing_request,
    current_session,
    is_htmx,
    need_session,
    render_page,
    router,
)
from kinesync.api.console.forms import field_errors, form_int
from kinesync.api.routes import personal_windows
from kinesync.api.routes import plans as plan_routes
from kinesync.api.routes import sessions as session_routes
from kinesync.api.schemas.personal_windows import PersonalWindowIn
from kinesync.facility.models import (
    MAX_ID,
    MAX_LIMIT,
    Exercise,
    SessionIn,
)
from kinesync.facility.personal import PersonalStore
from kinesync.facility.plans import PlanPositionIn, PlanTemplates
from kinesync.facility.registry import Registry

# floor


class Card(BaseModel):
    station: str
    label: str | None
    session: Any = None  # facility Session or None
    live: Any = None  # StationStatus or None
    plan_text: str | None = None
    plan_block: int = 0  # where the session is in its plan (0-based), live when the analyzer says so
    plan_set: int = 0
    reps_in_set: int | None = None
    window: Any = None  # PersonalState of the athlete and exercise, when the personal-window store is configured


def _plan_position(s: Any, live: Any) -> tuple[int, int]:
    """Where the session is in its plan. The registry keeps where the count started (or a coach last
    moved it); the analyzer then moves through the plan by itself (reps per set, pauses), and the
    station's live set says where it is — once that set is this session's and began after the last move."""
    sl = getattr(live, "set_lag", None)
    if (s is not None and sl is not None and sl.block_index is not None and live.session == str(s.id)
            and sl.first_rep_peak_ns >= s.plan_position_ns):
        return sl.block_index, sl.set_index or 0
    return (s.plan_block_index, s.plan_set_index) if s is not None else (0, 0)


def _plan_text(s: Any, block: int, set_: int) -> str | None:
    if s is None or s.plan is None:
        return None
    blocks = s.plan.blocks
    b = blocks[min(block, len(blocks) - 1)]
    return f"block {block + 1}/{len(blocks)} ({b.kind.value}) · set {set_ + 1}/{b.sets} · {b.reps_per_set} reps"


async def _cards(request: Request, reg: Registry, only: str | None = None) -> list[Card]:
    stations = (await reg.list_stations(MAX_LIMIT, 0)).items
    running = {s.station_id: s for s in await reg.active_sessions()}
    live = {st.station: st for st in request.app.state.live.snapshot()}
    store = getattr(request.app.state, "personal_store", None)
    cards = []
    for st in stations:
        if only is not None and st.id != only:
            continue
        s = running.get(st.id)
        lv = live.get(st.id)
        reps = lv.set_lag.n if lv is not None and lv.set_lag is not None else None
        if s is not None and lv is not None and lv.session != str(s.id):
            reps = None  # the set of whoever was on the station before this session's first window
        window = None
        if s is not None and isinstance(store, PersonalStore):
            window = await store.get(s.athlete_id, s.exercise.value)
        block, set_ = _plan_position(s, lv)
        cards.append(Card(station=st.id, label=st.label, session=s, live=lv, plan_text=_plan_text(s, block, set_),
                          plan_block=block, plan_set=set_, reps_in_set=reps, window=window))
    return cards


async def _choices(reg: Registry) -> dict[str, Any]:
    return {"athletes": (await reg.list_athletes(MAX_LIMIT, 0)).items, "exercises": [e.value for e in Exercise],
            "plans": (await PlanTemplates(reg).list(MAX_LIMIT, 0)).items}


@router.get("/floor", response_class=HTMLResponse)
async def floor(request: Request) -> Response:
    try:
        s = need_session(request)
    except Redirect as r:
        return RedirectResponse(r.to, 303)
    reg = deps.get_registry(request)
    return render_page(request, "floor.html", s, cards=await _cards(request, reg), **await _choices(reg))


@router.get("/floor/{station_id}/live", response_class=HTMLResponse)
async def card_live(request: Request, station_id: str) -> Response:
    s = current_session(request)
    if s is None:
        return Response(status_code=401)
    cards = await _cards(request, deps.get_registry(request), only=station_id)
    if not cards:
        raise HTTPException(404)
    return render_page(request, "card_live.html", s, card=cards[0])


async def _card_response(request: Request, s: ConsoleSession, station_id: str, error: str | None,
                         code: int = 200) -> Response:
    if not is_htmx(request):
        if error:
            raise HTTPException(code, detail=error)
        return RedirectResponse(f"{PREFIX}/floor", 303)
    reg = deps.get_registry(request)
    cards = await _cards(request, reg, only=station_id)
    if not cards:
        raise HTTPException(404)
    # htmx swaps only 2xx answers by default: an error comes back as 200 with the message in the card.
    return render_page(request, "card.html", s, card=cards[0], error=error, **await _choices(reg))


@router.post("/floor/{station_id}/start")
async def start(request: Request, station_id: str) -> Response:
    s, form = await changing_request(request)
    reg, sink = deps.get_registry(request), deps.get_session_sink(request)
    try:
        body = SessionIn(station_id=station_id, athlete_id=form_int(form.get("athlete_id")) or 0,  # type: ignore[arg-type]
                         exercise=form.get("exercise", ""), plan_id=form_int(form.get("plan_id")))  # type: ignore[arg-type]
    except ValidationError as exc:
        errors = field_errors(exc)
        return await _card_response(request, s, station_id, "; ".join(f"{k}: {v}" for k, v in errors.items()), 422)
    try:
        # the REST endpoint's own path: saved, then published
        await session_routes.start_session("admin", reg, sink, body)
    except HTTPException as exc:
        return await _card_response(request, s, station_id, str(exc.detail), exc.status_code)
    return await _card_response(request, s, station_id, None)


@router.post("/floor/{station_id}/stop")
async def stop(request: Request, station_id: str) -> Response:
    s, form = await changing_request(request)
    reg, sink = deps.get_registry(request), deps.get_session_sink(request)
    session_id = form_int(form.get("session_id"))
    if not isinstance(session_id, int) or not 1 <= session_id <= MAX_ID:
        return await _card_response(request, s, station_id, "no session to stop", 422)
    try:
        await session_routes.stop_session("admin", reg, sink, session_id)
    except HTTPException as exc:
        return await _card_response(request, s, station_id, str(exc.detail), exc.status_code)
    return await _card_response(request, s, station_id, None)




def _session_id(form: dict[str, str]) -> int | None:
    session_id = form_int(form.get("session_id"))
    return session_id if isinstance(session_id, int) and 1 <= session_id <= MAX_ID else None


@router.post("/floor/{station_id}/position")
async def position(request: Request, station_id: str) -> Response:
    """Move the plan position (block and set, shown 1-based): ``PUT /api/v1/sessions/{id}/position``'s function."""
    s, form = await changing_request(request)
    session_id = _session_id(form)
    if session_id is None:
        return await _card_response(request, s, station_id, "no session to move", 422)
    block, set_ = form_int(form.get("block")), form_int(form.get("set"))
    try:
        body = PlanPositionIn(block_index=block - 1 if isinstance(block, int) else block,  # type: ignore[arg-type]
                              set_index=set_ - 1 if isinstance(set_, int) else (set_ or 0))  # type: ignore[arg-type]
    except ValidationError as exc:
        errors = field_errors(exc)
        return await _card_response(request, s, station_id, "; ".join(f"{k}: {v}" for k, v in errors.items()), 422)
    try:
        await plan_routes.set_position("admin", deps.get_registry(request), deps.get_session_sink(request),
                                       session_id, body)
    except HTTPException as exc:
        return await _card_response(request, s, station_id, str(exc.detail), exc.status_code)
    return await _card_response(request, s, station_id, None)


@router.post("/floor/{station_id}/window")
async def window(request: Request, station_id: str) -> Response:
    """Lock or unlock the athlete's personal window (``locked``), or switch which window judges (``mode``: fixed
    or personal): ``PUT /api/v1/stations/{id}/personal-window``'s function, stored and published."""
    s, form = await changing_request(request)
    locked, mode = form.get("locked"), form.get("mode")
    bad = locked not in (None, "true", "false") or mode not in (None, "fixed", "personal")
    if bad or (locked, mode) == (None, None):
        return await _card_response(request, s, station_id, "say lock or unlock, or fixed or personal", 422)
    body = PersonalWindowIn(locked=None if locked is None else locked == "true", mode=mode)  # type: ignore[arg-type]
    try:
        await personal_windows.set_personal_window(
            "admin", station_id, body, deps.get_registry(request), deps.get_personal_store(request),
            deps.get_session_sink(request), deps.get_live(request))
    except HTTPException as exc:
        return await _card_response(request, s, station_id, str(exc.detail), exc.status_code)
    return await _card_response(request, s, station_id, None)
