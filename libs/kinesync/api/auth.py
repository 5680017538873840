"""Bearer tokens for the facility API: an admin token for writes, a viewer token for reads.

Tokens come from the environment (``KINESYNC_API_ADMIN_TOKEN``, ``KINESYNC_API_VIEWER_TOKEN``) or
their SHA-256 hashes (``..._SHA256``), never from the repository. Only hashes are kept in memory
and candidates are compared in constant time. The admin token may also read. With no token
configured, writes are refused (503 with what to set) and reads are open, which suits the
embedded demo on 127.0.0.1. The FastAPI dependencies that check them are in ``kinesync.api.deps``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from kinesync.settings import Settings


def sha256_hex(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiTokens:
    admin_sha256: str | None = None
    viewer_sha256: str | None = None
    open_reads: bool = False  # reads need no token although tokens are configured (kinesync run's demo)

    @property
    def reads_open(self) -> bool:
        return self.open_reads or (self.admin_sha256 is None and self.viewer_sha256 is None)

    @classmethod
    def from_settings(cls, settings: Settings) -> ApiTokens:
        def pick(token, digest) -> str | None:
            if token is not None and token.get_secret_value():
                return sha256_hex(token.get_secret_value())
            return digest.lower() if digest else None

        return cls(
            admin_sha256=pick(settings.api_admin_token, settings.api_admin_token_sha256),
            viewer_sha256=pick(settings.api_viewer_token, settings.api_viewer_token_sha256),
            open_reads=settings.api_open_reads,
        )

    def role_of(self, token: str | None) -> str | None:
        """'admin', 'viewer' or None; every configured hash is compared, in constant time."""
        if not token:
            return None
        digest = sha256_hex(token)
        is_admin = self.admin_sha256 is not None and hmac.compare_digest(digest, self.admin_sha256)
        is_viewer = self.viewer_sha256 is not None and hmac.compare_digest(digest, self.viewer_sha256)
        return "admin" if is_admin else "viewer" if is_viewer else None
