"""The coach console at ``/console``: server-rendered pages (Jinja2) with htmx, served by the API itself.

Nothing comes from the internet at run time: htmx and the style sheet are files of this package
(``static/console``). Every change goes through the REST route functions of ``facility_routes``
(called directly, so a session started here is saved and published to ``kinesync.sessions``
exactly as ``POST /api/v1/sessions`` does it); validation uses the same pydantic models.

Sign-in (docs/console.md): the admin or viewer token is posted once; the answer is a session
cookie ``ks_session`` — HttpOnly, SameSite=Strict, Path=/console, Secure over https — holding the
role, an expiry, the first 16 hex digits of the token's SHA-256 (a rotated token ends its sessions)
and the session's CSRF token, signed with HMAC-SHA256. The signing key is
``KINESYNC_CONSOLE_SECRET`` when set, else random per process (a restart signs everyone out).
Every POST carries the CSRF token (hidden field, or the ``X-CSRF-Token`` header htmx sends) and is
refused (403) without it; before sign-in a double-submit cookie protects the sign-in form itself.
Viewer sessions get the pages without their forms, and every changing endpoint refuses them (403).

The pages, one section each in this module (a package would need an entry in pyproject's package list):

floor: every station as a card, and what a coach does from it (start, stop, set position, window lock).

people: athletes, through the REST routes' own functions.

places: teams, stations and plan templates: list, create, edit, delete through the REST routes' own functions.

Validation is the facility models' (``TeamIn``, ``StationIn``, ``StationPatch``, ``PlanTemplateIn``);
the messages stand next to their field. Plan templates have no edit in the REST API (sessions keep a
copy of the plan they started with), so the console offers create and delete for them.

athlete: an athlete's analysis pages: sessions over time, one session's reps against the target band, the
priming effect, trends over weeks, the load–velocity profile, and the report downloads.

The numbers come from the REST analysis routes' own functions (``plan_routes.get_priming``,
``plan_routes.get_trends``, ``load_velocity_routes.get_load_velocity``) on ``app.state.rep_store``;
the downloads from the report functions ``kinesync report`` uses (``kinesync.report``), behind the
console session: the REST API has no report endpoints, and a bearer token cannot ride on a link.
Plots are inline SVG rendered here: no JavaScript, no chart library, readable without colour
(uncertain reps are hollow, out-of-band reps are drawn as squares).

alerts: webhook subscriptions (generic signed, Slack, Teams), a test send, recent alerts.

Subscriptions are listed, created and deleted by the ``/api/alerts`` route functions themselves
(``alerts_routes``), on the same alerts database. "Send a test" posts one test alert to the
subscription's URL exactly as the dispatcher would (``delivery.webhook_request``: the format's body,
and for generic webhooks the Standard Webhooks signature) and shows the receiver's answer; the test
goes straight out, not through the outbox, so it is neither retried nor listed as an alert.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import tempfile
import time
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import jinja2
from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup
from pydantic import BaseModel, ValidationError

from kinesync.alerts.delivery import Permanent, webhook_request
from kinesync.alerts.rules import AlertEvent
from kinesync.alerts.subscriptions import SubscriptionIn
from kinesync.api import alerts_routes, cue_routes, load_velocity_routes, plan_routes
from kinesync.api import facility_routes as rest
from kinesync.api.auth import ApiTokens
from kinesync.api.facility_models import (
    MAX_ID,
    MAX_LIMIT,
    AthleteIn,
    AthletePatch,
    Exercise,
    Session,
    SessionIn,
    StationIn,
    StationPatch,
    TeamIn,
    TeamPatch,
)
from kinesync.api.personal_store import PersonalStore
from kinesync.api.plan_registry import PlanPositionIn, PlanTemplateIn, PlanTemplates
from kinesync.api.registry import Registry
from kinesync.models import RepMetric
from kinesync.storage.base import StorageUnavailable

# ==== core ======================================================================================

COOKIE = "ks_session"
LOGIN_CSRF_COOKIE = "ks_login_csrf"
SESSION_S = 8 * 3600  # one working day on the floor
PREFIX = "/console"
FORM_TYPE = "application/x-www-form-urlencoded"

_env = jinja2.Environment(
    loader=jinja2.PackageLoader("kinesync.api", "templates/console"),
    autoescape=True, trim_blocks=True, lstrip_blocks=True,
)


def _asset(name: str) -> str:
    return files("kinesync.api").joinpath(f"static/console/{name}").read_text(encoding="utf-8")


_ASSETS = {"htmx-2.0.11.min.js": "text/javascript", "console.css": "text/css"}


# sessions


@dataclass(frozen=True)
class ConsoleSession:
    role: str  # "admin" or "viewer"
    expires: int
    csrf: str
    key: str  # first 16 hex digits of the token's SHA-256

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def _secret(request: Request) -> bytes:
    # Set by the API service from KINESYNC_CONSOLE_SECRET (Settings.console_secret); else one per process.
    app_state = request.app.state
    secret = getattr(app_state, "console_secret", None)
    if secret is None:
        secret = app_state.console_secret = secrets.token_bytes(32)
    return secret


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(secret: bytes, payload: dict[str, Any]) -> str:
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return body + "." + _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())


def unsign(secret: bytes, value: str) -> dict[str, Any] | None:
    body, _, mac = value.partition(".")
    good = _b64(hmac.new(secret, body.encode(), hashlib.sha256).digest())
    if not mac or not hmac.compare_digest(mac, good):
        return None
    try:
        data = json.loads(_unb64(body))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _tokens(request: Request) -> ApiTokens:
    tokens = getattr(request.app.state, "tokens", None)
    return tokens if isinstance(tokens, ApiTokens) else ApiTokens()


def current_session(request: Request) -> ConsoleSession | None:
    raw = request.cookies.get(COOKIE)
    data = unsign(_secret(request), raw) if raw else None
    if not data:
        return None
    try:
        s = ConsoleSession(role=str(data["r"]), expires=int(data["e"]), csrf=str(data["c"]), key=str(data["k"]))
    except (KeyError, TypeError, ValueError):
        return None
    tokens = _tokens(request)
    digest = tokens.admin_sha256 if s.role == "admin" else tokens.viewer_sha256 if s.role == "viewer" else None
    if s.expires < time.time() or digest is None or not hmac.compare_digest(digest[:16], s.key):
        return None  # expired, or the token it was made from is no longer configured
    return s


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {"httponly": True, "samesite": "strict", "path": PREFIX, "secure": request.url.scheme == "https"}


class _Redirect(Exception):
    def __init__(self, to: str) -> None:
        self.to = to


def _need_session(request: Request) -> ConsoleSession:
    s = current_session(request)
    if s is None:
        raise _Redirect(f"{PREFIX}/login")
    return s


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail=f"send {FORM_TYPE}")
    parsed = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


async def _changing(request: Request) -> tuple[ConsoleSession, dict[str, str]]:
    """For every POST that changes something: an admin session and its CSRF token, or 403."""
    s = current_session(request)
    if s is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="sign in first (/console/login)")
    form = await _form(request)
    sent = request.headers.get("x-csrf-token") or form.get("csrf", "")
    if not hmac.compare_digest(sent.encode(), s.csrf.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="missing or wrong CSRF token; reload the page")
    if not s.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this session may look but not change anything")
    return s, form


def _page(request: Request, template: str, s: ConsoleSession | None, code: int = 200, **ctx: Any) -> HTMLResponse:
    body = _env.get_template(template).render(
        prefix=PREFIX, session=s, title=getattr(request.app, "title", "KineSync"), **ctx)
    # Pages carry the CSRF token and live data: never cached, never framed.
    return HTMLResponse(body, status_code=code, headers={
        "Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                   "frame-ancestors 'none'; form-action 'self'",
    })


def _field_errors(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in exc.errors():
        field = str(e["loc"][0]) if e["loc"] else "_"
        out.setdefault(field, e["msg"].removeprefix("Value error, "))
    return out


def _is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    if name not in _ASSETS:
        raise HTTPException(404)
    return Response(_asset(name), media_type=_ASSETS[name], headers={"Cache-Control": "public, max-age=3600"})


# sign-in


@router.get("")
async def root(request: Request) -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/floor" if current_session(request) else f"{PREFIX}/login", 303)


def _login_page(request: Request, error: str | None = None, code: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    tokens = _tokens(request)
    configured = tokens.admin_sha256 is not None or tokens.viewer_sha256 is not None
    response = _page(request, "login.html", None, code, csrf=token, error=error, configured=configured)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=600, **_cookie_flags(request))
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request) -> HTMLResponse:
    return _login_page(request)


@router.post("/login")
async def login(request: Request) -> Response:
    form = await _form(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), form.get("csrf", "").encode()):
        return _login_page(request, "The form expired or did not come from this page: try again.", 403)
    token = form.get("token", "").strip()
    role = _tokens(request).role_of(token)
    if role is None:
        return _login_page(request, "That token is not valid here.", 401)
    key = hashlib.sha256(token.encode()).hexdigest()[:16]
    value = sign(_secret(request), {"r": role, "e": int(time.time()) + SESSION_S, "c": secrets.token_urlsafe(24),
                                    "k": key})
    response = RedirectResponse(f"{PREFIX}/floor", 303)
    response.set_cookie(COOKIE, value, max_age=SESSION_S, **_cookie_flags(request))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    s = current_session(request)
    form = await _form(request)
    if s is not None and not hmac.compare_digest(form.get("csrf", "").encode(), s.csrf.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="missing or wrong CSRF token")
    response = RedirectResponse(f"{PREFIX}/login", 303)
    response.delete_cookie(COOKIE, path=PREFIX)
    return response



def _int(value: str | None) -> int | str | None:
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        return value  # pydantic says what is wrong with it


def looking(request: Request) -> ConsoleSession | RedirectResponse:
    """For every page (GET): the session, or the redirect to sign-in."""
    s = current_session(request)
    return s if s is not None else RedirectResponse(f"{PREFIX}/login", 303)


def fmt_time(ns: int | None) -> str:
    """Wall-clock ns as ``YYYY-MM-DD HH:MM`` UTC (the console shows UTC, like the reports)."""
    if not ns:
        return "—"
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M")


_env.filters["when"] = fmt_time

# ==== floor =====================================================================================

# floor


class Card(BaseModel):
    station: str
    label: str | None
    session: Any = None  # facility Session or None
    live: Any = None  # StationStatus or None
    plan_text: str | None = None
    reps_in_set: int | None = None
    window: Any = None  # PersonalState of the athlete and exercise, when the personal-window store is configured


def _plan_text(s: Any) -> str | None:
    if s is None or s.plan is None:
        return None
    blocks = s.plan.blocks
    b = blocks[min(s.plan_block_index, len(blocks) - 1)]
    return (f"block {s.plan_block_index + 1}/{len(blocks)} ({b.kind.value}) · set {s.plan_set_index + 1}/{b.sets}"
            f" · {b.reps_per_set} reps")


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
        window = None
        if s is not None and isinstance(store, PersonalStore):
            window = await store.get(s.athlete_id, s.exercise.value)
        cards.append(Card(station=st.id, label=st.label, session=s, live=lv, plan_text=_plan_text(s),
                          reps_in_set=reps, window=window))
    return cards


async def _choices(reg: Registry) -> dict[str, Any]:
    return {"athletes": (await reg.list_athletes(MAX_LIMIT, 0)).items, "exercises": [e.value for e in Exercise],
            "plans": (await PlanTemplates(reg).list(MAX_LIMIT, 0)).items}


@router.get("/floor", response_class=HTMLResponse)
async def floor(request: Request) -> Response:
    try:
        s = _need_session(request)
    except _Redirect as r:
        return RedirectResponse(r.to, 303)
    reg = rest.registry_of(request)
    return _page(request, "floor.html", s, cards=await _cards(request, reg), **await _choices(reg))


@router.get("/floor/{station_id}/live", response_class=HTMLResponse)
async def card_live(request: Request, station_id: str) -> Response:
    s = current_session(request)
    if s is None:
        return Response(status_code=401)
    cards = await _cards(request, rest.registry_of(request), only=station_id)
    if not cards:
        raise HTTPException(404)
    return _page(request, "card_live.html", s, card=cards[0])


async def _card_response(request: Request, s: ConsoleSession, station_id: str, error: str | None,
                         code: int = 200) -> Response:
    if not _is_htmx(request):
        if error:
            raise HTTPException(code, detail=error)
        return RedirectResponse(f"{PREFIX}/floor", 303)
    reg = rest.registry_of(request)
    cards = await _cards(request, reg, only=station_id)
    if not cards:
        raise HTTPException(404)
    # htmx swaps only 2xx answers by default: an error comes back as 200 with the message in the card.
    return _page(request, "card.html", s, card=cards[0], error=error, **await _choices(reg))


@router.post("/floor/{station_id}/start")
async def start(request: Request, station_id: str) -> Response:
    s, form = await _changing(request)
    reg, sink = rest.registry_of(request), rest.sink_of(request)
    try:
        body = SessionIn(station_id=station_id, athlete_id=_int(form.get("athlete_id")) or 0,  # type: ignore[arg-type]
                         exercise=form.get("exercise", ""), plan_id=_int(form.get("plan_id")))  # type: ignore[arg-type]
    except ValidationError as exc:
        errors = _field_errors(exc)
        return await _card_response(request, s, station_id, "; ".join(f"{k}: {v}" for k, v in errors.items()), 422)
    try:
        await rest.start_session("admin", reg, sink, body)  # the REST endpoint's own path: saved, then published
    except HTTPException as exc:
        return await _card_response(request, s, station_id, str(exc.detail), exc.status_code)
    return await _card_response(request, s, station_id, None)


@router.post("/floor/{station_id}/stop")
async def stop(request: Request, station_id: str) -> Response:
    s, form = await _changing(request)
    reg, sink = rest.registry_of(request), rest.sink_of(request)
    session_id = _int(form.get("session_id"))
    if not isinstance(session_id, int) or not 1 <= session_id <= MAX_ID:
        return await _card_response(request, s, station_id, "no session to stop", 422)
    try:
        await rest.stop_session("admin", reg, sink, session_id)
    except HTTPException as exc:
        return await _card_response(request, s, station_id, str(exc.detail), exc.status_code)
    return await _card_response(request, s, station_id, None)




def _session_id(form: dict[str, str]) -> int | None:
    session_id = _int(form.get("session_id"))
    return session_id if isinstance(session_id, int) and 1 <= session_id <= MAX_ID else None


@router.post("/floor/{station_id}/position")
async def position(request: Request, station_id: str) -> Response:
    """Move the plan position (block and set, shown 1-based): ``PUT /api/v1/sessions/{id}/position``'s function."""
    s, form = await _changing(request)
    session_id = _session_id(form)
    if session_id is None:
        return await _card_response(request, s, station_id, "no session to move", 422)
    block, set_ = _int(form.get("block")), _int(form.get("set"))
    try:
        body = PlanPositionIn(block_index=block - 1 if isinstance(block, int) else block,  # type: ignore[arg-type]
                              set_index=set_ - 1 if isinstance(set_, int) else (set_ or 0))  # type: ignore[arg-type]
    except ValidationError as exc:
        errors = _field_errors(exc)
        return await _card_response(request, s, station_id, "; ".join(f"{k}: {v}" for k, v in errors.items()), 422)
    try:
        await plan_routes.set_position("admin", rest.registry_of(request), rest.sink_of(request), session_id, body)
    except HTTPException as exc:
        return await _card_response(request, s, station_id, str(exc.detail), exc.status_code)
    return await _card_response(request, s, station_id, None)


