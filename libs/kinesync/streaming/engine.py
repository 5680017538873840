"""The analyzer's pure core: bytes from the input topics in, window metrics and dead letters out.

No I/O here: the analyzer service feeds messages from Kafka and publishes what comes back; tests
and ``kinesync analyze`` feed recordings directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kinesync.bus.base import Message, TopicPartition
from kinesync.bus.topics import EMG, FORCE, VELOCITY
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
class BatchOutput:
    frames: list[Frame | None] = field(default_factory=list)  # per message, in order; None: a dead letter
    metrics: list[WindowMetric] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)


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
        self._polled: tuple[int | None, set[str]] = (None, set())  # (wall ns, stations) of the last batch

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

    def _decode(self, msg: Message, now_wall_ns: int) -> Frame | DeadLetter:
        try:
            frame = decode(msg.value)
            if msg.key is not None and msg.key != frame.station.encode():
                raise FrameError(
                    f"message key {msg.key!r} differs from the frame's station {frame.station!r}; "
                    "publish with key = station so a station's data stays on one partition"
                )
        except FrameError as exc:
            self.counters.dead_letters += 1
            return dead_letter(msg, exc.reason, now_wall_ns)
        parts = self._partition_of.get(frame.station)
        if parts is None:
            parts = self._partition_of[frame.station] = set()
        parts.add((msg.topic, msg.partition))
        return frame

    def handle(self, msg: Message, now_wall_ns: int) -> EngineOutput:
        """One message: its frame's windows and reps (reps of other stations wait for ``take_reps``)."""
        out = EngineOutput()
        decoded = self._decode(msg, now_wall_ns)
        if isinstance(decoded, DeadLetter):
            out.dead_letters.append(decoded)
            return out
        out.frame = decoded
        out.metrics = self.add_frame(decoded, now_wall_ns)
        st = self.stations.get(decoded.station)
        if st is not None and st.reps:
            out.reps = list(st.reps)
            st.reps.clear()
            self.counters.reps += len(out.reps)
        return out

    def handle_batch(self, msgs: Sequence[Message], now_wall_ns: int) -> BatchOutput:
        """A fetched batch at once: the same windows as ``handle`` one by one, fewer window-clock polls.

        Each station's frames go in arrival order; its windows are polled once it has taken in a
        hop's worth of data (so a backlog never outruns the ring buffers) and once at the end.
        Reps come from ``take_reps``.
        """
        out = BatchOutput()
        hop_ns = self.config.hop_ns
        fresh: dict[str, int] = {}  # station -> ns of data added since its last poll
        for msg in msgs:
            decoded = self._decode(msg, now_wall_ns)
            if isinstance(decoded, DeadLetter):
                out.frames.append(None)
                out.dead_letters.append(decoded)
                continue
            out.frames.append(decoded)
            self.counters.frames += 1
            name = decoded.station
            st = self.stations.get(name) or self.station(name)
            st.add(decoded, now_wall_ns)
            added = fresh.get(name, 0) + decoded.duration_ns
            if added >= hop_ns:
                out.metrics.extend(self._poll(st, now_wall_ns))
                added = 0
            fresh[name] = added
        for name, added in fresh.items():
            if added:
                out.metrics.extend(self._poll(self.stations[name], now_wall_ns))
        at, polled = self._polled
        self._polled = (now_wall_ns, polled | fresh.keys() if at == now_wall_ns else set(fresh))
        return out

    def _poll(self, st: StationAnalyzer, now_wall_ns: int) -> list[WindowMetric]:
        metrics = st.poll(now_wall_ns)
        self.counters.windows += len(metrics)
        return metrics

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
        # A station polled at this very wall time by handle_batch has nothing more to give.
        at, polled = self._polled
        skip = polled if at == now_wall_ns else ()
        for name, st in self.stations.items():
            if name not in skip:
                out.extend(st.poll(now_wall_ns))
        self.counters.windows += len(out)
        return out

    def needed_from(self, station: str, topic: str) -> int | None:
        """For CommitTracker: from when ``station``'s data on ``topic`` is still needed."""
        st = self.stations.get(station)
        if st is None:
            return 0  # a station this instance no longer (or never) analyses needs nothing
        return st.needed_from_ns(_KIND_OF_TOPIC.get(topic, SensorKind.FORCE))

    def drop_partitions(self, parts: set[TopicPartition]) -> list[str]:
        """Forget stations whose partitions moved to another instance; returns their names."""
        gone = [s for s, tps in self._partition_of.items() if tps & parts]
        for s in gone:
            self.stations.pop(s, None)
            self._partition_of.pop(s, None)
        return gone


_KIND_OF_TOPIC = {EMG: SensorKind.EMG, FORCE: SensorKind.FORCE, VELOCITY: SensorKind.VELOCITY}
