"""What the wall shows: one tile per station (``GET /api/stations`` and the ``/ws/stations`` push)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from kinesync.analysis.cues import SetLag

STALE_AFTER_S = 5.0


class StationStatus(BaseModel):
    """One wall tile."""

    station: str
    athlete: str | None = None
    team: str | None = None
    exercise: str | None = None
    session: str | None = None
    lag_ms: float | None = Field(None, description="latest real lag (from the last window with a rep)")
    in_window: bool | None = None
    coupling: float | None = None
    lag_age_s: float | None = Field(None, description="seconds since the record that carried lag_ms arrived")
    alignment: float | None = None
    rfd_0_100_n_per_s: float | None = None
    peak_propulsive_force_n: float | None = None
    body_weight_n: float | None = None
    transfer_index: float | None = Field(None, description="latest force transfer index, 0..1")
    mean_concentric_velocity_m_s: float | None = Field(None, description="latest mean concentric bar velocity, m/s")
    set_lag: SetLag | None = Field(
        None, description="mean lag of the current (or last) set of this athlete with its 95 % interval, from the "
        "rep records")
    last_alert: str | None = Field(None, description="message of the station's latest alert event")
    last_alert_state: Literal["firing", "resolved"] | None = None
    last_alert_age_s: float | None = Field(None, description="seconds since that alert event arrived")
    target_low_ms: float
    target_high_ms: float
    target_source: Literal["fixed", "personal", "locked"] = Field("fixed", description="which window judges")
    partial: bool = False
    window_start_ns: int
    updated_at: str = Field(description="ISO-8601 UTC wall-clock time the last record arrived")
    age_s: float = Field(description="seconds since the last record arrived")
    stale: bool = Field(description=f"no record for more than {STALE_AFTER_S:g} s")