@router.post("/floor/{station_id}/window")
async def window(request: Request, station_id: str) -> Response:
    """Lock or unlock the athlete's personal window: ``PUT /api/v1/stations/{id}/personal-window``'s function."""
    s, form = await _changing(request)
    locked = form.get("locked")
    if locked not in ("true", "false"):
        return await _card_response(request, s, station_id, "say lock or unlock", 422)
    try:
        await cue_routes.set_personal_window(request, "admin", station_id,
                                             cue_routes.PersonalWindowIn(locked=locked == "true"))
    except HTTPException as exc:
        return await _card_response(request, s, station_id, str(exc.detail), exc.status_code)
    return await _card_response(request, s, station_id, None)

# ==== people ====================================================================================

# people


async def _athletes_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = rest.registry_of(request)
    ctx.setdefault("errors", {})
    ctx.setdefault("values", {})
    ctx.setdefault("message", None)
    return _page(request, "athletes.html", s, code, athletes=(await reg.list_athletes(MAX_LIMIT, 0)).items,
                 teams=(await reg.list_teams(MAX_LIMIT, 0)).items, **ctx)


@router.get("/athletes", response_class=HTMLResponse)
async def athletes(request: Request) -> Response:
    try:
        s = _need_session(request)
    except _Redirect as r:
        return RedirectResponse(r.to, 303)
    return await _athletes_page(request, s)


