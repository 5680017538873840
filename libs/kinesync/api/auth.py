"""Bearer tokens for the facility API: an admin token for writes, a viewer token for reads.

Tokens come from the environment (``KINESYNC_API_ADMIN_TOKEN``, ``KINESYNC_API_VIEWER_TOKEN``) or
their SHA-256 hashes (``..._SHA256``), never from the repository. Only hashes are kept in memory
and candidates are compared in constant time. The admin token may also read. With no token
configured, writes are refused (503 with what to set) and reads are open, which suits the
embedded demo on 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kinesync.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="Bearer token: admin for writes, viewer or admin for reads")


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiTokens:
    admin_sha256: str | None = None
    viewer_sha256: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiTokens:
        def pick(token, digest) -> str | None:
            if token is not None and token.get_secret_value():
                return sha256_hex(token.get_secret_value())
            return digest.lower() if digest else None

        return cls(
            admin_sha256=pick(settings.api_admin_token, settings.api_admin_token_sha256),
            viewer_sha256=pick(settings.api_viewer_token, settings.api_viewer_token_sha256),
        )

    def role_of(self, token: str | None) -> str | None:
        """'admin', 'viewer' or None; every configured hash is compared, in constant time."""
        if not token:
            return None
        digest = sha256_hex(token)
        is_admin = self.admin_sha256 is not None and hmac.compare_digest(digest, self.admin_sha256)
        is_viewer = self.viewer_sha256 is not None and hmac.compare_digest(digest, self.viewer_sha256)
        return "admin" if is_admin else "viewer" if is_viewer else None


def _tokens(request: Request) -> ApiTokens:
    tokens = getattr(request.app.state, "tokens", None)
    return tokens if isinstance(tokens, ApiTokens) else ApiTokens()


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"})


async def require_admin(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    """FastAPI dependency for every write endpoint."""
    tokens = _tokens(request)
    if tokens.admin_sha256 is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE,
                            detail="writes are disabled: set KINESYNC_API_ADMIN_TOKEN on the API service")
    if creds is None:
        raise _unauthorized("missing bearer token (Authorization: Bearer <admin token>)")
    role = tokens.role_of(creds.credentials)
    if role is None:
        raise _unauthorized("invalid token")
    if role != "admin":
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="this token may read but not write")
    return role


async def require_viewer(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str | None:
    """FastAPI dependency for read endpoints: open when no token is configured at all."""
    tokens = _tokens(request)
    if tokens.admin_sha256 is None and tokens.viewer_sha256 is None:
        return None
    if creds is None:
        raise _unauthorized("missing bearer token (Authorization: Bearer <viewer or admin token>)")
    role = tokens.role_of(creds.credentials)
    if role is None:
        raise _unauthorized("invalid token")
    return role


AdminDep = Annotated[str, Depends(require_admin)]
ViewerDep = Annotated[str | None, Depends(require_viewer)]
