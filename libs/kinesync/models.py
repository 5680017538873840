"""Records that leave the analyzer: one schema for Kafka, storage and the API.

Every record forbids unknown fields: a misspelled field name is an error instead of a field left at
its default. The one exception is JSON written by an earlier version (stored rows, messages still
on a topic), which may carry fields since retired: decoding JSON drops exactly those names
(``RETIRED_FIELDS``) and nothing else.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from kinesync.training.plan_models import SessionPlan

TargetSource = Literal["fixed", "personal", "locked"]


class _Record(BaseModel):
    """A record on the wire and in storage."""

    model_config = ConfigDict(extra="forbid")

    # Fields earlier versions of the record carried and this one does not. Their values meant something
    # else than any current field, so they are dropped, never mapped onto a current field.
    RETIRED_FIELDS: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="before")
    @classmethod
    def _drop_retired(cls, data: Any, info: ValidationInfo) -> Any:
        # Only in JSON, the form records are sent and stored in (a reader that rebuilds them from another
        # stored form, InfluxDB points, drops RETIRED_FIELDS itself). A record built in code with a
        # retired name is a mistake like any unknown name.
        if info.mode == "json" and isinstance(data, dict) and not cls.RETIRED_FIELDS.isdisjoint(data):
            return {k: v for k, v in data.items() if k not in cls.RETIRED_FIELDS}
        return data


class WindowMetric(_Record):
    """Metrics of one event-time sliding window of one station (topic ``kinesync.metrics``).

    ``window_start_ns`` plus ``station`` identify a window: a replay of the same data gives the
    same key, so storage overwrites instead of duplicating.
    """

    model_config = ConfigDict(frozen=True)
    # peak_force_n: the peak over the whole rep, a jump's landing included (now peak_propulsive_force_n);
    # mean_velocity_m_s: between 0.05 m/s thresholds (now mean_concentric_velocity_m_s).
    RETIRED_FIELDS: ClassVar[frozenset[str]] = frozenset({"peak_force_n", "mean_velocity_m_s"})

    station: str
    athlete: str | None = None
    team: str | None = None
    exercise: str | None = None
    session: str | None = None
    window_start_ns: int = Field(description="facility time of the window start, ns since epoch")
    window_end_ns: int = Field(description="facility time of the window end (exclusive), ns")
    partial: bool = Field(False, description="emitted after the bounded wait without all sensor data")
    rep_peak_ns: int | None = Field(None, description="time of the leg-drive envelope peak owned by this window")
    lag_ms: float | None = Field(None, description="pectoral activation peak minus leg-drive activation peak, ms")
    coupling: float | None = Field(None, description="peak normalised cross-correlation, 0..1")
    in_window: bool | None = Field(None, description="lag within the target window")
    target_low_ms: float = 80.0
    target_high_ms: float = 120.0
    target_source: TargetSource = Field("fixed", description="which window judged: fixed, personal or locked")
    alignment: float | None = Field(None, description="share of the last N lags in the target window, 0..1")
    body_weight_n: float | None = Field(None, description="vertical force of quiet standing, N")
    force_onset_ns: int | None = Field(None, description="first departure from body weight in the window, ns")
    rfd_0_100_n_per_s: float | None = Field(
        None, description="mean RFD 0-100 ms of the owned rep, from the start of propulsion (from onset for a "
        "movement from rest), N/s")
    peak_propulsive_force_n: float | None = Field(
        None, description="peak vertical force of the owned rep's propulsion (never the landing), N")
    transfer_index: float | None = Field(None, description="share of propulsive impulse while the chest is active")
    mean_concentric_velocity_m_s: float | None = Field(
        None, description="mean concentric bar velocity of the owned rep (zero crossing to zero crossing), m/s")
    flags: list[str] = Field(default_factory=list, description="signal-quality problems of the owned rep")
    emitted_at_ns: int = Field(0, description="wall-clock time the analyzer emitted this record, ns")

    def key(self) -> bytes:
        return self.station.encode()


class RepMetric(_Record):
    """Everything measured for one repetition (topic ``kinesync.reps``).

    Identified by station and ``rep_peak_ns`` (the leg-drive envelope peak, or the force peak on a
    station without EMG), which a replay reproduces exactly.
    """

    model_config = ConfigDict(frozen=True)
    # Replaced by the force-plate phase metrics (peak_propulsive_force_n, propulsive_impulse_n_s, the
    # per-phase asymmetry_*_pct) and by the bar's zero-crossing phase (mean/peak_concentric_velocity_m_s).
    RETIRED_FIELDS: ClassVar[frozenset[str]] = frozenset({
        "peak_force_n", "net_impulse_n_s", "asymmetry_peak_pct", "asymmetry_impulse_pct", "mean_velocity_m_s",
        "peak_velocity_m_s",
    })

    station: str
    athlete: str | None = None
    team: str | None = None
    exercise: str | None = None
    session: str | None = None
    rep_peak_ns: int = Field(description="facility time of the rep's reference peak, ns")
    rep_start_ns: int = Field(description="force onset, else leg EMG onset, else the window start, ns")
    window_start_ns: int = Field(description="start of the window that owns this rep, ns")
    lag_ms: float | None = Field(None, description="pectoral activation peak minus leg-drive activation peak, ms")
    coupling: float | None = Field(None, description="peak normalised cross-correlation of the log envelopes")
    in_window: bool | None = None
    target_low_ms: float = 80.0
    target_high_ms: float = 120.0
    target_source: TargetSource = Field("fixed", description="which window judged this rep: fixed, personal or locked")
    window_end_ns: int | None = Field(None, description="end of the owning window")
    data_end_ns: int | None = Field(
        None, description="end of the data the rep was measured on: the owning window's end, or up to rep_wait_s "
        "later for a lift still rising then; the rep end, when it can be judged (None: the window's end)")
    onset_lag_ms: float | None = Field(None, description="pec onset minus leg onset, ms")
    leg_onset_to_pec_peak_ms: float | None = Field(None, description="pec envelope peak minus leg onset, ms")
    # The lag's uncertainty (docs/metrics.md, "Lag uncertainty and set-level lag"); None from analyzers that
    # do not estimate it, and then the cue judges the point estimate alone.
    lag_se_ms: float | None = Field(None, description="standard error of lag_ms, ms")
    lag_p_in_window: float | None = Field(
        None, description="probability (0..1) that the true lag lies in [target_low_ms, target_high_ms]")
    envelope_delay_ms: float | None = Field(
        None, description="envelope cross-correlation delay of the pectoral behind the leg-drive envelope, ms "
        "(a different quantity from the peak-to-peak lag_ms)")
    alignment: float | None = Field(None, description="share of the last N reps in the target window")
    body_weight_n: float | None = Field(None, description="vertical force of quiet standing, N")
    force_onset_ns: int | None = Field(None, description="5 SD departure from body weight, back-dated 30 ms")
    # Force-plate phase metrics (docs/metrics.md, "Force-plate phases and metrics"); None where the
    # movement has no such phase or no weighing.
    rfd_0_50_n_per_s: float | None = Field(
        None, description="mean RFD 0-50 ms from the start of propulsion (from onset for a movement from rest), N/s")
    rfd_0_100_n_per_s: float | None = Field(None, description="as rfd_0_50 over 0-100 ms, N/s")
    rfd_0_200_n_per_s: float | None = Field(None, description="as rfd_0_50 over 0-200 ms, N/s")
    peak_rfd_n_per_s: float | None = Field(None, description="steepest 20 ms slope in the first 200 ms, N/s")
    braking_rfd_n_per_s: float | None = Field(None, description="(F at v = 0 - F at v min) / braking duration, N/s")
    time_to_takeoff_s: float | None = Field(None, description="onset to take-off, s")
    rsi_modified: float | None = Field(None, description="impulse-momentum jump height / time to take-off, m/s")
    countermovement_depth_m: float | None = Field(None, description="lowest centre-of-mass point, m (negative)")
    braking_impulse_n_s: float | None = Field(None, description="integral of (F - BW) over braking, N·s")
    propulsive_impulse_n_s: float | None = Field(
        None, description="integral of (F - BW) over the drive (start of propulsion to take-off or velocity peak), N·s")
    mean_braking_force_n: float | None = Field(None, description="mean vertical force over braking, N")
    mean_propulsive_force_n: float | None = Field(None, description="mean vertical force over the drive, N")
    peak_propulsive_force_n: float | None = Field(
        None, description="peak vertical force of the propulsion, never the landing, N")
    peak_landing_force_n: float | None = Field(None, description="peak vertical force within 0.5 s of touchdown, N")
    peak_power_w: float | None = Field(None, description="peak F·v of the centre of mass in propulsion, W")
    mean_propulsive_power_w: float | None = Field(None, description="mean F·v over the drive, W")
    peak_power_w_per_kg: float | None = Field(None, description="peak power per kg of the mass on the plates, W/kg")
    mean_braking_force_n_per_kg: float | None = Field(None, description="mean braking force per kg, N/kg")
    mean_propulsive_force_n_per_kg: float | None = Field(None, description="mean propulsive force per kg, N/kg")
    peak_propulsive_force_n_per_kg: float | None = Field(None, description="peak propulsive force per kg, N/kg")
    peak_landing_force_n_per_kg: float | None = Field(None, description="peak landing force per kg, N/kg")
    asymmetry_propulsive_impulse_pct: float | None = Field(
        None, description="(stronger - weaker)/stronger·100 of the plates' propulsive impulses, each net of "
        "its stance load, %")
    asymmetry_braking_impulse_pct: float | None = Field(None, description="as above for the braking impulse, %")
    asymmetry_peak_force_pct: float | None = Field(None, description="as above for the peak propulsive force, %")
    asymmetry_side: Literal["left", "right"] | None = Field(
        None, description="stronger side of the propulsive impulse (of the peak force without one)")
    transfer_index: float | None = Field(None, description="share of propulsive impulse while the chest is active")
    jump_height_flight_m: float | None = Field(None, description="g·t²/8 of the flight time, m")
    jump_height_impulse_m: float | None = Field(None, description="v0²/(2g), take-off velocity by impulse-momentum, m")
    mean_concentric_velocity_m_s: float | None = Field(
        None, description="mean concentric bar velocity (rise / duration, zero crossing to zero crossing), m/s")
    peak_concentric_velocity_m_s: float | None = Field(None, description="peak concentric bar velocity, m/s")
    concentric_displacement_m: float | None = Field(None, description="bar rise over the concentric phase, m")
    mean_propulsive_velocity_m_s: float | None = Field(
        None, description="mean bar velocity up to the first acceleration below -g (Sanchez-Medina 2010), m/s"
    )
    mean_concentric_power_w: float | None = Field(
        None, description="mean of load·(g + a)·v over the concentric phase, W (needs the session's load)"
    )
    velocity_loss_pct: float | None = Field(
        None, description="MCV loss against the best of the set's first two reps, %"
    )
    flags: list[str] = Field(default_factory=list, description="quality problems of this rep; empty when clean")
    # Position in the session plan (docs/api.md, "Session plans and rep attribution"); None without a plan.
    block_index: int | None = Field(None, description="0-based block of the session plan")
    block_kind: str | None = Field(None, description="priming, working or control")
    set_index: int | None = Field(None, description="0-based set within the block")
    rep_in_set: int | None = Field(None, description="1-based rep within the set")
    envelope_t0_ns: int | None = Field(None, description="time of the first envelope sample, ns")
    envelope_step_ns: int | None = Field(None, description="envelope sample spacing, ns (50 ms: 20 Hz)")
    envelopes_uv: dict[str, list[float]] = Field(
        default_factory=dict, description="downsampled linear envelopes of the owning window per muscle, µV"
    )
    emitted_at_ns: int = 0

    def key(self) -> bytes:
        return self.station.encode()


class DeadLetter(_Record):
    """A message that could not be processed, or a window whose analysis raised (topic ``kinesync.deadletter``).

    An analysis fault has ``source_topic`` ``analysis`` (no single message caused it) unless one
    frame's intake raised, and names the station, the window and the exception.
    """

    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    reason: str
    payload_hex: str = Field(description="first bytes of the rejected payload, hex")
    size: int
    received_at_ns: int
    station: str | None = Field(None, description="station whose analysis raised (analysis faults)")
    window_start_ns: int | None = Field(None, description="window whose analysis raised, ns (analysis faults)")
    error_type: str | None = Field(None, description="exception type of an analysis fault")


class SessionAssignment(_Record):
    """Who is on a station doing what (topic ``kinesync.sessions``, compacted, key = station).

    A record with ``athlete`` None ends the station's session.
    """

    station: str
    athlete: str | None = None
    team: str | None = None
    exercise: str | None = None
    session: str | None = None
    target_low_ms: float = Field(80.0, description="lower edge of the target lag window, ms")
    target_high_ms: float = Field(120.0, description="upper edge of the target lag window, ms")
    target_mode: Literal["fixed", "personal"] = Field(
        "fixed", description="fixed: the target window above judges; personal: a window learned from the best reps"
    )
    personal_locked: bool = Field(False, description="the coach froze the personal window at personal_*_ms")
    personal_low_ms: float | None = Field(None, description="last learned (or locked) personal window, lower edge, ms")
    personal_high_ms: float | None = Field(None, description="last learned (or locked) personal window, upper edge, ms")
    plan: SessionPlan | None = Field(None, description="the session plan the analyzer counts reps through")
    plan_block_index: int = Field(0, ge=0, description="block the count starts (or restarts) at, 0-based")
    plan_set_index: int = Field(0, ge=0, description="set within that block, 0-based")
    plan_position_ns: int = Field(0, description="when that position was set: a new value restarts the count")
    bar_sensor: bool = Field(
        False, description="the station has a bar sensor (LPT or IMU): its windows wait for it like for EMG and force"
    )
    load_kg: float | None = Field(None, ge=0.0, description="external load on the bar, kg: gives the bar power")
    updated_at_ns: int = 0

    def key(self) -> bytes:
        return self.station.encode()
