"""Per-station analysis state: EMG and force streams, the window clock and the window metrics.

Windows lie on a fixed event-time grid (starts are multiples of the hop since the Unix epoch),
so a replay of the same data yields the same windows. A window closes when both sensor kinds
have been processed past its end (the watermark), or after a bounded wall-clock wait, in which
case it is flagged partial.

Each rep is owned by exactly one window: the one whose ownership slot, the hop-long interval
just before the window centre, holds the peak of the leg-drive envelope. Slots of successive
windows tile the time axis, so a rep straddling several windows is counted once, and the owning
window always has at least (window − hop)/2 of signal on either side of the peak.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from kinesync.codec.frame import Frame, SensorKind
from kinesync.dsp.filters import EnvelopeFilter
from kinesync.dsp.force import body_weight, force_onset, rfd
from kinesync.dsp.lag import phase_lag
from kinesync.models import SessionAssignment, WindowMetric
from kinesync.streaming.roles import LEG_ROLES, emg_role_rows, force_rows
from kinesync.streaming.stream import SensorStream

NS = 1_000_000_000


@dataclass(frozen=True)
class AnalysisConfig:
    window_s: float = 2.0
    hop_s: float = 0.25
    max_wait_s: float = 2.0
    lateness_s: float = 1.0
    alignment_reps: int = 10
    envelope_cutoff_hz: float = 6.0
    history_s: float = 6.0  # force kept for the body-weight search, s
    activity_ratio: float = 2.5  # burst peak / quiet envelope level that counts as a rep
    peak_guard_s: float = 0.5  # the leg peak must dominate ±this much signal, s
    onset_k_sd: float = 5.0

    @property
    def window_ns(self) -> int:
        return round(self.window_s * NS)

    @property
    def hop_ns(self) -> int:
        return round(self.hop_s * NS)


class EmgTransform:
    """Raw EMG frame rows → causal linear envelopes of the role channels (leg mean, pec)."""

    def __init__(self, channels: tuple[str, ...], rate_hz: float, cutoff_hz: float) -> None:
        roles = emg_role_rows(channels)
        self.leg_rows = [r for role in LEG_ROLES for r in roles.get(role, [])]
        self.pec_rows = roles.get("pec", [])
        self.rows = self.leg_rows + self.pec_rows
        self._filter = EnvelopeFilter(rate_hz, len(self.rows), cutoff_hz=cutoff_hz) if self.rows else None

    @property
    def usable(self) -> bool:
        return bool(self.leg_rows) and bool(self.pec_rows)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        out = np.zeros((2, block.shape[1]))
        if self._filter is None:
            return out
        env = self._filter.process(block[self.rows])
        n_leg = len(self.leg_rows)
        if n_leg:
            out[0] = env[:n_leg].mean(axis=0)
        if self.pec_rows:
            out[1] = env[n_leg:].mean(axis=0)
        return out


class ForceTransform:
    """Force frame rows → vertical force in total, left and right (N)."""

    def __init__(self, channels: tuple[str, ...]) -> None:
        self.vertical, self.left, self.right = force_rows(channels)

    @property
    def usable(self) -> bool:
        return bool(self.vertical)

    def __call__(self, block: np.ndarray) -> np.ndarray:
        out = np.zeros((3, block.shape[1]))
        for row, idx in enumerate((self.vertical, self.left, self.right)):
            if idx:
                out[row] = block[idx].sum(axis=0)
        return out


class StationAnalyzer:
    def __init__(self, station: str, config: AnalysisConfig) -> None:
        self.station = station
        self.config = config
        self.emg: SensorStream | None = None
        self.force: SensorStream | None = None
        self._emg_usable = False
        self._force_usable = False
        self.next_window_ns: int | None = None
        self._ready_since_wall_ns: int | None = None
        self._recent: deque[bool] = deque(maxlen=config.alignment_reps)
        self.assignment: SessionAssignment | None = None
        self.windows_emitted = 0
        self._seen_wall_ns: dict[int, int] = {}
        self._created_wall_ns: int | None = None

    # -- input -------------------------------------------------------------------------------
    def add(self, frame: Frame, now_wall_ns: int) -> None:
        stream = self._stream_for(frame)
        if stream is None:
            return
        if self._created_wall_ns is None:
            self._created_wall_ns = now_wall_ns
        self._seen_wall_ns[id(stream)] = now_wall_ns
        stream.add(frame, self._limit_for(stream, now_wall_ns))
        self._release(now_wall_ns)

    def _partner(self, stream: SensorStream) -> SensorStream | None:
        return self.force if stream is self.emg else self.emg

    def _stale(self, stream: SensorStream | None, now_wall_ns: int) -> bool:
        """No frame from this stream for the bounded wait: windows go on without it (partial)."""
        since = self._seen_wall_ns.get(id(stream)) if stream is not None else None
        if since is None:
            since = self._created_wall_ns if self._created_wall_ns is not None else now_wall_ns
        return now_wall_ns - since >= round(self.config.max_wait_s * NS)

    def _limit_for(self, stream: SensorStream, now_wall_ns: int) -> int | None:
        """How far (event time) ``stream`` may run ahead of its partner before it waits."""
        partner = self._partner(stream)
        if self._stale(partner, now_wall_ns):
            return None
        if partner is None or partner.watermark_ns is None:
            return stream.watermark_ns if stream.watermark_ns is not None else None
        return partner.watermark_ns + self.config.window_ns + self.config.hop_ns

    def _release(self, now_wall_ns: int) -> None:
        # Draining one stream raises the other's limit, so go round until nothing moves.
        moved = True
        while moved:
            moved = False
            for stream in (self.emg, self.force):
                if stream is not None and stream.pending_frames:
                    before = stream.watermark_ns
                    stream.drain(self._limit_for(stream, now_wall_ns))
                    moved = moved or stream.watermark_ns != before

    def _stream_for(self, frame: Frame) -> SensorStream | None:
        c = self.config
        lateness_ns = round(c.lateness_s * NS)
        if frame.kind == SensorKind.EMG:
            if self.emg is None or not self.emg.matches(frame):
                transform = EmgTransform(frame.channels, frame.rate_hz, c.envelope_cutoff_hz)
                self._emg_usable = transform.usable
                # A window's samples, plus how far this stream may run ahead of the force stream.
                capacity = 2 * (c.window_s + c.hop_s) + c.lateness_s + 1.0
                self.emg = SensorStream(
                    rate_hz=frame.rate_hz,
                    channels=frame.channels,
                    transform=transform,
                    n_out=2,
                    capacity_s=capacity,
                    lateness_ns=lateness_ns,
                )
            return self.emg
        elif frame.kind == SensorKind.FORCE:
            if self.force is None or not self.force.matches(frame):
                transform = ForceTransform(frame.channels)
                self._force_usable = transform.usable
                capacity = max(c.history_s, c.window_s + c.lateness_s) + c.window_s + c.hop_s + 1.0
                self.force = SensorStream(
                    rate_hz=frame.rate_hz,
                    channels=frame.channels,
                    transform=transform,
                    n_out=3,
                    capacity_s=capacity,
                    lateness_ns=lateness_ns,
                )
            return self.force
        return None

    # -- window clock -------------------------------------------------------------------------
    def _streams(self) -> list[SensorStream]:
        return [s for s in (self.emg, self.force) if s is not None]

    def _first_window(self) -> int | None:
        starts = [s.time_of(s.ring.start) for s in self._streams() if s.watermark_ns is not None]
        if not starts:
            return None
        hop = self.config.hop_ns
        return -(-max(starts) // hop) * hop  # first grid point with data from every started stream

    def poll(self, now_wall_ns: int) -> list[WindowMetric]:
        """Windows that have closed, oldest first.

        A window waits for both sensor kinds. When only one has passed its end, it waits at most
        ``max_wait_s`` of wall time, unless the other stream is stale (absent, or silent for that
        long), and is then emitted flagged partial.
        """
        out: list[WindowMetric] = []
        self._release(now_wall_ns)
        if self.next_window_ns is None:
            streams = (self.emg, self.force)
            started = [s is not None and s.watermark_ns is not None for s in streams]
            waiting = [not ok and not self._stale(s, now_wall_ns) for ok, s in zip(started, streams, strict=True)]
            if not any(started) or any(waiting):
                return out
            self.next_window_ns = self._first_window()
        c = self.config
        max_wait_ns = round(c.max_wait_s * NS)
        while True:
            end = self.next_window_ns + c.window_ns
            streams = (self.emg, self.force)
            done = [s is not None and s.watermark_ns is not None and s.watermark_ns >= end for s in streams]
            if all(done):
                partial = False
            elif any(done):
                stale = all(ok or self._stale(s, now_wall_ns) for ok, s in zip(done, streams, strict=True))
                if self._ready_since_wall_ns is None:
                    self._ready_since_wall_ns = now_wall_ns
                if not stale and now_wall_ns - self._ready_since_wall_ns < max_wait_ns:
                    return out
                partial = True
            else:
                return out
            out.append(self._compute(self.next_window_ns, end, partial, now_wall_ns))
            self._ready_since_wall_ns = None
            self.next_window_ns += c.hop_ns
            self.windows_emitted += 1

    # -- metrics ------------------------------------------------------------------------------
    def _covered(self, stream: SensorStream | None, start_ns: int, end_ns: int) -> tuple[int, int] | None:
        if stream is None or stream.watermark_ns is None or stream.watermark_ns < end_ns:
            return None
        i0, i1 = stream.index_of(start_ns), stream.index_of(end_ns)
        if i0 < stream.ring.start or i1 <= i0:
            return None
        return i0, i1

    def _compute(self, start: int, end: int, partial: bool, now_wall_ns: int) -> WindowMetric:
        c = self.config
        a = self.assignment
        low = a.target_low_ms if a else 80.0
        high = a.target_high_ms if a else 120.0
        fields: dict[str, object] = {}
        slot_start = start + (c.window_ns // 2) - c.hop_ns
        slot_end = start + c.window_ns // 2
        rep_peak_ns: int | None = None

        emg_span = self._covered(self.emg, start, end) if self._emg_usable else None
        if emg_span is not None and not self.emg.has_gap(*emg_span):
            rep_peak_ns = self._emg_rep(emg_span, slot_start, slot_end, low, high, fields)
        force_span = self._covered(self.force, start, end) if self._force_usable else None
        if force_span is not None and not self.force.has_gap(*force_span):
            self._force_metrics(force_span, rep_peak_ns, slot_start, slot_end, fields)
            rep_peak_ns = rep_peak_ns if rep_peak_ns is not None else fields.pop("_force_peak_ns", None)
        fields.pop("_force_peak_ns", None)
        return WindowMetric(
            station=self.station,
            athlete=a.athlete if a else None,
            team=a.team if a else None,
            exercise=a.exercise if a else None,
            session=a.session if a else None,
            window_start_ns=start,
            window_end_ns=end,
            partial=partial,
            rep_peak_ns=rep_peak_ns,
            target_low_ms=low,
            target_high_ms=high,
            alignment=(sum(self._recent) / len(self._recent)) if self._recent else None,
            emitted_at_ns=now_wall_ns,
            **fields,
        )

    def _owned_peak(self, signal: np.ndarray, rate: float, j0: int, j1: int) -> int | None:
        """Index of a burst peak inside [j0, j1) that dominates its neighbourhood, else None."""
        if j1 <= j0:
            return None
        p = j0 + int(np.argmax(signal[j0:j1]))
        guard = int(self.config.peak_guard_s * rate)
        lo, hi = max(0, p - guard), min(len(signal), p + guard + 1)
        if signal[p] < signal[lo:hi].max():
            return None
        quiet = float(np.percentile(signal, 10))
        if signal[p] <= self.config.activity_ratio * max(quiet, 1e-12):
            return None
        return p

    def _emg_rep(
        self,
        span: tuple[int, int],
        slot_start: int,
        slot_end: int,
        low: float,
        high: float,
        fields: dict[str, object],
    ) -> int | None:
        emg = self.emg
        env = emg.ring.read(*span)
        leg, pec = env[0], env[1]
        i0 = span[0]
        p = self._owned_peak(leg, emg.rate_hz, emg.index_of(slot_start) - i0, emg.index_of(slot_end) - i0)
        if p is None:
            return None
        if pec.max() <= self.config.activity_ratio * max(float(np.percentile(pec, 10)), 1e-12):
            return emg.time_of(i0 + p)  # a leg rep without chest activity: no lag to report
        result = phase_lag(leg, pec, emg.rate_hz)
        if result is not None:
            lag_ms = result.lag_s * 1000.0
            in_window = low <= lag_ms <= high
            self._recent.append(in_window)
            fields.update(lag_ms=lag_ms, coupling=result.coupling, in_window=in_window)
        return emg.time_of(i0 + p)

    def _force_metrics(
        self,
        span: tuple[int, int],
        rep_peak_ns: int | None,
        slot_start: int,
        slot_end: int,
        fields: dict[str, object],
    ) -> None:
        force = self.force
        rate = force.rate_hz
        hist_start = max(force.ring.start, span[1] - int(self.config.history_s * rate))
        hist = force.ring.read(hist_start, span[1])[0]
        bw = body_weight(hist, rate)
        if bw is None:
            return
        bw_n, sd_n = bw
        fields["body_weight_n"] = bw_n
        offset = span[0] - hist_start
        if rep_peak_ns is None:
            # Force-only station: the rep is the force peak well above body weight in the slot.
            j0, j1 = force.index_of(slot_start) - hist_start, force.index_of(slot_end) - hist_start
            p = self._owned_peak(np.abs(hist - bw_n), rate, j0, j1) if j1 > j0 else None
            if p is None or abs(hist[p] - bw_n) < 10 * sd_n:
                return
            fields["_force_peak_ns"] = force.time_of(hist_start + p)
        else:
            p = force.index_of(rep_peak_ns) - hist_start
            p = min(max(p, offset), len(hist) - 1)
        # The rep starts at the last quiet-standing sample before its peak.
        quiet = np.flatnonzero(np.abs(hist[:p] - bw_n) <= self.config.onset_k_sd * sd_n)
        if quiet.size == 0:
            return
        onset = force_onset(hist, rate, bw_n, sd_n, k_sd=self.config.onset_k_sd, start=int(quiet[-1]))
        if onset is None:
            return
        fields["force_onset_ns"] = force.time_of(hist_start + onset)
        fields["rfd_0_100_n_per_s"] = rfd(hist, rate, onset, 0.100)
        fields["peak_force_n"] = float(hist[int(onset) :].max())
