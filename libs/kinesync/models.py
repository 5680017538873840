"""Records that leave the analyzer: one schema for Kafka, storage and the API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class WindowMetric(BaseModel):
    """Metrics of one event-time sliding window of one station (topic ``kinesync.metrics``).

    ``window_start_ns`` plus ``station`` identify a window: a replay of the same data gives the
    same key, so storage overwrites instead of duplicating.
    """

    model_config = ConfigDict(frozen=True)

    station: str
    athlete: str | None = None
    team: str | None = None
    exercise: str | None = None
    session: str | None = None
    window_start_ns: int = Field(description="facility time of the window start, ns since epoch")
    window_end_ns: int = Field(description="facility time of the window end (exclusive), ns")
    partial: bool = Field(False, description="emitted after the bounded wait without all sensor data")
    rep_peak_ns: int | None = Field(None, description="time of the leg-drive envelope peak owned by this window")
    lag_ms: float | None = Field(None, description="pectoral envelope delay behind the leg-drive envelope, ms")
    coupling: float | None = Field(None, description="peak normalised cross-correlation, 0..1")
    in_window: bool | None = Field(None, description="lag within the target window")
    target_low_ms: float = 80.0
    target_high_ms: float = 120.0
    alignment: float | None = Field(None, description="share of the last N lags in the target window, 0..1")
    body_weight_n: float | None = Field(None, description="vertical force of quiet standing, N")
    force_onset_ns: int | None = Field(None, description="first departure from body weight in the window, ns")
    rfd_0_100_n_per_s: float | None = Field(None, description="mean RFD 0-100 ms from force onset, N/s")
    peak_force_n: float | None = Field(None, description="peak vertical force in the window, N")
    emitted_at_ns: int = Field(0, description="wall-clock time the analyzer emitted this record, ns")

    def key(self) -> bytes:
        return self.station.encode()


class DeadLetter(BaseModel):
    """A message that could not be processed (topic ``kinesync.deadletter``)."""

    source_topic: str
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    reason: str
    payload_hex: str = Field(description="first bytes of the rejected payload, hex")
    size: int
    received_at_ns: int


class SessionAssignment(BaseModel):
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
    updated_at_ns: int = 0

    def key(self) -> bytes:
        return self.station.encode()
