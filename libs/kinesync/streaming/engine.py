"""The analyzer's pure core: bytes from the input topics in, window metrics and dead letters out.

No I/O here: the analyzer service feeds messages from Kafka and publishes what comes back; tests
and ``kinesync analyze`` feed recordings directly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kinesync.bus.base import Message, TopicPartition
from kinesync.bus.topics import EMG, FORCE, VELOCITY
from kinesync.codec.frame import Frame, FrameError, SensorKind, decode
from kinesync.models import DeadLetter, RepMetric, SessionAssignment, WindowMetric
from kinesync.streaming.batch import TransformBatch
from kinesync.streaming.station import AnalysisConfig, StationAnalyzer

log = logging.getLogger("kinesync.analyzer")


@dataclass
class EngineCounters:
    frames: int = 0
    dead_letters: int = 0
    windows: int = 0
    reps: int = 0
    analysis_errors: int = 0  # windows and frames whose analysis raised (see ``take_faults``)


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


ANALYSIS_SOURCE = "analysis"  # DeadLetter.source_topic of a window whose analysis raised
_MAX_REASON = 500


def analysis_fault(
    station: str, window_start_ns: int | None, exc: BaseException, now_ns: int, msg: Message | None = None
) -> DeadLetter:
    """The dead letter of an analysis that raised: station, window, exception type and message."""
    text = f"analysis_error: {type(exc).__name__}: {exc}"
    return DeadLetter(
        source_topic=msg.topic if msg is not None else ANALYSIS_SOURCE,
        partition=msg.partition if msg is not None else None,
        offset=msg.offset if msg is not None else None,
        key=station, reason=text[:_MAX_REASON], payload_hex=bytes(msg.value[:64]).hex() if msg is not None else "",
        size=len(msg.value) if msg is not None else 0, received_at_ns=now_ns, station=station,
        window_start_ns=window_start_ns, error_type=type(exc).__name__,
    )


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
        self._faults: list[DeadLetter] = []  # analysis faults not yet collected by ``take_faults``
        self._orphan_reps: list[RepMetric] = []  # reps of stations forgotten after a fault

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

    def _decode(self, msg: Message, now_wall_ns: int, dead: list[DeadLetter]) -> Frame | None:
        """The message's frame, or None with its dead letter appended to ``dead``."""
        try:
            frame = decode(msg.value)
            if msg.key is not None and msg.key != frame.station.encode():
                raise FrameError(
                    f"message key {msg.key!r} differs from the frame's station {frame.station!r}; "
                    "publish with key = station so a station's data stays on one partition"
                )
        except FrameError as exc:
            self.counters.dead_letters += 1
            dead.append(dead_letter(msg, exc.reason, now_wall_ns))
            return None
        parts = self._partition_of.get(frame.station)
        if parts is None:
            parts = self._partition_of[frame.station] = set()
        tp = (msg.topic, msg.partition)
        if tp not in parts:
            parts.add(tp)
        return frame

    def handle(self, msg: Message, now_wall_ns: int) -> EngineOutput:
        """One message: its frame's windows and reps (reps of other stations wait for ``take_reps``)."""
        out = EngineOutput()
        decoded = self._decode(msg, now_wall_ns, out.dead_letters)
        if decoded is None:
            return out
        out.frame = decoded
        out.metrics = self.add_frame(decoded, now_wall_ns, msg)
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
        frames, dead = out.frames, out.dead_letters
        hop_ns = self.config.hop_ns
        stations = self.stations
        fresh: dict[str, int] = {}  # station -> ns of data added since its last poll
        # In-order frames' transforms run together, once per layout, before anything reads the rings.
        batch = TransformBatch()
        owner: StationAnalyzer | None = None  # the batch's owner as last set (a station's frames come in a row)
        decoded_frames = 0
        try:
            for msg in msgs:
                decoded = self._decode(msg, now_wall_ns, dead)
                frames.append(decoded)
                if decoded is None:  # a dead letter
                    continue
                decoded_frames += 1
                name = decoded.station
                st = stations.get(name) or self.station(name)
                if st is not owner:
                    batch.owner(st)
                    owner = st
                try:
                    added = fresh.get(name, 0) + st.add(decoded, now_wall_ns, batch)
                except Exception as exc:
                    out.metrics.extend(self._station_failed(st, exc, now_wall_ns, msg))
                    fresh.pop(name, None)
                    continue
                if added >= hop_ns:
                    self._flush(batch, out, now_wall_ns)
                    if stations.get(name) is st:
                        out.metrics.extend(self._poll(st, now_wall_ns))
                    added = 0
                fresh[name] = added
        finally:
            self.counters.frames += decoded_frames  # counted once, not at every frame
        self._flush(batch, out, now_wall_ns)
        for name, added in fresh.items():
            st = stations.get(name)
            if added and st is not None:
                out.metrics.extend(self._poll(st, now_wall_ns))
        at, polled = self._polled
        self._polled = (now_wall_ns, polled | fresh.keys() if at == now_wall_ns else set(fresh))
        return out

    def handle_until_rep(
        self, msgs: Sequence[Message], now_wall_ns: int, slice_messages: int,
        stop_early: Callable[[], bool] | None = None,
    ) -> tuple[BatchOutput, int]:
        """``handle_batch`` on ``msgs`` ``slice_messages`` at a time, up to and including the first slice whose
        windows own a rep (its reps are then owed at once), or the first slice after which ``stop_early()`` is
        true; returns the slices' outputs together and how many messages they took. The same windows as a
        call per slice: only the caller hears of them less often."""
        out = BatchOutput()
        used = 0
        while used < len(msgs):
            piece = msgs[used : used + slice_messages]
            part = self.handle_batch(piece, now_wall_ns)
            used += len(piece)
            out.frames.extend(part.frames)
            out.metrics.extend(part.metrics)
            out.dead_letters.extend(part.dead_letters)
            if any(m.rep_peak_ns is not None for m in part.metrics) or (stop_early is not None and stop_early()):
                break
        return out, used

    def _flush(self, batch: TransformBatch, out: BatchOutput, now_wall_ns: int) -> None:
        """Run the batch's transforms; a station whose transform raised is rebuilt like any failed one."""
        if not batch:
            return
        for st, exc in batch.flush():
            if self.stations.get(st.station) is st:
                out.metrics.extend(self._station_failed(st, exc, now_wall_ns))

    def _poll(self, st: StationAnalyzer, now_wall_ns: int, finishing: bool = False) -> list[WindowMetric]:
        """The station's closed windows; an exception stays inside the station (see ``_station_failed``)."""
        try:
            metrics = st.finish(now_wall_ns) if finishing else st.poll(now_wall_ns)
        except Exception as exc:
            return self._station_failed(st, exc, now_wall_ns)
        if st.faults:
            self._collect_faults(st, now_wall_ns)
        self.counters.windows += len(metrics)
        return metrics

    def _collect_faults(self, st: StationAnalyzer, now_wall_ns: int) -> None:
        for start, exc in st.faults:
            log.warning("analysis of %s raised at window %d: %s: %s", st.station, start, type(exc).__name__, exc)
            self._faults.append(analysis_fault(st.station, start, exc, now_wall_ns))
        self.counters.analysis_errors += len(st.faults)
        st.faults.clear()

    def _station_failed(
        self, st: StationAnalyzer, exc: Exception, now_wall_ns: int, msg: Message | None = None
    ) -> list[WindowMetric]:
        """A station's intake or window clock raised: its state is suspect, so it is forgotten and rebuilt
        from its next frames. Its next window comes out flagged ``analysis_error``; other stations go on,
        and since a forgotten station needs no data, the offsets move past what it held."""
        self._collect_faults(st, now_wall_ns)
        start = st.next_window_ns
        log.warning("analysis of %s raised (%s: %s); rebuilding it from its next frames",
                    st.station, type(exc).__name__, exc)
        self._faults.append(analysis_fault(st.station, start, exc, now_wall_ns, msg))
        self.counters.analysis_errors += 1
        if self.stations.get(st.station) is st:
            del self.stations[st.station]
        self._orphan_reps.extend(st.reps)  # reps it finished before failing are still owed
        st.reps.clear()
        if start is None:
            return []
        self.counters.windows += 1
        return [st.failed_window(start, start + self.config.window_ns, True, now_wall_ns)]

    def add_frame(self, frame: Frame, now_wall_ns: int, msg: Message | None = None) -> list[WindowMetric]:
        self.counters.frames += 1
        st = self.station(frame.station)
        try:
            st.add(frame, now_wall_ns)
        except Exception as exc:
            return self._station_failed(st, exc, now_wall_ns, msg)
        return self._poll(st, now_wall_ns)

    def take_faults(self) -> list[DeadLetter]:
        """Dead letters of analyses that raised since the last call (the analyzer publishes them)."""
        out, self._faults = self._faults, []
        return out

    def take_reps(self) -> list[RepMetric]:
        """Reps owned by windows emitted since the last call."""
        out, self._orphan_reps = self._orphan_reps, []
        for st in self.stations.values():
            if st.reps:
                out.extend(st.reps)
                st.reps.clear()
        self.counters.reps += len(out)
        return out

    def finish(self, now_wall_ns: int) -> list[WindowMetric]:
        """End of input (a finished recording): emit every window the data covers."""
        out: list[WindowMetric] = []
        for st in list(self.stations.values()):
            out.extend(self._poll(st, now_wall_ns, finishing=True))
        return out

    def tick(self, now_wall_ns: int) -> list[WindowMetric]:
        """Windows released by the bounded wait alone (no new frame needed)."""
        out: list[WindowMetric] = []
        # A station polled at this very wall time by handle_batch has nothing more to give.
        at, polled = self._polled
        skip = polled if at == now_wall_ns else ()
        for name, st in list(self.stations.items()):
            if name not in skip:
                out.extend(self._poll(st, now_wall_ns))
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
