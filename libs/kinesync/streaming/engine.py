"""The analyzer's pure core: bytes from the input topics in, window metrics and dead letters out.

No I/O here: the analyzer service feeds messages from Kafka and publishes what comes back; tests
and ``kinesync analyze`` feed recordings directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kinesync.bus.base import Message, TopicPartition
from kinesync.bus.topics import EMG
from kinesync.codec.frame import Frame, FrameError, SensorKind, decode
from kinesync.models import DeadLetter, RepMetric, SessionAssignment, WindowMetric
from kinesync.streaming.station import AnalysisConfig, StationAnalyzer


@dataclass
class EngineCounters:
    frames: int = 0
    dead_letters: int = 0
    windows: int = 0
    reps: int = 0


@dataclass
class EngineOutput:
    frame: Frame | None = None  # the decoded frame; None for a dead letter
    metrics: list[WindowMetric] = field(default_factory=list)
    reps: list[RepMetric] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


def dead_letter(msg: Message, reason: str, now_ns: int) -> DeadLetter:
    return DeadLetter(
        source_topic=msg.topic,
        partition=msg.partition,
        offset=msg.offset,
        key=msg.key.decode("utf-8", "replace") if msg.key is not None else None,
        reason=reason,
        payload_hex=bytes(msg.value[:64]).hex(),
        size=len(msg.value),
        received_at_ns=now_ns,
    )


class AnalyzerEngine:
    def __init__(self, config: AnalysisConfig | None = None) -> None:
        self.config = config or AnalysisConfig()
        self.stations: dict[str, StationAnalyzer] = {}
        self._partition_of: dict[str, set[TopicPartition]] = {}
        self.assignments: dict[str, SessionAssignment] = {}
        self.counters = EngineCounters()

    def station(self, name: str) -> StationAnalyzer:
        st = self.stations.get(name)
        if st is None:
            st = self.stations[name] = StationAnalyzer(name, self.config)
            st.assignment = self.assignments.get(name)
        return st

    def assign_session(self, assignment: SessionAssignment) -> None:
        self.assignments[assignment.station] = assignment
        if assignment.station in self.stations:
            self.stations[assignment.station].assignment = assignment

    def handle(self, msg: Message, now_wall_ns: int) -> EngineOutput:
        out = EngineOutput()
        try:
            frame = decode(msg.value)
            if msg.key is not None and msg.key != frame.station.encode():
                raise FrameError(
                    f"message key {msg.key!r} differs from the frame's station {frame.station!r}; "
                    "publish with key = station so a station's data stays on one partition"
                )
        except FrameError as exc:
            self.counters.dead_letters += 1
            out.dead_letters.append(dead_letter(msg, exc.reason, now_wall_ns))
            return out
        self._partition_of.setdefault(frame.station, set()).add((msg.topic, msg.partition))
        out.frame = frame
        out.metrics = self.add_frame(frame, now_wall_ns)
        out.reps = self.take_reps()
        return out

    def add_frame(self, frame: Frame, now_wall_ns: int) -> list[WindowMetric]:
        self.counters.frames += 1
        st = self.station(frame.station)
        st.add(frame, now_wall_ns)
        metrics = st.poll(now_wall_ns)
        self.counters.windows += len(metrics)
        return metrics

    def take_reps(self) -> list[RepMetric]:
        """Reps owned by windows emitted since the last call."""
        out: list[RepMetric] = []
        for st in self.stations.values():
            if st.reps:
                out.extend(st.reps)
                st.reps.clear()
        self.counters.reps += len(out)
        return out

    def finish(self, now_wall_ns: int) -> list[WindowMetric]:
        """End of input (a finished recording): emit every window the data covers."""
        out: list[WindowMetric] = []
        for st in self.stations.values():
            out.extend(st.finish(now_wall_ns))
        self.counters.windows += len(out)
        return out

    def tick(self, now_wall_ns: int) -> list[WindowMetric]:
        """Windows released by the bounded wait alone (no new frame needed)."""
        out: list[WindowMetric] = []
        for st in self.stations.values():
            out.extend(st.poll(now_wall_ns))
        self.counters.windows += len(out)
        return out

    def needed_from(self, station: str, topic: str) -> int | None:
        """For CommitTracker: from when ``station``'s data on ``topic`` is still needed."""
        st = self.stations.get(station)
        if st is None:
            return 0  # a station this instance no longer (or never) analyses needs nothing
        return st.needed_from_ns(SensorKind.EMG if topic == EMG else SensorKind.FORCE)

    def drop_partitions(self, parts: set[TopicPartition]) -> list[str]:
        """Forget stations whose partitions moved to another instance; returns their names."""
        gone = [s for s, tps in self._partition_of.items() if tps & parts]
        for s in gone:
            self.stations.pop(s, None)
            self._partition_of.pop(s, None)
        return gone
