"""Topic names and which sensor kind travels on which topic."""

from __future__ import annotations

from kinesync.codec.frame import SensorKind

EMG = "kinesync.emg"
FORCE = "kinesync.force"
VELOCITY = "kinesync.velocity"
METRICS = "kinesync.metrics"
REPS = "kinesync.reps"
SESSIONS = "kinesync.sessions"
DEADLETTER = "kinesync.deadletter"

INPUT_TOPICS: tuple[str, ...] = (EMG, FORCE, VELOCITY)
ALL_TOPICS: tuple[str, ...] = (EMG, FORCE, VELOCITY, METRICS, REPS, SESSIONS, DEADLETTER)
# Sessions is a table (latest assignment per station), so Kafka keeps only the newest record per key.
COMPACTED: frozenset[str] = frozenset({SESSIONS})

_BY_KIND = {SensorKind.EMG: EMG, SensorKind.FORCE: FORCE, SensorKind.VELOCITY: VELOCITY}


def topic_for_kind(kind: SensorKind) -> str:
    return _BY_KIND[kind]
