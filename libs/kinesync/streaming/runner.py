"""The analyzer service loop: a consumer-group member that turns a station's EMG, force and bar frames
into window metrics.

Outputs are flushed before their inputs' offsets are committed, and only offsets whose data no future
window needs are committed (``CommitTracker``): a crash, a rebalance or a lost broker re-emits windows
under the same keys, it never loses one (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor

from kinesync.analysis.personal_window import PersonalWindowConfig
from kinesync.bus.base import Bus, Consumer, DeliveryError, Producer, TopicPartition
from kinesync.bus.dead_letters import DeadLetterLog, dead_letter_record
from kinesync.bus.follow import follow
from kinesync.bus.topics import INPUT_TOPICS, METRICS, REPS, SESSIONS
from kinesync.models import SessionAssignment, WindowMetric
from kinesync.runtime.collector import tune_for_analysis
from kinesync.settings import Settings
from kinesync.streaming.commits import CommitTracker
from kinesync.streaming.engine import AnalyzerEngine
from kinesync.streaming.station import AnalysisConfig

log = logging.getLogger("kinesync.analyzer")
# Messages the engine takes at a time before it looks for a rep to hand over: about 8 stations' EMG and
# force frames of one 50 ms tick. A call into the worker thread goes on slice after slice until one owns a
# rep (``AnalyzerEngine.handle_until_rep``): that rep then leaves before the next slice is analysed, and the
# slices between reps cost no hop into the thread and back, which on a 2-vCPU KVM guest takes 145 us of
# CPU (40 us with both threads on one CPU; 2026-12-06): 5-7 % more athletes per analyzer core in the
# pipeline than a hop per slice.
_SLICE_MESSAGES = 16
# At start, how long the analysis waits for the sessions topic to be read to its end (a replayed backlog
# would otherwise be analysed before the stations' athletes are known), s.
SESSIONS_WAIT_S = 5.0


def analysis_config(settings: Settings) -> AnalysisConfig:
    """Raises ValueError when the personal-window settings do not fit together (e.g. bounds narrower than
    a minimum-width window), so a misconfigured analyzer stops at start with the reason."""
    personal = PersonalWindowConfig(
        bound_low_ms=settings.personal_bound_low_ms, bound_high_ms=settings.personal_bound_high_ms,
        history_reps=settings.personal_history_reps, top_k=settings.personal_top_k,
        near_best_share=settings.personal_near_best_share, min_best=settings.personal_min_best,
        min_reps=settings.personal_min_reps, min_half_width_ms=settings.personal_min_half_width_ms,
        max_half_width_ms=settings.personal_max_half_width_ms,
    )
    return AnalysisConfig(
        window_s=settings.window_s, hop_s=settings.hop_s, stagger_s=settings.window_stagger_s,
        max_wait_s=settings.max_wait_s, rep_wait_s=settings.rep_wait_s,
        lateness_s=settings.lateness_s, alignment_reps=settings.alignment_reps,
        envelope_cutoff_hz=settings.envelope_cutoff_hz, personal=personal,
        fault_drill_stations=frozenset(s.strip() for s in settings.fault_drill_stations.split(",") if s.strip()),
    )


# A session changes when a coach moves an athlete: a tenth of a second more before the analyzer knows
# is nothing to that, and on the embedded broker an idle follower fetching every 20 ms costs 3.4 % of a
# core, at 200 ms 0.9 % (2026-12-05); every analyzer instance runs one.
SESSIONS_FETCH_WAIT_MS = 200


class EngineGate:
    """The lock on the engine, and whether anything besides the analysis waits for it.

    The analysis holds it while the worker thread goes through a batch slice by slice up to the next rep;
    a session change or a rebalance takes it through ``others``, and the worker's call then ends after its
    current slice (``wanted``): a session change applies from the next slice on, as when every slice was a
    call of its own.
    """

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self._waiting = 0  # read by the worker thread between slices

    def wanted(self) -> bool:
        return self._waiting > 0

    @contextlib.asynccontextmanager
    async def others(self) -> AsyncIterator[None]:
        self._waiting += 1
        try:
            await self.lock.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self.lock.release()


async def follow_sessions(bus: Bus, engine: AnalyzerEngine, stop: asyncio.Event, gate: EngineGate,
                          caught_up: asyncio.Event | None = None) -> None:
    """Every instance reads the whole compacted sessions topic: any station may move to it. ``caught_up``
    is set once it has applied everything the topic held when the analyzer started."""
    async def assign(assignment: SessionAssignment) -> None:
        async with gate.others():  # never while a slice is being analysed in the worker thread
            engine.assign_session(assignment)

    await follow(bus, SESSIONS, SessionAssignment, assign, stop, poll_ms=500, from_beginning=True,
                 fetch_wait_ms=SESSIONS_FETCH_WAIT_MS, caught_up=caught_up)


async def send_faults(producer: Producer, engine: AnalyzerEngine) -> None:
    """Analyses that raised go to the dead-letter topic (the engine has logged them and flagged the window)."""
    faults = engine.take_faults()
    if faults:
        await producer.send_many([dead_letter_record(dl) for dl in faults])


async def send_results(producer: Producer, engine: AnalyzerEngine, metrics: Iterable[WindowMetric]) -> None:
    """Windows, then the reps and analysis faults the engine collected meanwhile."""
    records = [(METRICS, m.key(), m.model_dump_json().encode()) for m in metrics]
    records += [(REPS, r.key(), r.model_dump_json().encode()) for r in engine.take_reps()]
    if records:
        await producer.send_many(records)
    await send_faults(producer, engine)


async def redo_from_last_commit(
    bus: Bus, consumer: Consumer, engine: AnalyzerEngine, commits: CommitTracker, exc: Exception
) -> None:
    """Outputs were lost (the broker went away): forget every station and replay from the last commit.

    The same path a crash takes, without the crash: the replay re-emits the lost windows under the
    same keys. The topics are created first, since a broker that lost its data lost them too.
    """
    parts = consumer.assignment()
    log.warning("outputs not acknowledged (%s); replaying %d partitions from the last commit", exc, len(parts))
    commits.forget(parts)
    engine.drop_partitions(parts)
    await bus.ensure_topics()
    rewind = getattr(consumer, "rewind", None)
    if rewind is not None:
        await rewind()


async def run_analyzer(
    bus: Bus, settings: Settings, stop: asyncio.Event, engine: AnalyzerEngine | None = None
) -> AnalyzerEngine:
    """Analyse the input topics until ``stop``; returns the engine (its counters say what it did)."""
    engine = engine or AnalyzerEngine(analysis_config(settings))
    tune_for_analysis()
    commits = CommitTracker()
    consumer = None
    # The engine's heavy work runs in one worker thread, one slice at a time; whatever else touches
    # the engine (session changes, a rebalance) takes this lock, so it never runs beside a slice.
    gate = EngineGate()
    lock = gate.lock
    worker = ThreadPoolExecutor(1, thread_name_prefix="analysis")
    loop = asyncio.get_running_loop()

    # Partitions revoked since the current batch was fetched. The broker may revoke partitions while
    # a batch fetched before is still being worked through; the rest of that batch must leave them
    # alone, even when they come straight back (the consumer then resumes from the committed offset):
    # it would rebuild their stations mid-stream, with cold filters and without the frames between
    # the commit and the batch, and record offsets of partitions another instance may own now.
    revoked_since_fetch: set[TopicPartition] = set()
    # Windows of the current batch that own no rep, held back until the batch ends or a slice with a
    # rep goes out (see the loop).
    held: list[WindowMetric] = []
    dead_log = DeadLetterLog(log)  # every dead letter goes to the topic; the log says each source's few

    async def revoked(parts: set[TopicPartition]) -> None:
        revoked_since_fetch.update(parts)
        # Under the lock, so no slice runs meanwhile and every window computed so far has been sent:
        # commit only what the stations no longer need, then forget them; the next owner replays
        # the rest and rebuilds the same buffers.
        async with gate.others():
            if held:
                await send_results(producer, engine, held)
                held.clear()
            safe = {tp: o for tp, o in commits.safe_offsets(engine.needed_from).items() if tp in parts}
            commits.forget(parts)
            gone = engine.drop_partitions(parts)
        if safe and consumer is not None:
            try:
                await producer.flush()
            except DeliveryError as exc:
                log.warning("outputs not acknowledged at a rebalance, offsets left as they were: %s", exc)
            else:
                await consumer.commit(safe)
        if gone:
            log.info("handed over %d stations: %s", len(gone), ", ".join(sorted(gone)))

    def assigned(parts: set[TopicPartition]) -> None:
        # Co-partitioned topics: the partition numbers say which stations this instance now owns.
        log.info("assigned input partitions %s", sorted({p for _, p in parts}))

    consumer = bus.consumer(list(INPUT_TOPICS), settings.analyzer_group, on_revoked=revoked, on_assigned=assigned)
    producer = bus.producer()
    await producer.start()
    await consumer.start()
    sessions_read = asyncio.Event()
    sessions = asyncio.create_task(follow_sessions(bus, engine, stop, gate, sessions_read))
    log.info("analyzer consuming %s in group %s", ", ".join(INPUT_TOPICS), settings.analyzer_group)
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100, max_records=settings.analyzer_max_records)
            revoked_since_fetch.clear()  # what getmany returns comes from the current assignment
            now = time.time_ns()
            # A batch at once (a station's window clock is polled per hop of data, not per frame), in
            # slices: reps of many stations often end together (a class squatting on one count), and
            # each costs milliseconds, so a slice's reps go out before the next slice is analysed.
            if batch and not sessions_read.is_set():
                try:
                    await asyncio.wait_for(sessions_read.wait(), SESSIONS_WAIT_S)
                except TimeoutError:
                    log.warning("the sessions topic was not read within %g s; analysing without it meanwhile",
                                SESSIONS_WAIT_S)
                    sessions_read.set()
            todo, first = batch, 0
            while first < len(todo):
                # The slices' offsets are recorded and their records sent under the lock too: a
                # rebalance then commits only offsets whose windows have gone out.
                async with lock:
                    if revoked_since_fetch:
                        todo = [m for m in todo[first:] if (m.topic, m.partition) not in revoked_since_fetch]
                        first = 0
                        if not todo:
                            break
                    out, used = await loop.run_in_executor(
                        worker, engine.handle_until_rep, todo[first:], now, _SLICE_MESSAGES, gate.wanted
                    )
                    piece = todo[first : first + used]
                    first += used
                    dead = iter(out.dead_letters)
                    rejected = []
                    for msg, frame in zip(piece, out.frames, strict=True):
                        commits.record((msg.topic, msg.partition), msg.offset,
                                       frame.station if frame is not None else None,
                                       frame.end_ns if frame is not None else 0)
                        if frame is None:
                            rejected.append(dead_letter_record(next(dead), msg.key))
                    if rejected:
                        dead_log.note(out.dead_letters)
                        await producer.send_many(rejected)
                    # A slice whose windows own no rep holds them back for the next send: with the
                    # stations' window grids staggered, most slices close a few windows each, and a
                    # send per slice cost the analyzer and the broker a produce request each (the
                    # analyzer 13 % more CPU per athlete at 256 stations). Reps leave at once.
                    held.extend(out.metrics)
                    if any(m.rep_peak_ns is not None for m in out.metrics):
                        await send_results(producer, engine, held)
                        held.clear()
                await asyncio.sleep(0)  # let the producer send them
            if held:
                async with lock:
                    await send_results(producer, engine, held)
                    held.clear()
            async with lock:
                await send_results(producer, engine, engine.tick(now if batch else time.time_ns()))
            dead_log.report_due()
            if batch:
                # Outputs first, then offsets: a crash in between re-emits, never loses.
                try:
                    await producer.flush()
                except DeliveryError as exc:
                    await redo_from_last_commit(bus, consumer, engine, commits, exc)
                    continue
                await consumer.commit(commits.safe_offsets(engine.needed_from))
    finally:
        sessions.cancel()
        await asyncio.gather(sessions, return_exceptions=True)
        worker.shutdown(wait=False)
        await consumer.stop()
        await producer.stop()
    return engine
