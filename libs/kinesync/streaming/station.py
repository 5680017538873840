"""Per-station analysis state: EMG and force streams, the window clock and the window metrics.

Windows lie on a fixed event-time grid per station (starts are the station's offset plus multiples
of the hop since the Unix epoch; the offset is a multiple of ``stagger_s`` picked by a hash of the
station's name), so a replay of the same data yields the same windows, and a class squatting on one
count does not have every rep analysed in the same instant (``window_grid_offset_ns``). A window
closes when both sensor kinds have been processed past its end (the watermark), or after a bounded
wall-clock wait, in which case it is flagged partial.

Each rep is owned by exactly one window: the one whose ownership slot, the hop-long interval
just before the window centre, holds the rep's time. Reps come from the movement on the plates
(``kinesync.streaming.segment``: one descent and one ascent, a jump, a bench press's leg drive);
the peak of the leg-drive envelope stands in only where the plates cannot tell (no plates, nobody
weighed on them). Slots of successive windows tile the time axis, so a rep straddling several
windows is counted once, and the owning window always has at least (window − hop)/2 of signal on
either side of the rep's time.
"""

from __future__ import annotations

import zlib
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from kinesync.analysis.personal_window import PersonalWindowConfig
from kinesync.codec.frame import Frame, SensorKind
from kinesync.dsp.alignment import alignment_score
from kinesync.dsp.peak_lag import ChannelReference
from kinesync.dsp.quantile import percentile_linear
from kinesync.models import RepMetric, SessionAssignment, WindowMetric
from kinesync.streaming.bar import BarConfig, BarTransform, BarView, VelocityLoss, bar_metrics
from kinesync.streaming.rep import EmgView, ForceView, RepConfig, StationWeighing, analyze_rep, drop_non_finite
from kinesync.streaming.segment import AscentTracker, SegmentConfig, bar_ascents, drive_rises
from kinesync.streaming.stream import SensorStream

if TYPE_CHECKING:
    from kinesync.streaming.batch import TransformBatch
from kinesync.streaming.targets import StationTargets
from kinesync.streaming.transforms import EmgTransform, ForceTransform
from kinesync.training.plan import PlanCursor
from kinesync.training.plan_models import DEFAULT_SET_GAP_S

NS = 1_000_000_000


@dataclass(frozen=True)
class AnalysisConfig:
    window_s: float = 2.0
    hop_s: float = 0.25
    # Stations' grids lie this far apart (a 50 ms frame: a window still ends where a frame does), s; 0: one grid.
    stagger_s: float = 0.05
    max_wait_s: float = 2.0
    # A rep whose lift still rises at its window's end (a heavy rep: a squat near its 1RM rises for over a
    # second) is measured on data up to this much later, hop by hop until it ends, s.
    rep_wait_s: float = 2.0
    lateness_s: float = 1.0
    alignment_reps: int = 10
    envelope_cutoff_hz: float = 6.0
    history_s: float = 8.0  # force kept for the body-weight search and the rep's start, s
    settle_s: float = 1.0  # EMG replayed before a window after a restart, so the filters settle, s
    activity_ratio: float = 2.5  # burst peak / quiet envelope level that counts as a rep
    peak_guard_s: float = 0.5  # the rep peak must dominate ±this much signal, s
    # Sensor kinds a station is expected to have; a missing expected kind makes windows wait (then
    # partial), an unexpected one is not waited for (e.g. a force-only recording).
    expected: frozenset[SensorKind] = frozenset({SensorKind.EMG, SensorKind.FORCE})
    rep: RepConfig = field(default_factory=RepConfig)
    segment: SegmentConfig = field(default_factory=SegmentConfig)  # reps from the movement
    bar: BarConfig = field(default_factory=BarConfig)  # the optional bar sensor (kind VELOCITY)
    personal: PersonalWindowConfig = field(default_factory=PersonalWindowConfig)
    # Fault-isolation drill: these stations' window analysis raises on purpose (never set in production).
    fault_drill_stations: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        # Here rather than in every window, where alignment_score would raise for each one.
        if self.alignment_reps < 1:
            raise ValueError(f"alignment_reps must be >= 1, got {self.alignment_reps}")
        if not self.rep_wait_s >= 0.0:
            raise ValueError(f"rep_wait_s must be >= 0, got {self.rep_wait_s}")

    @property
    def window_ns(self) -> int:
        return round(self.window_s * NS)

    @property
    def hop_ns(self) -> int:
        return round(self.hop_s * NS)


