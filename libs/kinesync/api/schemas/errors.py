"""The error body every route answers with, and the ``responses=`` declarations of the OpenAPI document."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]

_MEANING = {400: "the body is not valid JSON", 401: "missing or invalid token", 403: "token may read but not write",
            404: "not found", 409: "conflicts with the current state",
            503: "writes disabled (no admin token) or Kafka unreachable"}
NO_REPS = "no rep store configured, or its database is unavailable"


class ErrorOut(BaseModel):
    detail: str


def error_responses(*codes: int) -> Responses:
    return {c: {"model": ErrorOut, "description": _MEANING[c]} for c in codes}


READ_ERRORS = error_responses(401, 404)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 503)
# 409: no running session on the station; 503: registry or personal-window store not configured
PERSONAL_READ_ERRORS = error_responses(401, 404, 409, 503)
# The analyses read reps from the database the writer fills, which may be missing or down.
ANALYSIS_ERRORS: Responses = {**READ_ERRORS, 503: {"description": NO_REPS}}