def _athlete_fields(form: dict[str, str]) -> dict[str, Any]:
    return {"name": form.get("name", ""), "team_id": _int(form.get("team_id"))}


@router.post("/athletes")
async def create_athlete(request: Request) -> Response:
    s, form = await _changing(request)
    values = _athlete_fields(form)
    try:
        body = AthleteIn.model_validate(values)
    except ValidationError as exc:
        return await _athletes_page(request, s, 422, errors=_field_errors(exc), values=form)
    try:
        athlete = await rest.create_athlete("admin", rest.registry_of(request), body)
    except HTTPException as exc:
        return await _athletes_page(request, s, exc.status_code, errors={"_": str(exc.detail)}, values=form)
    return await _athletes_page(request, s, message=f"Added {athlete.name}.")


async def _athlete_page(request: Request, s: ConsoleSession, code: int, **ctx: Any) -> HTMLResponse:
    ctx["analysis"] = await athlete_analysis(request, ctx["athlete"].id, ctx["sessions"])
    return _page(request, "athlete.html", s, code, **ctx)


@router.get("/athletes/{athlete_id}", response_class=HTMLResponse)
async def edit_athlete_form(request: Request, athlete_id: int) -> Response:
    try:
        s = _need_session(request)
    except _Redirect as r:
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
    s, form = await _changing(request)
    reg = rest.registry_of(request)
    athlete = await rest.get_athlete(None, reg, athlete_id)
    sessions = (await reg.list_sessions(50, 0, athlete_id=athlete_id)).items
    teams = (await reg.list_teams(MAX_LIMIT, 0)).items
    try:
        body = AthletePatch.model_validate(_athlete_fields(form))
    except ValidationError as exc:
        return await _athlete_page(request, s, 422, athlete=athlete, teams=teams, errors=_field_errors(exc),
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
    s, _form_values = await _changing(request)
    try:
        await rest.delete_athlete("admin", rest.registry_of(request), athlete_id)
    except HTTPException as exc:
        return await _athletes_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _athletes_page(request, s, message=f"Deleted athlete {athlete_id}.")

# ==== places ====================================================================================

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
    reg = rest.registry_of(request)
    athletes = (await reg.list_athletes(MAX_LIMIT, 0)).items
    counts = {t: sum(a.team_id == t for a in athletes) for t in {a.team_id for a in athletes}}
    return _page(request, "teams.html", s, code, teams=(await reg.list_teams(MAX_LIMIT, 0)).items, counts=counts,
                 **_ctx(ctx))


@router.get("/teams", response_class=HTMLResponse)
async def teams(request: Request) -> Response:
    s = looking(request)
    return s if not isinstance(s, ConsoleSession) else await _teams_page(request, s)


@router.post("/teams")
async def create_team(request: Request) -> Response:
    s, form = await _changing(request)
    try:
        body = TeamIn(name=form.get("name", ""))
    except ValidationError as exc:
        return await _teams_page(request, s, 422, errors=_field_errors(exc), values=form)
    try:
        team = await rest.create_team("admin", rest.registry_of(request), body)
    except HTTPException as exc:
        return await _teams_page(request, s, exc.status_code, errors={"_": str(exc.detail)}, values=form)
    return await _teams_page(request, s, message=f"Added {team.name}.")


@router.post("/teams/{team_id}")
async def rename_team(request: Request, team_id: int) -> Response:
    s, form = await _changing(request)
    try:
        body = TeamPatch(name=form.get("name", ""))
    except ValidationError as exc:
        return await _teams_page(request, s, 422, edit_errors={team_id: _field_errors(exc)})
    try:
        team = await rest.update_team("admin", rest.registry_of(request), team_id, body)
    except HTTPException as exc:
        return await _teams_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _teams_page(request, s, message=f"Renamed to {team.name}.")


@router.post("/teams/{team_id}/delete")
async def delete_team(request: Request, team_id: int) -> Response:
    s, _ = await _changing(request)
    try:
        await rest.delete_team("admin", rest.registry_of(request), team_id)
    except HTTPException as exc:
        return await _teams_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _teams_page(request, s, message=f"Deleted team {team_id}.")


# stations


async def _stations_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = rest.registry_of(request)
    return _page(request, "stations.html", s, code, stations=(await reg.list_stations(MAX_LIMIT, 0)).items,
                 **_ctx(ctx))


@router.get("/stations", response_class=HTMLResponse)
async def stations(request: Request) -> Response:
    s = looking(request)
    return s if not isinstance(s, ConsoleSession) else await _stations_page(request, s)


@router.post("/stations")
async def create_station(request: Request) -> Response:
    s, form = await _changing(request)
    try:
        body = StationIn(id=form.get("id", "").strip(), label=form.get("label", "").strip() or None,
                         bar_sensor=form.get("bar_sensor") == "on")
    except ValidationError as exc:
        return await _stations_page(request, s, 422, errors=_field_errors(exc), values=form)
    try:
        st = await rest.create_station("admin", rest.registry_of(request), body)
    except HTTPException as exc:
        return await _stations_page(request, s, exc.status_code, errors={"_": str(exc.detail)}, values=form)
    return await _stations_page(request, s, message=f"Added {st.id}.")


@router.post("/stations/{station_id}")
async def edit_station(request: Request, station_id: str) -> Response:
    s, form = await _changing(request)
    try:
        body = StationPatch(label=form.get("label", "").strip() or None, bar_sensor=form.get("bar_sensor") == "on")
    except ValidationError as exc:
        return await _stations_page(request, s, 422, edit_errors={station_id: _field_errors(exc)})
    try:
        # The REST function: a bar-sensor change is published with the station's running session.
        await rest.update_station("admin", rest.registry_of(request), rest.sink_of(request), station_id, body)
    except HTTPException as exc:
        return await _stations_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _stations_page(request, s, message=f"Saved {station_id}.")


@router.post("/stations/{station_id}/delete")
async def delete_station(request: Request, station_id: str) -> Response:
    s, _ = await _changing(request)
    try:
        await rest.delete_station("admin", rest.registry_of(request), station_id)
    except HTTPException as exc:
        return await _stations_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _stations_page(request, s, message=f"Deleted {station_id}.")


# plan templates


async def _plans_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    reg = rest.registry_of(request)
    return _page(request, "plans.html", s, code, plans=(await PlanTemplates(reg).list(MAX_LIMIT, 0)).items,
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
        block: dict[str, Any] = {"kind": row["kind"], "exercise": row["exercise"], "sets": _int(row["sets"]),
                                 "reps_per_set": _int(row["reps_per_set"])}
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
    s, form = await _changing(request)
    data, rows = plan_body(form)
    try:
        body = PlanTemplateIn.model_validate(data)
    except ValidationError as exc:
        return await _plans_page(request, s, 422, errors=plan_errors(exc, rows), values=form)
    try:
        plan = await plan_routes.create_plan("admin", rest.registry_of(request), body)
    except HTTPException as exc:
        return await _plans_page(request, s, exc.status_code, errors={"_": str(exc.detail)}, values=form)
    return await _plans_page(request, s, message=f"Added plan {plan.name}.")


@router.post("/plans/{plan_id}/delete")
async def delete_plan(request: Request, plan_id: int) -> Response:
    s, _ = await _changing(request)
    try:
        await plan_routes.delete_plan("admin", rest.registry_of(request), plan_id)
    except HTTPException as exc:
        return await _plans_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _plans_page(request, s, message=f"Deleted plan {plan_id}.")

# ==== athlete ===================================================================================

TREND_WEEKS = 8
Z95 = 1.96

# The per-rep table: (field, heading, format); a column is shown when any rep has a value.
REP_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("lag_ms", "Lag ms", "%.0f"),
    ("lag_se_ms", "± SE ms", "%.0f"),
    ("peak_rfd_n_per_s", "Peak RFD N/s", "%.0f"),
    ("rfd_0_100_n_per_s", "RFD 0–100 N/s", "%.0f"),
    ("peak_propulsive_force_n", "Peak force N", "%.0f"),
    ("propulsive_impulse_n_s", "Prop. impulse N·s", "%.1f"),
    ("rsi_modified", "RSImod m/s", "%.2f"),
    ("jump_height_impulse_m", "Jump m", "%.3f"),
    ("transfer_index", "Transfer", "%.2f"),
    ("mean_concentric_velocity_m_s", "MCV m/s", "%.2f"),
    ("peak_concentric_velocity_m_s", "Peak vel. m/s", "%.2f"),
    ("mean_concentric_power_w", "Mean power W", "%.0f"),
)


@dataclass(frozen=True)
class PlotPoint:
    label: str
    value: float
    half_width: float | None = None  # 95 % interval half-width, ms
    uncertain: bool = False
    inside: bool | None = None


def _nice_step(span: float) -> float:
    for step in (5, 10, 20, 25, 50, 100, 200, 250, 500, 1000):
        if span / step <= 8:
            return float(step)
    return 2000.0


def lag_svg(points: list[PlotPoint], band: tuple[float, float] | None, *, title: str, x_label: str,
            line: bool = False) -> Markup:
    """Lags as dots (with 95 % error bars) against the shaded target band, on an axis in ms."""
    w, h, left, right, top, bottom = 720, 300, 56, 12, 14, 44
    values = [p.value for p in points]
    lows = [p.value - (p.half_width or 0.0) for p in points] + ([band[0]] if band else [])
    highs = [p.value + (p.half_width or 0.0) for p in points] + ([band[1]] if band else [])
    lo, hi = (min(lows), max(highs)) if values or band else (0.0, 200.0)
    pad = max(10.0, (hi - lo) * 0.08)
    lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo)
    lo, hi = step * (lo // step), step * -(-hi // step)

    def y(v: float) -> float:
        return top + (hi - v) / (hi - lo) * (h - top - bottom)

    n = max(len(points), 1)

    def x(i: int) -> float:
        return left + (i + 0.5) * (w - left - right) / n

    out = [f'<svg class="plot" viewBox="0 0 {w} {h}" role="img" aria-label="{Markup.escape(title)}" '
           f'xmlns="http://www.w3.org/2000/svg">', f"<title>{Markup.escape(title)}</title>"]
    if band:
        out.append(f'<rect class="band" x="{left}" y="{y(band[1]):.1f}" width="{w - left - right}" '
                   f'height="{y(band[0]) - y(band[1]):.1f}">'
                   f"<title>target band {band[0]:.0f}–{band[1]:.0f} ms</title></rect>")
    tick = lo
    while tick <= hi + 1e-9:
        out.append(f'<line class="axis" x1="{left}" x2="{w - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                   f'stroke-dasharray="2 4"/>'
                   f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick:.0f}</text>')
        tick += step
    out.append(f'<text x="14" y="{(h - bottom + top) / 2:.0f}" transform="rotate(-90 14 {(h - bottom + top) / 2:.0f})" '
               f'text-anchor="middle">lag (ms)</text>')
    out.append(f'<text x="{(w + left) / 2:.0f}" y="{h - 6}" text-anchor="middle">{Markup.escape(x_label)}</text>')
    label_every = max(1, len(points) // 12)
    if line and len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
        out.append(f'<polyline class="line" points="{path}"/>')
    for i, p in enumerate(points):
        cx, cy = x(i), y(p.value)
        if p.half_width:
            out.append(f'<line class="err" x1="{cx:.1f}" x2="{cx:.1f}" y1="{y(p.value + p.half_width):.1f}" '
                       f'y2="{y(p.value - p.half_width):.1f}"/>')
        cls = ("in" if p.inside else "out" if p.inside is False else "in") + (" uncertain" if p.uncertain else "")
        tip = f"{p.label}: {p.value:.0f} ms" + (f" ± {p.half_width:.0f}" if p.half_width else "") + (
            " (uncertain)" if p.uncertain else "")
        if p.inside is False:
            out.append(f'<rect class="dot {cls}" x="{cx - 5:.1f}" y="{cy - 5:.1f}" width="10" height="10">'
                       f"<title>{Markup.escape(tip)}</title></rect>")
        else:
            out.append(f'<circle class="dot {cls}" cx="{cx:.1f}" cy="{cy:.1f}" r="5.5">'
                       f"<title>{Markup.escape(tip)}</title></circle>")
        if i % label_every == 0:
            out.append(f'<text x="{cx:.1f}" y="{h - bottom + 16}" text-anchor="middle">'
                       f"{Markup.escape(p.label)}</text>")
    out.append("</svg>")
    return Markup("".join(out))


def rep_points(reps: list[RepMetric]) -> list[PlotPoint]:
    pts = []
    for i, r in enumerate(reps, 1):
        if r.lag_ms is None:
            continue
        half = Z95 * r.lag_se_ms if r.lag_se_ms else None
        # Uncertain: the 95 % interval of the lag reaches across an edge of the band.
        uncertain = half is not None and any(r.lag_ms - half < edge < r.lag_ms + half
                                             for edge in (r.target_low_ms, r.target_high_ms))
        inside = r.target_low_ms <= r.lag_ms <= r.target_high_ms
        pts.append(PlotPoint(str(i), r.lag_ms, half, uncertain, inside))
    return pts


def rep_table(reps: list[RepMetric]) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    cols = [(f, head, fmt) for f, head, fmt in REP_COLUMNS if any(getattr(r, f, None) is not None for r in reps)]
    rows = []
    for i, r in enumerate(reps, 1):
        pos = (f"{(r.block_index or 0) + 1} {r.block_kind or ''} · set {(r.set_index or 0) + 1} · rep {r.rep_in_set}"
               if r.block_index is not None and r.rep_in_set is not None else str(i))
        row = {"rep": pos, "in_window": "—" if r.in_window is None else ("in" if r.in_window else "out")}
        for f, _, fmt in cols:
            v = getattr(r, f, None)
            row[f] = "—" if v is None else fmt % v
        rows.append(row)
    return [(f, head) for f, head, _ in cols], rows


async def _own_session(request: Request, athlete_id: int, session_id: int) -> tuple[Any, Session]:
    reg = rest.registry_of(request)
    athlete = await rest.get_athlete(None, reg, athlete_id)
    s = await rest.get_session(None, reg, session_id)
    if s.athlete_id != athlete_id:
        raise HTTPException(404, detail=f"session {session_id} is not {athlete.name}'s")
    return athlete, s


async def _rep_store(request: Request) -> Any:
    try:
        return plan_routes.rep_store_of(request)
    except HTTPException:
        return None


async def athlete_analysis(request: Request, athlete_id: int, sessions: list[Session]) -> dict[str, Any]:
    """Trends over weeks and the load–velocity profile per exercise, for the athlete page."""
    reg, store = rest.registry_of(request), await _rep_store(request)
    if store is None:
        return {"no_store": "No rep store is configured: sessions are listed, their reps cannot be read."}
    out: dict[str, Any] = {"no_store": None}
    try:
        t = await plan_routes.get_trends("viewer", reg, store, athlete_id, TREND_WEEKS)
    except HTTPException as exc:
        out["trends_error"] = str(exc.detail)
    else:
        out["trends"] = t
        pts = [PlotPoint(w.week, w.lag_mean_ms, None, False,
                         None if t.target_ms is None else t.target_ms[0] <= w.lag_mean_ms <= t.target_ms[1])
               for w in t.weekly if w.lag_mean_ms is not None]
        out["trend_svg"] = lag_svg(pts, t.target_ms, title=f"Weekly mean lag over {t.weeks} weeks",
                                   x_label="ISO week", line=True) if pts else None
    profiles = []
    for ex in dict.fromkeys(s.exercise for s in sessions):
        try:
            lv = await load_velocity_routes.get_load_velocity("viewer", reg, store, athlete_id, Exercise(ex),
                                                              None, None)
        except HTTPException as exc:
            profiles.append({"exercise": ex, "error": str(exc.detail)})
            continue
        if lv.points:
            profiles.append({"exercise": ex, "lv": lv})
    out["profiles"] = profiles
    return out


@router.get("/athletes/{athlete_id}/sessions/{session_id}")
async def session_page(request: Request, athlete_id: int, session_id: int) -> Response:
    s = looking(request)
    if not isinstance(s, ConsoleSession):
        return s
    athlete, session = await _own_session(request, athlete_id, session_id)
    ctx: dict[str, Any] = {"athlete": athlete, "sess": session, "reps": [], "svg": None, "priming": None,
                           "priming_note": None, "no_store": None}
    store = await _rep_store(request)
    if store is None:
        ctx["no_store"] = "No rep store is configured: this session's reps cannot be read."
    else:
        try:
            reps = sorted(await store.session_reps(str(session_id)), key=lambda r: r.rep_peak_ns)
        except StorageUnavailable as exc:
            reps, ctx["no_store"] = [], f"The rep store is unavailable: {exc}"
        ctx["reps"] = reps
        pts = rep_points(reps)
        if pts:
            band = (reps[-1].target_low_ms, reps[-1].target_high_ms)
            ctx["svg"] = lag_svg(pts, band, title=f"Lag per rep of session {session_id}, target band "
                                 f"{band[0]:.0f}–{band[1]:.0f} ms", x_label="rep")
            ctx["uncertain"] = sum(p.uncertain for p in pts)
        ctx["columns"], ctx["rows"] = rep_table(reps)
        if any(r.block_kind == "priming" for r in reps):
            try:
                ctx["priming"] = await plan_routes.get_priming("viewer", rest.registry_of(request), store, athlete_id,
                                                               session_id)
            except HTTPException as exc:
                ctx["priming_note"] = str(exc.detail)
    return _page(request, "session.html", s, **ctx)


# downloads: the reports `kinesync report` writes, behind the console session


async def _pdf(html_text: str, stem: str) -> bytes:
    from kinesync.report.pdf import html_to_pdf

    with tempfile.TemporaryDirectory(prefix="kinesync-console-") as tmp:
        src, pdf = Path(tmp) / f"{stem}.html", Path(tmp) / f"{stem}.pdf"
        src.write_text(html_text, encoding="utf-8")
        why_not = await asyncio.to_thread(html_to_pdf, src, pdf)
        if why_not is not None:
            raise HTTPException(503, detail=why_not)
        return pdf.read_bytes()


async def _csv(write: Any, data: Any, stem: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="kinesync-console-") as tmp:
        path = Path(tmp) / f"{stem}.csv"
        write(data, path)
        return path.read_bytes()


def _download(content: bytes, name: str, media: str) -> Response:
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                        "Cache-Control": "no-store"})


