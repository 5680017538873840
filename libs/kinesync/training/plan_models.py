"""A session plan: blocks of sets (priming, working, control), as coaches write them and the analyzer reads them.

Plain pydantic models with no other KineSync import, so the wire record (``SessionAssignment``) can
carry a plan without an import cycle.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Reps in one set are a few seconds apart; a rest between sets is tens of seconds. A pause longer than
# this ends the set early (the athlete racked the bar before the target count).
DEFAULT_SET_GAP_S = 15.0


class BlockKind(StrEnum):
    """What a block is for in the priming comparison (docs/metrics.md, "Priming effect")."""

    priming = "priming"  # low-load explosive reps before the working sets
    working = "working"  # the sets whose metrics the priming effect judges
    control = "control"  # unprimed sets of the same session: a within-session baseline


class PlanBlock(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: BlockKind
    exercise: str = Field(min_length=1, max_length=64, description="movement, e.g. back_squat")
    sets: int = Field(ge=1, le=50)
    reps_per_set: int = Field(ge=1, le=100, description="target reps per set")
    rest_s: float = Field(120.0, ge=0.0, le=3600.0, description="planned rest between sets, s")
    load_kg: float | None = Field(None, ge=0.0, le=1000.0, description="planned external load, kg")


class SessionPlan(BaseModel):
    """The sequence of blocks a session follows; a copy travels with the session's assignment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    blocks: tuple[PlanBlock, ...] = Field(min_length=1, max_length=50)
    set_gap_s: float = Field(
        DEFAULT_SET_GAP_S, gt=0.0, le=3600.0,
        description="a pause between reps longer than this starts the next set, s",
    )

    @model_validator(mode="after")
    def _total(self) -> SessionPlan:
        if sum(b.sets for b in self.blocks) > 500:
            raise ValueError("a plan holds at most 500 sets")
        return self

    @property
    def has_priming(self) -> bool:
        return any(b.kind == BlockKind.priming for b in self.blocks)
