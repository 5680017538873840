"""Records of the facility (teams, athletes, stations, sessions, targets) and the inputs that change them.

The registry takes the ``*In``/``*Patch`` models and returns the others; the HTTP API uses the same
classes as request and response bodies, so what the API validates is exactly what the store accepts.
Every string that reaches SQLite or Kafka is checked here, at the boundary: lengths, a pattern for
station and device ids (station ids are Kafka keys and tags in storage, device ids what devices name
themselves in frames), and no lone surrogates (valid JSON, but not encodable as UTF-8, so they would
otherwise fail deep inside the store as a 500).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from kinesync.training.plan_models import SessionPlan

T = TypeVar("T")

# Station ids are what devices put in frames and what Kafka uses as key: keep them plain.
STATION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$"
# SQLite integers are signed 64-bit; larger ids in a path would overflow in the driver.
MAX_ID = 2**53
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 1_000_000


def _utf8(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("text must be valid UTF-8 (no lone surrogates)") from exc
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_utf8)]
StationId = Annotated[str, StringConstraints(pattern=STATION_ID_PATTERN)]
LagMs = Annotated[float, Field(ge=-100.0, le=400.0, description="ms; the analyzer searches −100…+400 ms")]
# Wide enough for a junior gymnast and a heavyweight thrower; a value outside is a typo (lb, g), not a person.
BodyMassKg = Annotated[float, Field(ge=20.0, le=250.0, allow_inf_nan=False, description="body mass, kg (20–250)")]
Side = Literal["left", "right"]
MAX_DEVICES = 32  # EMG sensors, two plates and a bar sensor per rack, with room to spare


def _distinct(ids: list[str]) -> list[str]:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ValueError(f"device id {i!r} is listed twice")
        seen.add(i)
    return ids


DeviceIds = Annotated[
    list[Annotated[str, StringConstraints(pattern=STATION_ID_PATTERN)]],
    Field(max_length=MAX_DEVICES, description="the device names the station's devices put in their frames; a "
          "device belongs to one station at most"),
    AfterValidator(_distinct),
]


class Exercise(StrEnum):
    """Movements the analyzer knows (the simulator and docs/metrics.md use the same names)."""

    back_squat = "back_squat"
    bench_press = "bench_press"
    push_press = "push_press"
    squat_jump = "squat_jump"


class _In(BaseModel):
    # Unknown fields are an error, not silently dropped: a typo must not look like success.
    model_config = ConfigDict(extra="forbid")


class Page(BaseModel, Generic[T]):
    """One page of a list; ``total`` counts every matching item."""

    items: list[T]
    total: int = Field(ge=0)
    limit: int = Field(ge=1)
    offset: int = Field(ge=0)


# teams


class TeamIn(_In):
    name: Name


class TeamPatch(_In):
    # Not nullable: an explicit null is a 422, leaving the field out keeps the name.
    name: Name = Field(None, validate_default=False)  # type: ignore[assignment]


class Team(BaseModel):
    id: int
    name: str


# athletes


DOMINANT = "the athlete's dominant (preferred) side, as the coach knows it; the analyzer does not use it"


class AthleteIn(_In):
    name: Name
    team_id: int | None = Field(None, ge=1, le=MAX_ID, description="team of the athlete, if any")
    body_mass_kg: BodyMassKg | None = None
    dominant_side: Side | None = Field(None, description=DOMINANT)


class AthletePatch(_In):
    name: Name = Field(None, validate_default=False)  # type: ignore[assignment]
    team_id: int | None = Field(None, ge=1, le=MAX_ID, description="null takes the athlete out of its team")
    body_mass_kg: BodyMassKg | None = Field(None, description="body mass, kg (20–250); null clears it")
    dominant_side: Side | None = Field(None, description=DOMINANT + "; null clears it")


class Athlete(BaseModel):
    id: int
    name: str
    team_id: int | None = None
    body_mass_kg: float | None = Field(None, description="body mass, kg")
    dominant_side: Side | None = Field(None, description=DOMINANT)


# stations


BAR_SENSOR = ("the station has a bar sensor (linear position transducer or IMU on kinesync.velocity): its windows "
              "wait for it")


class StationIn(_In):
    id: StationId = Field(description="the station key devices use in their frames, e.g. station-01")
    label: Name | None = Field(None, description="what the wall shows, if not the id")
    bar_sensor: bool = Field(False, description=BAR_SENSOR)
    device_ids: DeviceIds = Field(default_factory=list)


class StationPatch(_In):
    label: Name | None = None
    bar_sensor: bool = Field(None, validate_default=False, description=BAR_SENSOR)  # type: ignore[assignment]
    # Not nullable, like the name: leave it out to keep the list, [] to clear it.
    device_ids: DeviceIds = Field(None, validate_default=False)  # type: ignore[assignment]


class Station(BaseModel):
    id: str
    label: str | None = None
    bar_sensor: bool = Field(False, description=BAR_SENSOR)
    device_ids: list[str] = Field(default_factory=list, description="the station's devices, in the order given")
    active_session_id: int | None = Field(None, description="the running session on this station, if any")


# target windows


class TargetIn(_In):
    low_ms: LagMs
    high_ms: LagMs

    @model_validator(mode="after")
    def _ordered(self) -> TargetIn:
        if self.low_ms >= self.high_ms:
            raise ValueError("low_ms must be below high_ms")
        return self


class Target(BaseModel):
    athlete_id: int
    exercise: Exercise
    low_ms: float
    high_ms: float
    default: bool = Field(description="true when no target was set and the facility default applies")


# sessions


class SessionIn(_In):
    station_id: StationId
    athlete_id: int = Field(ge=1, le=MAX_ID)
    exercise: Exercise
    plan_id: int | None = Field(None, ge=1, le=MAX_ID, description="plan template to follow (GET /plans)")


class Session(BaseModel):
    id: int
    station_id: str
    athlete_id: int
    athlete_name: str
    team_name: str | None = None
    exercise: Exercise
    target_low_ms: float
    target_high_ms: float
    started_at_ns: int = Field(description="wall-clock start, ns since the epoch")
    stopped_at_ns: int | None = Field(None, description="wall-clock stop, ns; null while running")
    active: bool
    plan_id: int | None = Field(None, description="the template the session's plan was copied from")
    plan: SessionPlan | None = Field(None, description="the plan the analyzer counts reps through")
    plan_block_index: int = Field(0, description="block the count (re)started at, 0-based")
    plan_set_index: int = Field(0, description="set within that block, 0-based")
    plan_position_ns: int = Field(0, description="when a coach last set the position, ns (0: at the start)")
    bar_sensor: bool = Field(False, description="the station's bar sensor setting, taken at the start and followed "
                             "while the session runs; published with the session")
