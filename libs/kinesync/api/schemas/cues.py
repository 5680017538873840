"""Cue latency as ``GET /api/v1/cues/latency`` reports it (the cues themselves: ``kinesync.analysis.cues.Cue``)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from kinesync.api.cue_hub import LatencyStats


def _tenth(v: float | None) -> float | None:
    return None if v is None else round(v, 1)


class LatencyOut(BaseModel):
    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None

    @classmethod
    def of(cls, s: LatencyStats) -> LatencyOut:
        return cls(count=s.count, p50_ms=_tenth(s.p50_ms), p99_ms=_tenth(s.p99_ms), max_ms=_tenth(s.max_ms))


class CueLatencyOut(BaseModel):
    shown: LatencyOut = Field(description="rep end → painted in a station view (views acknowledge each cue)")
    pushed: LatencyOut = Field(description="rep end → sent by the API")
