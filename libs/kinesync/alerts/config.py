"""Rule specifications: what the rules file and the API accept (syntax in docs/alerts.md).

One pydantic model per rule kind, discriminated by ``kind``, so a typo in a parameter name is an
error at load time rather than a rule that silently never fires.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from kinesync.alerts.rules import Severity

RULE_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"


def _as_list(value: object) -> object:
    # "team: first-team" in a YAML file reads naturally; store it as a one-element list.
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return value


class Scope(BaseModel):
    """Which metrics a rule (or subscription) applies to; an empty list means any."""

    model_config = ConfigDict(extra="forbid")

    teams: list[str] = Field(default_factory=list)
    athletes: list[str] = Field(default_factory=list)
    exercises: list[str] = Field(default_factory=list)

    _norm = field_validator("teams", "athletes", "exercises", mode="before")(_as_list)

    def matches(self, team: str | None, athlete: str | None, exercise: str | None) -> bool:
        return (
            (not self.teams or team in self.teams)
            and (not self.athletes or athlete in self.athletes)
            and (not self.exercises or exercise in self.exercises)
        )


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=RULE_ID, description="unique name; appears in alerts and idempotency keys")
    severity: Severity = "warning"
    scope: Scope = Field(default_factory=Scope)
    cooldown_s: float = Field(
        300.0, ge=0, description="event time after a firing before the same athlete may fire again, s"
    )
    enabled: bool = True
    description: str | None = None


class LagOutOfWindowRule(_RuleBase):
    """Phase lag outside the athlete's target window in ``n`` of the last ``m`` reps."""

    kind: Literal["lag_out_of_window"] = "lag_out_of_window"
    n: int = Field(3, ge=1)
    m: int = Field(5, ge=1)
    resolve_at_most: int = Field(1, ge=0, description="resolves when at most this many of the last m are out")

    @model_validator(mode="after")
    def _check(self) -> LagOutOfWindowRule:
        if self.n > self.m:
            raise ValueError(f"n ({self.n}) must not exceed m ({self.m})")
        if self.resolve_at_most >= self.n:
            raise ValueError("resolve_at_most must be below n, or the alert would flap")
        return self


class AlignmentBelowRule(_RuleBase):
    """Alignment score (share of the last reps in window) below ``below``."""

    kind: Literal["alignment_below"] = "alignment_below"
    below: float = Field(0.6, ge=0, le=1)
    hysteresis: float = Field(0.1, ge=0, le=1, description="resolves at below + hysteresis")


class TransferDropRule(_RuleBase):
    """Force transfer index more than ``drop_pct`` % below the athlete's own rolling baseline."""

    kind: Literal["transfer_drop"] = "transfer_drop"
    drop_pct: float = Field(20.0, gt=0, lt=100)
    baseline_reps: int = Field(20, ge=2, description="reps in the rolling baseline (median)")
    min_baseline_reps: int = Field(5, ge=1, description="no judgement before this many baseline reps")
    recent_reps: int = Field(3, ge=1, description="the current value is the mean of this many latest reps")


class SignalLossRule(_RuleBase):
    """Partial windows (a sensor stopped) or flat/gap channel flags for longer than ``seconds``."""

    kind: Literal["signal_loss"] = "signal_loss"
    seconds: float = Field(5.0, gt=0)


class PipelineLagRule(_RuleBase):
    """Time from a window's end to its arrival at the alerts service above ``max_lag_s``."""

    kind: Literal["pipeline_lag"] = "pipeline_lag"
    max_lag_s: float = Field(5.0, gt=0)
    resolve_below_s: float | None = Field(None, gt=0, description="default: half of max_lag_s")


RuleSpec = Annotated[
    LagOutOfWindowRule | AlignmentBelowRule | TransferDropRule | SignalLossRule | PipelineLagRule,
    Field(discriminator="kind"),
]
RULE_ADAPTER: TypeAdapter[RuleSpec] = TypeAdapter(RuleSpec)


class RuleFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rules: list[RuleSpec] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> RuleFile:
        ids = [r.id for r in self.rules]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate rule ids: {', '.join(sorted(dup))}")
        return self


# Used when neither the rules file nor the API defines any rule: the behaviour of the first
# release (lag drift, 3 of 5 reps, 60 s cooldown), so an unconfigured floor still gets alerts.
DEFAULT_RULES: tuple[RuleSpec, ...] = (LagOutOfWindowRule(id="lag-drift", n=3, m=5, cooldown_s=60.0),)


def parse_rules(text: str, *, suffix: str = ".yaml") -> list[RuleSpec]:
    """Rules from YAML (``.yaml``/``.yml``) or JSON text: ``{"rules": [...]}`` or a bare list."""
    if suffix.lower() in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text)
    else:
        data = json.loads(text)
    if isinstance(data, list):
        data = {"rules": data}
    return list(RuleFile.model_validate(data or {}).rules)


def load_rules_file(path: str | Path) -> list[RuleSpec]:
    p = Path(path)
    return parse_rules(p.read_text(encoding="utf-8"), suffix=p.suffix)
