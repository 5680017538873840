"""Per-device bearer tokens, stored hashed and compared in constant time.

Tokens are 32 random bytes (``new_token``), so a plain SHA-256 is enough: there is nothing to
brute-force that a slow password hash would protect. The file holds only hashes::

    {"devices": {"trigno-rack-1": {"sha256": "9f86d0...", "stations": ["rack-1"]}}}

``stations: ["*"]`` lets a device (a vendor bridge) publish for any station.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError


class DeviceGrant(BaseModel):
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    stations: list[str] = Field(min_length=1)

    def allows(self, station: str) -> bool:
        return "*" in self.stations or station in self.stations


class TokenFile(BaseModel):
    devices: dict[str, DeviceGrant] = Field(default_factory=dict)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class TokenStore:
    def __init__(self, grants: dict[str, DeviceGrant] | None = None) -> None:
        self.grants = dict(grants or {})

    @classmethod
    def load(cls, path: str | Path | None) -> TokenStore:
        if path is None:
            return cls()
        p = Path(path)
        if not p.exists():
            return cls()
        try:
            return cls(TokenFile.model_validate(json.loads(p.read_text(encoding="utf-8"))).devices)
        except (json.JSONDecodeError, ValidationError) as exc:
            raise ValueError(f"device tokens file {p} is invalid: {exc}") from exc

    def save(self, path: str | Path) -> None:
        p = Path(path)
        p.write_text(TokenFile(devices=self.grants).model_dump_json(indent=2) + "\n", encoding="utf-8")
        p.chmod(0o600)

    def add(self, device: str, stations: list[str]) -> str:
        """Register ``device`` and return its new token (shown once; only the hash is kept)."""
        token = new_token()
        self.grants[device] = DeviceGrant(sha256=hash_token(token), stations=stations)
        return token

    def authenticate(self, token: str) -> tuple[str, DeviceGrant] | None:
        """The device a token belongs to. Every stored hash is compared (constant time each), so the
        time taken does not reveal which device or how many characters matched."""
        digest = hash_token(token)
        found: tuple[str, DeviceGrant] | None = None
        for device, grant in self.grants.items():
            if hmac.compare_digest(digest, grant.sha256):
                found = (device, grant)
        return found
