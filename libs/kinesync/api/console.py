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
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs

import jinja2
from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError

from kinesync.api import facility_routes as rest
from kinesync.api.auth import ApiTokens
from kinesync.api.facility_models import MAX_ID, MAX_LIMIT, AthleteIn, AthletePatch, Exercise, SessionIn
from kinesync.api.plan_registry import PlanTemplates
from kinesync.api.registry import Registry

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


# floor


class Card(BaseModel):
    station: str
    label: str | None
    session: Any = None  # facility Session or None
    live: Any = None  # StationStatus or None
    plan_text: str | None = None
    reps_in_set: int | None = None


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
    cards = []
    for st in stations:
        if only is not None and st.id != only:
            continue
        s = running.get(st.id)
        lv = live.get(st.id)
        reps = lv.set_lag.n if lv is not None and lv.set_lag is not None else None
        cards.append(Card(station=st.id, label=st.label, session=s, live=lv, plan_text=_plan_text(s),
                          reps_in_set=reps))
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


def _int(value: str | None) -> int | str | None:
    if value is None or value.strip() == "":
        return None
    try:
        return int(value)
    except ValueError:
        return value  # pydantic says what is wrong with it


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
    return _page(request, "athlete.html", s, athlete=athlete, teams=(await reg.list_teams(MAX_LIMIT, 0)).items,
                 errors={}, values={"name": athlete.name, "team_id": athlete.team_id or ""}, sessions=sessions,
                 message=None)


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
        return _page(request, "athlete.html", s, 422, athlete=athlete, teams=teams, errors=_field_errors(exc),
                     values=form, sessions=sessions, message=None)
    try:
        athlete = await rest.update_athlete("admin", reg, athlete_id, body)
    except HTTPException as exc:
        return _page(request, "athlete.html", s, exc.status_code, athlete=athlete, teams=teams,
                     errors={"_": str(exc.detail)}, values=form, sessions=sessions, message=None)
    return _page(request, "athlete.html", s, athlete=athlete, teams=teams, errors={}, sessions=sessions,
                 values={"name": athlete.name, "team_id": athlete.team_id or ""}, message="Saved.")


@router.post("/athletes/{athlete_id}/delete")
async def delete_athlete(request: Request, athlete_id: int) -> Response:
    s, _form_values = await _changing(request)
    try:
        await rest.delete_athlete("admin", rest.registry_of(request), athlete_id)
    except HTTPException as exc:
        return await _athletes_page(request, s, exc.status_code, errors={"_": str(exc.detail)})
    return await _athletes_page(request, s, message=f"Deleted athlete {athlete_id}.")