def _need_store(request: Request) -> Any:
    return plan_routes.rep_store_of(request)  # 503 with the reason when there is none


@router.get("/athletes/{athlete_id}/sessions/{session_id}/report.{kind}")
async def session_report(request: Request, athlete_id: int, session_id: int, kind: str) -> Response:
    if current_session(request) is None:
        raise HTTPException(401, detail="sign in first (/console/login)")
    if kind not in ("pdf", "csv", "html"):
        raise HTTPException(404)
    await _own_session(request, athlete_id, session_id)
    from kinesync.report import render_html, write_csv
    from kinesync.report.data import from_reader

    try:
        data = await from_reader(_need_store(request), str(session_id))
    except LookupError as exc:
        raise HTTPException(404, detail=str(exc)) from exc
    except StorageUnavailable as exc:
        raise HTTPException(503, detail=f"rep store unavailable: {exc}") from exc
    stem = f"session-{session_id}"
    if kind == "csv":
        return _download(await _csv(write_csv, data, stem), f"{stem}.csv", "text/csv")
    page = await asyncio.to_thread(render_html, data)
    if kind == "html":
        return _download(page.encode(), f"{stem}.html", "text/html")
    return _download(await _pdf(page, stem), f"{stem}.pdf", "application/pdf")


@router.get("/athletes/{athlete_id}/trends.{kind}")
async def trends_report(request: Request, athlete_id: int, kind: str, weeks: int = TREND_WEEKS) -> Response:
    if current_session(request) is None:
        raise HTTPException(401, detail="sign in first (/console/login)")
    if kind not in ("pdf", "csv", "html") or not 1 <= weeks <= plan_routes.MAX_WEEKS:
        raise HTTPException(404)
    from kinesync.report.trends import render_trends_html, write_trends_csv

    t = await plan_routes.get_trends("viewer", rest.registry_of(request), _need_store(request), athlete_id, weeks)
    stem = f"trends-{athlete_id}"
    if kind == "csv":
        return _download(await _csv(write_trends_csv, t, stem), f"{stem}.csv", "text/csv")
    page = await asyncio.to_thread(render_trends_html, t)
    if kind == "html":
        return _download(page.encode(), f"{stem}.html", "text/html")
    return _download(await _pdf(page, stem), f"{stem}.pdf", "application/pdf")

