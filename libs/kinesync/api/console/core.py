"""Console core: the session cookie, CSRF, the page renderer, sign-in and the static files.

Nothing comes from the internet at run time: htmx and the style sheet are files of this package
(``static/console``). Every change goes through the REST route functions of ``kinesync.api.routes``
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

from kinesync.api.auth import ApiTokens

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


class Redirect(Exception):
    def __init__(self, to: str) -> None:
        self.to = to


def need_session(request: Request) -> ConsoleSession:
    s = current_session(request)
    if s is None:
        raise Redirect(f"{PREFIX}/login")
    return s


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != FORM_TYPE:
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, detail=f"send {FORM_TYPE}")
    parsed = parse_qs((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


async def changing_request(request: Request) -> tuple[ConsoleSession, dict[str, str]]:
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


def render_page(request: Request, template: str, s: ConsoleSession | None, code: int = 200, **ctx: Any) -> HTMLResponse:
    body = _env.get_template(template).render(
        prefix=PREFIX, session=s, title=getattr(request.app, "title", "KineSync"), **ctx)
    # Pages carry the CSRF token and live data: never cached, never framed.
    return HTMLResponse(body, status_code=code, headers={
        "Cache-Control": "no-store", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
        "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
                                   "frame-ancestors 'none'; form-action 'self'",
    })


def is_htmx(request: Request) -> bool:
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
    response = render_page(request, "login.html", None, code, csrf=token, error=error, configured=configured)
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