def window_grid_offset_ns(station: str, hop_ns: int, stagger_ns: int) -> int:
    """Where ``station``'s window grid lies within a hop: one of the multiples of ``stagger_ns`` below
    ``hop_ns``, picked by a CRC-32 of the name (stable across processes and restarts, unlike ``hash``).

    Athletes in a class often rep on one count; on one shared grid every rep window of the floor then
    closes at once and the last of them waits for all the others' analysis. Offsets spread them over
    the hop (at 64 stations in step: rep end → metric p99 89–99 ms against 169–178, 2026-12-05).
    """
    if stagger_ns <= 0 or stagger_ns >= hop_ns:
        return 0
    return (zlib.crc32(station.encode()) % (hop_ns // stagger_ns)) * stagger_ns


class StationAnalyzer:
    def __init__(self, station: str, config: AnalysisConfig) -> None:
        self.station = station
        self.config = config
        self.emg: SensorStream | None = None
        self.force: SensorStream | None = None
        self._emg_tf: EmgTransform | None = None
        self._force_tf: ForceTransform | None = None
        self.bar: SensorStream | None = None  # optional: a station without a bar sensor never waits for one
        self._bar_tf: BarTransform | None = None
        self.reps: list[RepMetric] = []  # owned reps not yet collected by the engine
        # (window start ns, exception) of windows whose analysis raised, not yet collected by the engine
        self.faults: list[tuple[int, Exception]] = []
        self.next_window_ns: int | None = None
        self._ready_since_wall_ns: int | None = None
        self._recent: deque[bool] = deque(maxlen=config.alignment_reps)
        self._alignment: float | None = None  # alignment_score of ``_recent``, kept with it (asked every window)
        self.targets = StationTargets(config.personal)  # fixed or personal window, per the session
        self._plan = PlanCursor()  # block/set/rep of the session plan, counted per owned rep
        self._velocity_loss = VelocityLoss(DEFAULT_SET_GAP_S)
        self.assignment: SessionAssignment | None = None
        # The athlete's last valid weighing, carried to the next reps of a set that stand < 1 s between
        # reps (docs/metrics.md, "Weighing"); with the athlete it belongs to.
        self._weighing: tuple[str | None, StationWeighing] | None = None
        self._ascents: _StreamAscents | None = None  # reps of the centre of mass, found incrementally
        # Each EMG channel's reference amplitude, learned over the athlete's recent reps (the lag's
        # activations are in these units), with the athlete it belongs to.
        self._lag_ref: tuple[str | None, ChannelReference] | None = None
        self.windows_emitted = 0
        self._created_wall_ns: int | None = None
        self._finishing = False
        # Asked on every frame: the config is frozen, so its derived durations are computed once.
        self._max_wait_ns = round(config.max_wait_s * NS)
        self._rep_wait_ns = round(config.rep_wait_s * NS)
        # (window start, data end): the next window owns a rep whose lift went on past its end, and waits
        # for the streams to reach the data end before it is measured again (``_compute``).
        self._waiting: tuple[int, int] | None = None
        self._window_ns, self._hop_ns = config.window_ns, config.hop_ns
        self._ahead_ns = config.window_ns + config.hop_ns
        self._expected = config.expected
        # The ownership slot of a window, relative to its start: the hop-long interval before its centre.
        self._slot_ns = (config.window_ns // 2 - config.hop_ns, config.window_ns // 2)
        self._grid_offset_ns = window_grid_offset_ns(station, config.hop_ns, round(config.stagger_s * NS))

    # -- input -------------------------------------------------------------------------------
    def add(self, frame: Frame, now_wall_ns: int, batch: TransformBatch | None = None) -> int:
        """Take a frame in (``batch``: leave in-order transforms to it, see ``SensorStream.add``); returns the
        frame's duration (ns)."""
        # 40 frames a second per athlete come through here: the existing stream is found inline.
        kind = frame.kind
        stream = self.emg if kind == _EMG else self.force if kind == _FORCE else self.bar
        if stream is None or not stream.matches(frame):
            stream = self._stream_for(frame)
            if stream is None:
                return round(frame.samples.shape[1] * 1e9 / frame.rate_hz)  # frame.duration_ns
        if self._created_wall_ns is None:
            self._created_wall_ns = now_wall_ns
        stream.seen_wall_ns = now_wall_ns
        duration = stream.add(frame, self._limit_for(stream, now_wall_ns), batch)
        e, f, b = self.emg, self.force, self.bar
        if (e is not None and e._pending) or (f is not None and f._pending) or (b is not None and b._pending):
            self._release(now_wall_ns)  # something is held back (rare)
        return duration

    def _stale(self, stream: SensorStream | None, now_wall_ns: int, kind: SensorKind | None = None) -> bool:
        """No frame from this stream for the bounded wait: windows go on without it (partial)."""
        if self._finishing:
            return True
        if stream is None and kind is not None and not self._expects(kind):
            return True
        since = stream.seen_wall_ns if stream is not None else None
        if since is None:
            since = self._created_wall_ns if self._created_wall_ns is not None else now_wall_ns
        return now_wall_ns - since >= self._max_wait_ns

    def _expects(self, kind: SensorKind) -> bool:
        """A kind the station waits for even before its first frame: the configured kinds, and a bar
        sensor the session says the station has (so a replay after a restart waits for its frames too)."""
        if kind in self._expected:
            return True
        a = self.assignment
        return kind == SensorKind.VELOCITY and a is not None and a.bar_sensor

    def _limit_for(self, stream: SensorStream, now_wall_ns: int) -> int | None:
        """How far (event time) ``stream`` may run ahead of its partners before it waits."""
        if self._finishing:
            return None
        # Asked for every frame. The usual station, EMG and force and no bar sensor to wait for, has one
        # partner: the general loop below for that case alone, without walking the three slots
        # (``tests/unit/test_engine_fast_paths.py`` compares the two).
        emg, force = self.emg, self.force
        if (self.bar is None and emg is not None and force is not None
                and _VELOCITY not in self._expected and not ((a := self.assignment) is not None and a.bar_sensor)):
            partner = force if stream is emg else emg if stream is force else None
            if partner is not None:
                since = partner.seen_wall_ns
                if since is None:
                    since = self._created_wall_ns if self._created_wall_ns is not None else now_wall_ns
                if now_wall_ns - since >= self._max_wait_ns:
                    return None  # stale: silent for the bounded wait
                reference = partner.watermark_ns
                if reference is None:
                    reference = partner.earliest_pending_ns
                if reference is None:
                    return stream.watermark_ns  # the partner has sent nothing yet: wait (until it goes stale)
                return reference + self._ahead_ns
        return self._limit_among_all(stream, now_wall_ns)

    def _limit_among_all(self, stream: SensorStream, now_wall_ns: int) -> int | None:
        """``_limit_for`` by its definition: every partner slot but ``stream``'s own, in order."""
        if self._finishing:
            return None
        # ``_stale`` inlined: a partner is skipped when stale.
        limit = None
        for partner, kind in ((self.emg, _EMG), (self.force, _FORCE), (self.bar, _VELOCITY)):
            if partner is stream:
                continue
            if partner is None:
                # _expects inlined
                if kind not in self._expected and not (
                        kind == _VELOCITY and (a := self.assignment) is not None and a.bar_sensor):
                    continue  # stale: a kind the station does not wait for
                since = None
            else:
                since = partner.seen_wall_ns
            if since is None:
                since = self._created_wall_ns if self._created_wall_ns is not None else now_wall_ns
            if now_wall_ns - since >= self._max_wait_ns:
                continue  # stale: silent for the bounded wait
            if partner is None:
                return stream.watermark_ns
            reference = partner.watermark_ns
            if reference is None:
                reference = partner.earliest_pending_ns
            if reference is None:
                return stream.watermark_ns  # the partner has sent nothing yet: wait (until it goes stale)
            mine = reference + self._ahead_ns
            limit = mine if limit is None or mine < limit else limit
        return limit

    def _release(self, now_wall_ns: int) -> None:
        """Drain what the streams hold back. Asked for only when one holds something: ``add`` and ``poll``
        test that inline, once a frame, since the call itself would cost more than the test."""
        # Draining one stream raises the other's limit, so go round until nothing moves.
        moved = True
        while moved:
            moved = False
            for stream in (self.emg, self.force, self.bar):
                if stream is not None and stream.pending_frames:
                    before = stream.watermark_ns
                    stream.drain(self._limit_for(stream, now_wall_ns))
                    moved = moved or stream.watermark_ns != before

    def _stream_for(self, frame: Frame) -> SensorStream | None:
        # The common case first: the frame belongs to a stream that exists already.
        kind = frame.kind
        known = self.emg if kind == SensorKind.EMG else self.force if kind == SensorKind.FORCE else self.bar
        if known is not None and known.matches(frame):
            return known
        c = self.config
        lateness_ns = round(c.lateness_s * NS)
        if frame.kind == SensorKind.EMG:
            if self.emg is None or not self.emg.matches(frame):
                self._emg_tf = EmgTransform(frame.channels, frame.rate_hz, c.envelope_cutoff_hz)
                # A window's samples, plus how far this stream may run ahead of the force stream.
                capacity = 2 * (c.window_s + c.hop_s) + c.lateness_s + 1.0 + c.rep_wait_s
                self.emg = SensorStream(
                    rate_hz=frame.rate_hz, channels=frame.channels, transform=self._emg_tf,
                    n_out=self._emg_tf.n_out, capacity_s=capacity, lateness_ns=lateness_ns,
                    dtype=np.float32,  # halves the largest buffer; float32 keeps 7 digits
                )
            return self.emg
        if frame.kind == SensorKind.FORCE:
            if self.force is None or not self.force.matches(frame):
                self._force_tf = ForceTransform(frame.channels)
                capacity = max(c.history_s, c.window_s + c.lateness_s) + c.window_s + c.hop_s + 1.0 + c.rep_wait_s
                self.force = SensorStream(
                    rate_hz=frame.rate_hz, channels=frame.channels, transform=self._force_tf,
                    n_out=ForceTransform.n_out, capacity_s=capacity, lateness_ns=lateness_ns,
                )
            return self.force
        if frame.kind == SensorKind.VELOCITY:
            if self.bar is None or not self.bar.matches(frame):
                self._bar_tf = BarTransform(frame.channels, frame.units)
                capacity = max(c.bar.history_s, c.window_s + c.lateness_s) + c.window_s + c.hop_s + 1.0 + c.rep_wait_s
                self.bar = SensorStream(
                    rate_hz=frame.rate_hz, channels=frame.channels, transform=self._bar_tf,
                    n_out=BarTransform.n_out, capacity_s=capacity, lateness_ns=lateness_ns,
                )
            return self.bar
        return None

    # -- window clock -------------------------------------------------------------------------
    def _streams(self) -> list[SensorStream]:
        return [s for s in (self.emg, self.force, self.bar) if s is not None]

    def _first_window(self) -> int | None:
        """The first grid point with data from every started stream and settled EMG filters.

        A replay (after a restart or a handover) resumes the EMG ``settle_s`` before the next window
        still to compute, while the force and bar histories reach seconds further back. The windows
        before that point were emitted by the previous run with settled filters; recomputed from cold
        filters they would overwrite the stored ones with slightly different EMG numbers. So the EMG
        must have settled for as long as the station's other data shows it could have, up to
        ``settle_s``: at the start of a recording, where every stream starts together, the windows
        start with the data.
        """
        starts = [s.time_of(s.ring.start) for s in self._streams() if s.watermark_ns is not None]
        if not starts:
            return None
        first = max(starts)
        if self.emg is not None and self.emg.watermark_ns is not None:
            emg = self.emg.time_of(self.emg.ring.start)
            first = max(first, emg + min(round(self.config.settle_s * NS), emg - min(starts)))
        hop, offset = self.config.hop_ns, self._grid_offset_ns
        return offset + -(-(first - offset) // hop) * hop

    def poll(self, now_wall_ns: int) -> list[WindowMetric]:
        """Windows that have closed, oldest first.

        A window waits for both sensor kinds. When only one has passed its end, it waits at most
        ``max_wait_s`` of wall time, unless the other stream is stale (absent, or silent for that
        long), and is then emitted flagged partial. A window whose rep's lift still goes on at its end
        waits, a hop at a time and at most ``rep_wait_s``, for the data to pass the lift's end (``_compute``).
        """
        e, f, b = self.emg, self.force, self.bar
        if (e is not None and e._pending) or (f is not None and f._pending) or (b is not None and b._pending):
            self._release(now_wall_ns)  # something is held back (rare)
        out: list[WindowMetric] = []
        if self.next_window_ns is None:
            streams = (self.emg, self.force, self.bar)
            started = [s is not None and s.watermark_ns is not None for s in streams]
            waiting = [
                not ok and not self._stale(s, now_wall_ns, kind)
                for ok, s, kind in zip(started, streams, _KINDS, strict=True)
            ]
            if not any(started) or any(waiting):
                return out
            self.next_window_ns = self._first_window()
        max_wait_ns = self._max_wait_ns
        window_ns = self._window_ns
        while True:
            end = self.next_window_ns + window_ns
            # The data the window waits for: to its end, or further while the rep it owns goes on.
            until = end
            if self._waiting is not None and self._waiting[0] == self.next_window_ns:
                until = self._waiting[1]
            e, f, b = self.emg, self.force, self.bar
            may_wait = True
            if not ((e is not None and (w := e.watermark_ns) is not None and w >= until)
                    or (f is not None and (w := f.watermark_ns) is not None and w >= until)
                    or (b is not None and (w := b.watermark_ns) is not None and w >= until)):
                # The usual answer between windows: nothing has passed the next window's end. A rep waiting
                # for data that stopped coming (every stream silent for the bounded wait: the athlete left,
                # the kit went off) is measured on what arrived.
                if until == end or not all(self._stale(s, now_wall_ns) for s in (e, f, b) if s is not None):
                    return out
                partial = may_wait = False
            else:
                streams = (e, f, b)
                done = [s is not None and s.watermark_ns is not None and s.watermark_ns >= until for s in streams]
                needed = [s is not None or self._expects(k) for s, k in zip(streams, _KINDS, strict=True)]
                if all(ok or not need for ok, need in zip(done, needed, strict=True)):
                    partial = False
                else:
                    stale = all(
                        ok or self._stale(s, now_wall_ns, k) for ok, s, k in zip(done, streams, _KINDS, strict=True)
                    )
                    if self._ready_since_wall_ns is None:
                        self._ready_since_wall_ns = now_wall_ns
                    if not stale and now_wall_ns - self._ready_since_wall_ns < max_wait_ns:
                        return out
                    partial = True
            try:
                metric = self._compute(self.next_window_ns, end, partial, now_wall_ns, until, may_wait)
            except Exception as exc:  # one window's analysis never stops the station, nor any other
                self.faults.append((self.next_window_ns, exc))
                metric = self.failed_window(self.next_window_ns, end, partial, now_wall_ns)
            self._ready_since_wall_ns = None
            if metric is None:
                continue  # its rep's lift goes on: the window waits for the data end _compute set
            out.append(metric)
            self._waiting = None
            self.next_window_ns += self._hop_ns
            self.windows_emitted += 1

    def needed_from_ns(self, kind: SensorKind) -> int | None:
        """Facility time from which this station still needs ``kind`` data to compute its next windows.

        None while its windows have not started (everything is needed). EMG: the next window plus the
        envelope filters' settling time; force: the body-weight history before the next window's end;
        bar: its position history before the next window's end.
        """
        if self.next_window_ns is None:
            return None
        c = self.config
        if kind == SensorKind.EMG:
            return self.next_window_ns - round(c.settle_s * NS)
        if kind == SensorKind.VELOCITY:
            return self.next_window_ns + c.window_ns - round(c.bar.history_s * NS)
        return self.next_window_ns + c.window_ns - round(c.history_s * NS)

    def finish(self, now_wall_ns: int) -> list[WindowMetric]:
        """End of a recording: stop waiting for anything and emit every window the data covers."""
        self._finishing = True
        return self.poll(now_wall_ns)

    # -- metrics ------------------------------------------------------------------------------
    def _covered(self, stream: SensorStream | None, start_ns: int, end_ns: int) -> tuple[int, int] | None:
        if stream is None or stream.watermark_ns is None or stream.watermark_ns < end_ns:
            return None
        i0, i1 = stream.index_of(start_ns), stream.index_of(end_ns)
        if i0 < stream.ring.start or i1 <= i0:
            return None
        return i0, i1

    def _compute(
        self, start: int, end: int, partial: bool, now_wall_ns: int, data_end: int | None = None,
        may_wait: bool = True,
    ) -> WindowMetric | None:
        """The window [start, end)'s record; its rep (if it owns one) measured on data up to ``data_end``
        (default ``end``). None when that rep's lift goes on past ``data_end`` and may still wait (``may_wait``,
        a complete window, not finishing, less than ``rep_wait_s`` past ``end``): the station then waits for
        data to a hop later (``_waiting``), and nothing of this call remains."""
        c = self.config
        data_end = end if data_end is None else data_end
        if self.station in c.fault_drill_stations:
            raise RuntimeError(f"fault drill: analysis of {self.station} raises on purpose")
        a = self.assignment
        target = self.targets.window(a)
        low, high = target.low_ms, target.high_ms
        slot_start, slot_end = start + self._slot_ns[0], start + self._slot_ns[1]
        # The force view (the rep analysis reads it) only when something reads it: the centre of mass's
        # reps need only where the history starts, and most windows own no rep.
        span = self._force_span(end)
        force: ForceView | None = None
        # Under a bench press the plates carry only the feet: no centre-of-mass velocity.
        bench = a is not None and a.exercise is not None and a.exercise.startswith("bench")
        # The movement says where a rep is; leg EMG bursts (eccentric work, a double drive) do not.
        # On the bench a bar position sensor sees it best; EMG decides only where neither bar nor
        # plates can: none, or nobody weighed on them.
        moves = self._bar_reps(end) if bench else None
        if moves is None and span is not None:
            if bench:
                force = self._force_view_of(*span)
                moves = self._drive_reps(force)
            else:
                moves = self._movement_reps(*span)
        # The EMG window (a float64 copy of 2 s) only when something reads it: the EMG peak search,
        # or a rep; most windows own none.
        emg = None
        if moves is not None:
            peak_ns = next((t for t in moves if slot_start <= t < slot_end), None)
            if peak_ns is not None:
                emg = self._emg_view(start, end)
        else:
            emg = self._emg_view(start, end)
            peak_ns = self._emg_peak(emg, slot_start, slot_end) if emg is not None else None
        fields: dict[str, object] = {}
        flags: list[str] = []
        if peak_ns is not None:
            # What the streams hold of the data the rep may read (a partial window: as far as they got).
            force_end, bar_end = self._held_to(self.force, end, data_end), self._held_to(self.bar, end, data_end)
            if force_end != end:
                rep_span = self._force_span(force_end)
                force = self._force_view_of(*rep_span) if rep_span is not None else None
            elif force is None and span is not None:
                force = self._force_view_of(*span)
            athlete = a.athlete if a else None
            carried = self._weighing[1] if self._weighing and self._weighing[0] == athlete else None
            if self._lag_ref is None or self._lag_ref[0] != athlete:
                self._lag_ref = (athlete, ChannelReference())
            # A measurement that may be thrown away (its lift may go on) learns into a copy of the reference.
            may_wait = may_wait and not partial and not self._finishing and data_end - end < self._rep_wait_ns
            reference = self._lag_ref[1].copy() if may_wait else self._lag_ref[1]
            result = analyze_rep(peak_ns, emg, force, c.rep, low, high, carried=carried, com_on_plate=not bench,
                                 lag_reference=reference)
            bar_open = self._bar_fields(bar_end, peak_ns, result.fields, result.flags)
            if may_wait and ("no_rep_end" in result.flags or bar_open):
                self._waiting = (start, min(data_end + self._hop_ns, end + self._rep_wait_ns))
                return None
            self._lag_ref = (athlete, reference)
            if result.weighing is not None:
                self._weighing = (athlete, result.weighing)
            drop_non_finite(result.fields, result.flags)
            self.targets.observe(a, result.fields)  # after judging: a rep never judges itself
            if result.fields.get("in_window") is not None:
                self._recent.append(bool(result.fields["in_window"]))
                self._alignment = alignment_score(self._recent, c.alignment_reps)
            fields, flags = result.fields, result.flags
        if self._emg_tf is not None and self._emg_tf.rate_flag is not None and self.emg is not None:
            flags = [*flags, self._emg_tf.rate_flag]
        tags = {
            "station": self.station,
            "athlete": a.athlete if a else None,
            "team": a.team if a else None,
            "exercise": a.exercise if a else None,
            "session": a.session if a else None,
        }
        alignment = self._alignment
        if peak_ns is not None:
            envelope = _envelopes_uv(emg, ENVELOPE_STEP_NS) if emg is not None else None
            position = self._plan.attribute(a, peak_ns)
            loss = self._velocity_loss.observe(
                peak_ns, fields.get("mean_concentric_velocity_m_s"), a.athlete if a else None, position)
            if loss is not None:
                fields["velocity_loss_pct"] = loss
            self.reps.append(RepMetric(
                **tags, rep_peak_ns=peak_ns, rep_start_ns=result.rep_start_ns or start, window_start_ns=start,
                target_low_ms=low, target_high_ms=high, target_source=target.source, window_end_ns=end,
                data_end_ns=max(force_end, bar_end), alignment=alignment if "lag_ms" in fields else None,
                flags=flags, emitted_at_ns=now_wall_ns,
                envelope_t0_ns=envelope[0] if envelope else None,
                envelope_step_ns=ENVELOPE_STEP_NS if envelope else None,
                envelopes_uv=envelope[1] if envelope else {},
                **fields, **position,
            ))
        window_fields = {k: fields.get(k) for k in _WINDOW_FIELDS} if fields else _NO_WINDOW_FIELDS
        return WindowMetric(
            **tags, window_start_ns=start, window_end_ns=end, partial=partial, rep_peak_ns=peak_ns,
            target_low_ms=low, target_high_ms=high, target_source=target.source, alignment=alignment, flags=flags,
            emitted_at_ns=now_wall_ns, **window_fields,
        )

    def failed_window(self, start: int, end: int, partial: bool, now_wall_ns: int) -> WindowMetric:
        """The record of a window whose analysis raised: its key and tags, no metrics, ``analysis_error``."""
        a = self.assignment
        return WindowMetric(
            station=self.station, athlete=a.athlete if a else None, team=a.team if a else None,
            exercise=a.exercise if a else None, session=a.session if a else None,
            window_start_ns=start, window_end_ns=end, partial=partial, flags=["analysis_error"],
            emitted_at_ns=now_wall_ns,
        )

    def _emg_view(self, start: int, end: int) -> EmgView | None:
        span = self._covered(self.emg, start, end)
        if span is None or self._emg_tf is None or not self._emg_tf.usable:
            return None
        data = self.emg.ring.view(*span).astype(np.float64)  # the float64 copy is the only copy
        return EmgView(
            rate_hz=self.emg.rate_hz, t0_ns=self.emg.time_of(span[0]), leg=data[0], pec=data[1], raw=data[2:],
            raw_names=self._emg_tf.raw_names, has_gap=self.emg.has_gap(*span),
        )

    def _force_view(self, end: int) -> ForceView | None:
        span = self._force_span(end)
        return self._force_view_of(*span) if span is not None else None

    def _force_span(self, end: int) -> tuple[int, int] | None:
        """Sample indices [first, stop) of the force history a window ending at ``end`` reads, if any."""
        force = self.force
        if force is None or self._force_tf is None or not self._force_tf.usable:
            return None
        watermark = force.watermark_ns
        if watermark is None or watermark < end:
            return None
        stop = force.index_of(end)
        first = max(force.ring.start, stop - int(self.config.history_s * force.rate_hz))
        if stop - first < 2:
            return None
        return first, stop

    def _force_view_of(self, first: int, stop: int) -> ForceView:
        force = self.force
        assert force is not None and self._force_tf is not None
        data = force.ring.view(first, stop)  # no copy of 8 s of force for every window
        dual = self._force_tf.dual
        return ForceView(
            rate_hz=force.rate_hz, t0_ns=force.time_of(first), total=data[0],
            left=data[1] if dual else None, right=data[2] if dual else None,
            has_gap=force.has_gap(first, stop),
        )

    def _bar_fields(self, end: int, peak_ns: int, fields: dict, flags: list[str]) -> bool:
        """Bar velocity of the rep, on a station with a bar sensor (or one expected to have it), from the bar
        data up to ``end``; returns whether more bar data could change it (``bar_metrics``)."""
        if self.bar is None and not self._expects(SensorKind.VELOCITY):
            return False  # no bar sensor: nothing to measure, nothing to flag
        if self._bar_tf is not None and not self._bar_tf.usable:
            flags.append("no_bar_channel")
            return False
        a = self.assignment
        load = a.load_kg if a is not None else None
        # Under a bench the plates carry the feet, not the bar's body: they cannot time its start.
        bench = a is not None and a.exercise is not None and a.exercise.startswith("bench")
        plates = self._force_view(end) if not bench else None
        return bar_metrics(self._bar_view(end), peak_ns, self.config.bar, fields, flags, load_kg=load, plates=plates)

    @staticmethod
    def _held_to(stream: SensorStream | None, end: int, data_end: int) -> int:
        """How far a rep measured on data up to ``data_end`` reads ``stream``: to ``data_end`` when it holds
        that, else as far as it got past the window's ``end`` (a partial window, the end of a recording)."""
        if data_end == end or stream is None or stream.watermark_ns is None:
            return end
        return max(end, min(data_end, stream.watermark_ns))

    def _bar_view(self, end: int) -> BarView | None:
        bar = self.bar
        if bar is None or bar.watermark_ns is None or bar.watermark_ns < end:
            return None
        stop = bar.index_of(end)
        first = max(bar.ring.start, stop - int(self.config.bar.history_s * bar.rate_hz))
        if stop - first < 3:
            return None
        imu = self._bar_tf is not None and self._bar_tf.acceleration
        return BarView(rate_hz=bar.rate_hz, t0_ns=bar.time_of(first), samples=bar.ring.read(first, stop)[0],
                       has_gap=bar.has_gap(first, stop), acceleration=imu)

    def _owned_peak(self, signal: np.ndarray, rate: float, j0: int, j1: int) -> int | None:
        """Index of a burst peak inside [j0, j1) that dominates its neighbourhood, else None."""
        j0, j1 = max(j0, 0), min(j1, len(signal))
        if j1 <= j0:
            return None
        p = j0 + int(np.argmax(signal[j0:j1]))
        guard = int(self.config.peak_guard_s * rate)
        lo, hi = max(0, p - guard), min(len(signal), p + guard + 1)
        if signal[p] < signal[lo:hi].max():
            return None
        return p

    def _emg_peak(self, emg: EmgView, slot_start: int, slot_end: int) -> int | None:
        """The leg-drive envelope peak owned by this window (a burst well above the quiet level)."""
        to_index = emg.rate_hz / NS
        j0 = int(np.ceil((slot_start - emg.t0_ns) * to_index - 1e-6))
        j1 = int(np.ceil((slot_end - emg.t0_ns) * to_index - 1e-6))
        if emg.has_gap:
            # Missing samples are zeros, so a gap through a burst leaves each side a peak that dominates
            # ±guard on its own: one rep counted twice. Judged on the received samples only, with the
            # guard counted in them, the two sides compete as the one burst they are.
            received = self._received(emg)
            k0, k1 = (int(k) for k in np.searchsorted(received, (j0, j1)))
            k = self._owned_peak(emg.leg[received], emg.rate_hz, k0, k1)
            p = None if k is None else int(received[k])
        else:
            p = self._owned_peak(emg.leg, emg.rate_hz, j0, j1)
        if p is None:
            return None
        quiet = percentile_linear(emg.leg, 10)
        if emg.leg[p] <= self.config.activity_ratio * max(quiet, 1e-12):
            return None
        return _rep_time(emg.t0_ns + p * NS / emg.rate_hz)

    def _received(self, emg: EmgView) -> np.ndarray:
        """Ascending indices into ``emg`` of the samples that arrived (not gap filling)."""
        assert self.emg is not None
        first = self.emg.index_of(emg.t0_ns)
        keep = np.ones(emg.leg.size, dtype=bool)
        for a, b in self.emg.gaps:
            keep[max(a - first, 0) : max(b - first, 0)] = False
        return np.flatnonzero(keep)

    def _bar_reps(self, end: int) -> list[int] | None:
        """Rep times (ns) from a bar position sensor, None without one (an IMU's velocity needs a rest
        to integrate from, which the force gives more surely)."""
        view = self._bar_view(end) if self.bar is not None else None
        if view is None or view.acceleration or view.has_gap:
            return None
        found = bar_ascents(view.samples, view.rate_hz, self.config.segment)
        if found is None:
            return None
        return [_rep_time(view.t0_ns + i * NS / view.rate_hz) for i in found]

    def _movement_reps(self, history: int, stop: int) -> list[int] | None:
        """Rep times (ns) of the centre of mass up to sample ``stop``, None when the plates weigh nobody
        in the force history from sample ``history`` (``_force_span``).

        The tracker takes each force sample once, as windows close, from where it stopped; it starts
        (again) at the oldest sample held when the stream is new, rebuilt or ran ahead of it.
        """
        force = self.force
        assert force is not None
        first = force.index_of(force.time_of(history))  # as from the force view's start time
        tracker = self._ascents
        if tracker is None or tracker.stream is not force or not first <= tracker.tracker.next_index <= stop:
            tracker = self._ascents = _StreamAscents(force, AscentTracker(force.rate_hz, self.config.segment, first))
        seg = tracker.tracker
        if seg.next_index < stop:
            seg.feed(force.ring.view(seg.next_index, stop)[0])
        # As for a history of ``history_s``: nobody stood quiet on the plates in it, the force cannot tell.
        if seg.last_quiet < first:
            return None
        seg.forget_before(first)
        return [_rep_time(force.anchor_ns + i * NS / force.rate_hz) for i in seg.reps]

    def _drive_reps(self, force: ForceView) -> list[int] | None:
        """Rep times (ns) of the bench leg drive in the force history, None when the plates weigh nobody."""
        found = drive_rises(force.total, force.rate_hz, self.config.segment)
        if found is None:
            return None
        return [_rep_time(force.t0_ns + i * NS / force.rate_hz) for i in found]


@dataclass
class _StreamAscents:
    stream: SensorStream  # the force stream the tracker follows (a rebuilt stream starts a new one)
    tracker: AscentTracker


_KINDS = (SensorKind.EMG, SensorKind.FORCE, SensorKind.VELOCITY)
_EMG, _FORCE, _VELOCITY = _KINDS
REP_TIME_STEP_NS = 100_000  # rep times (the rep's storage key) are reported to 0.1 ms


def _rep_time(t_ns: float) -> int:
    # A stream rebuilt after a restart may place samples a nanosecond off the first run; rounding
    # keeps the rep's key, so storage overwrites the rep instead of holding it twice.
    return round(t_ns / REP_TIME_STEP_NS) * REP_TIME_STEP_NS
ENVELOPE_STEP_NS = 50_000_000  # 20 Hz: plenty for a 6 Hz envelope on a dashboard


def _envelopes_uv(emg: EmgView, step_ns: int) -> tuple[int, dict[str, list[float]]] | None:
    """Leg-drive and pectoral envelopes averaged over whole ``step_ns`` bins of an absolute grid (None when
    the window holds no whole bin, or a bin without a sample: a rate below one sample per bin)."""
    n = emg.leg.size
    if n == 0:
        return None
    t = emg.t0_ns + np.round(np.arange(n) * (NS / emg.rate_hz)).astype(np.int64)
    first, last = int(t[0]) // step_ns + 1, int(t[-1]) // step_ns  # drop the partial bins at either edge
    if last <= first:
        return None
    # The samples are in time order, so each bin is one run of them: its bounds by bisection, its sum by
    # one reduction per run, instead of a bin number and a weighted count for every sample.
    bounds = np.searchsorted(t, np.arange(first, last + 1, dtype=np.int64) * step_ns)
    counts = np.diff(bounds)
    if not counts.all():
        return None
    a, b = int(bounds[0]), int(bounds[-1])
    starts = bounds[:-1] - a
    out = {}
    for name, x in (("leg_drive", emg.leg), ("pectoralis", emg.pec)):
        sums = np.add.reduceat(x[a:b], starts)
        out[name] = (sums / counts * 1e6).round(3).tolist()
    return first * step_ns, out


# The per-rep fields a window record repeats for the wall and the dashboards.
_WINDOW_FIELDS = (
    "lag_ms", "coupling", "in_window", "body_weight_n", "force_onset_ns", "rfd_0_100_n_per_s",
    "peak_propulsive_force_n", "transfer_index", "mean_concentric_velocity_m_s",
)
_NO_WINDOW_FIELDS = dict.fromkeys(_WINDOW_FIELDS)  # a window without a rep: passed as **kwargs, never changed