# ==== alerts ====================================================================================

TEST_TIMEOUT_S = 5.0
BODY_EXCERPT = 500
RECENT = 50


def _list(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


async def _alerts_page(request: Request, s: ConsoleSession, code: int = 200, **ctx: Any) -> HTMLResponse:
    store = alerts_routes.get_store(request)
    subs = await alerts_routes.list_subscriptions("viewer", store)
    rows = await store.run(store.deliveries, None, RECENT)
    names = {x.id: x.name or x.url for x in subs}
    for key in ("errors", "values", "tests"):
        ctx.setdefault(key, {})
    ctx.setdefault("message", None)
    ctx.setdefault("created", None)
    return _page(request, "alerts.html", s, code, subs=subs, deliveries=rows, names=names, **ctx)


@router.get("/alerts", response_class=HTMLResponse)
async def alerts(request: Request) -> Response:
    s = looking(request)
    if not isinstance(s, ConsoleSession):
        return s
    return await _alerts_page(request, s)


@router.post("/alerts/subscriptions")
async def create_subscription(request: Request) -> Response:
    s, form = await _changing(request)
    values: dict[str, Any] = {
        "url": form.get("url", "").strip(), "format": form.get("format", "generic"),
        "name": form.get("name", "").strip() or None, "teams": _list(form.get("teams")),
        "athletes": _list(form.get("athletes")), "min_severity": form.get("min_severity", "info"),
        "send_resolved": form.get("send_resolved") == "on", "secret_env": form.get("secret_env", "").strip() or None,
    }
    try:
        body = SubscriptionIn.model_validate(values)
    except ValidationError as exc:
        return await _alerts_page(request, s, 422, errors=_field_errors(exc), values=form)
    created = await alerts_routes.create_subscription(body, "admin", alerts_routes.get_store(request))
    return await _alerts_page(request, s, created=created, message=f"Subscribed {created.name or created.url}.")


@router.post("/alerts/subscriptions/{sub_id}/delete")
async def delete_subscription(request: Request, sub_id: str) -> Response:
    s, _ = await _changing(request)
    try:
        await alerts_routes.delete_subscription(sub_id, "admin", alerts_routes.get_store(request))
    except HTTPException as exc:
        return await _alerts_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _alerts_page(request, s, message="Subscription deleted.")


def sample_event() -> AlertEvent:
    now = time.time_ns()
    return AlertEvent(rule="console-test", station="console", athlete=None, state="firing", severity="info",
                      kind="test", message="Test alert from the KineSync console: this subscription works.",
                      at_ns=now, fired_at_ns=now)


async def send_test(request: Request, sub_id: str) -> dict[str, Any]:
    """Post a test alert to the subscription; the receiver's answer (status, body excerpt) or the error."""
    store = alerts_routes.get_store(request)
    sub = await store.run(store.subscription, sub_id)
    if sub is None:
        raise HTTPException(404, detail=f"no subscription {sub_id!r}")
    try:
        body, headers = webhook_request(sub, sample_event())
    except Permanent as exc:
        return {"error": str(exc)}
    client = getattr(request.app.state, "console_http", None)  # a test may put a client here
    try:
        if client is None:
            async with httpx.AsyncClient(timeout=TEST_TIMEOUT_S, follow_redirects=False) as c:
                resp = await c.post(str(sub.url), content=body, headers=headers)
        else:
            resp = await client.post(str(sub.url), content=body, headers=headers)
    except httpx.HTTPError as exc:
        return {"error": f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__}
    text = resp.text
    return {"status": resp.status_code, "ok": 200 <= resp.status_code < 300, "body": text[:BODY_EXCERPT],
            "cut": len(text) > BODY_EXCERPT}


@router.post("/alerts/subscriptions/{sub_id}/test")
async def test_subscription(request: Request, sub_id: str) -> Response:
    s, _ = await _changing(request)
    try:
        result = await send_test(request, sub_id)
    except HTTPException as exc:
        return await _alerts_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    if _is_htmx(request):
        return _page(request, "alert_test.html", s, sub_id=sub_id, result=result)
    return await _alerts_page(request, s, tests={sub_id: result})
