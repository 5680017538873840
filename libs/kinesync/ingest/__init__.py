"""HTTP ingest for devices and vendor bridges: POST /v1/frames, WebSocket /v1/stream, gateway health."""

from kinesync.ingest.app import create_gateway_app
from kinesync.ingest.tokens import DeviceGrant, TokenStore, hash_token, new_token

__all__ = ["DeviceGrant", "TokenStore", "create_gateway_app", "hash_token", "new_token"]
