"""The registry's and the session publisher's failures as HTTP answers, for every route that meets them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from fastapi import HTTPException, status

from kinesync.api.sessions_out import PublishError, SessionSink
from kinesync.facility.models import Session
from kinesync.facility.registry import Conflict, NotFound, assignment_of


@contextlib.contextmanager
def registry_errors() -> Iterator[None]:
    """NotFound → 404, Conflict → 409, with the registry's own message."""
    try:
        yield
    except NotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=str(exc)) from exc
    except Conflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, detail=str(exc)) from exc


async def publish_session(sink: SessionSink, s: Session) -> None:
    """On ``kinesync.sessions``, or 503: the registry has it and the sink retries it."""
    try:
        await sink.publish(assignment_of(s))
    except PublishError as exc:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=f"session {s.id} saved but not yet published to kinesync.sessions ({exc}); retried automatically",
        ) from exc
