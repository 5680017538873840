"""The personal target window of the athlete on a station (``/api/v1/stations/{id}/personal-window``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PersonalWindowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["fixed", "personal"] | None = Field(None, description="which window judges; omitted: unchanged")
    locked: bool | None = Field(None, description="true freezes the current window, false resumes learning")


class PersonalWindowOut(BaseModel):
    station: str
    session_id: int
    athlete_id: int
    exercise: str
    mode: Literal["fixed", "personal"]
    locked: bool
    low_ms: float | None = Field(None, description="the window judging now (the last one the analyzer used), ms")
    high_ms: float | None = None
    source: Literal["fixed", "personal", "locked"] | None = Field(None, description="which window that is")
    stored_low_ms: float | None = Field(None, description="last learned or locked window kept for restarts, ms")
    stored_high_ms: float | None = None
