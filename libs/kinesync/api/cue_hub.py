"""Cues in the API process: from ``kinesync.reps`` to station views and WebSocket listeners, and
the cue latency those views report back.

Data path: the API reads ``kinesync.reps`` with a group-less consumer polled every 50 ms
(``kinesync.api.workers.follow_reps``), turns each rep into a cue (``kinesync.analysis.cues``) and
hands it at once to every listener's queue; nothing on the way touches the disk. Rep end is the
owning window's end (facility time), the moment the analyzer has what it needs to judge the rep.

Sets: the hub follows each station's current set (``kinesync.analysis.cues.SetTracker``) and puts
the set's mean lag with its 95 % interval on every cue; with a live state attached it also hands
that summary to the wall's tile (``LiveState.note_set``).

Latency: a station view acknowledges every cue it has painted with the time it spent between
receiving and painting it. The API takes the moment of painting as halfway between its send and
the acknowledgement's arrival plus half that processing time (the NTP assumption of a symmetric
network), so a tablet's own clock plays no part. Latency = painted − rep end.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from kinesync.analysis.cues import Cue, SetLag, SetTracker, cue_for
from kinesync.models import RepMetric
from kinesync.storage.lineprotocol import escape_key
from kinesync.storage.pipeline import MEASUREMENT as PIPELINE

RECENT_CUES = 8
QUEUE_CUES = 64
LATENCY_SAMPLES = 4096


def cue_id(cue: Cue) -> str:
    # Nanosecond integers do not survive a JavaScript number; the page echoes this string instead.
    return f"{cue.station}|{cue.rep_peak_ns}"


def cue_message(cue: Cue) -> dict[str, object]:
    return {"type": "cue", "id": cue_id(cue), "rep_end_ms": cue.rep_end_ns / 1e6, "cue": cue.model_dump(mode="json")}


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100.0 * len(ordered)) - 1)]


@dataclass(frozen=True)
class LatencyStats:
    count: int
    p50_ms: float | None
    p99_ms: float | None
    max_ms: float | None


def latency_stats(values: list[float]) -> LatencyStats:
    if not values:
        return LatencyStats(0, None, None, None)
    return LatencyStats(len(values), percentile(values, 50), percentile(values, 99), max(values))


class SetSink(Protocol):
    def note_set(self, station: str, athlete: str | None, session: str | None, summary: SetLag) -> None: ...


class CueHub:
    """Recent cues per station, the listeners' queues, each station's current set and the
    shown-latency samples. One event loop."""

    def __init__(self, *, window_s: float = 2.0, clock_ns: Callable[[], int] = time.time_ns,
                 live: SetSink | None = None) -> None:
        self.window_s = window_s
        self._clock_ns = clock_ns
        self.live = live
        self.recent: dict[str, deque[Cue]] = {}
        self.sets: dict[str, SetTracker] = {}
        self._listeners: dict[str | None, set[asyncio.Queue[Cue]]] = {}
        self._sent: dict[str, Cue] = {}
        # (arrival wall ns, rep end → painted ms) and (rep end → pushed ms), for stats and the dashboard
        self.shown_ms: deque[tuple[int, float]] = deque(maxlen=LATENCY_SAMPLES)
        self.pushed_ms: deque[tuple[int, float]] = deque(maxlen=LATENCY_SAMPLES)

    def listen(self, station: str | None) -> asyncio.Queue[Cue]:
        q: asyncio.Queue[Cue] = asyncio.Queue(maxsize=QUEUE_CUES)
        self._listeners.setdefault(station, set()).add(q)
        return q

    def unlisten(self, station: str | None, q: asyncio.Queue[Cue]) -> None:
        self._listeners.get(station, set()).discard(q)

    def _take(self, rep: RepMetric, sent_at_ns: int) -> Cue:
        """The rep into its station's set and recent cues; its cue."""
        summary = self.sets.setdefault(rep.station, SetTracker()).add(rep)
        cue = cue_for(rep, window_s=self.window_s, sent_at_ns=sent_at_ns, set_lag=summary)
        if summary is not None and self.live is not None:
            self.live.note_set(rep.station, rep.athlete, rep.session, summary)
        self.recent.setdefault(cue.station, deque(maxlen=RECENT_CUES)).append(cue)
        return cue

    def seed(self, reps: Iterable[RepMetric]) -> int:
        """Stations' current sets and recent cues from stored reps (in time order), each cue dated when the
        analyzer emitted its rep: a restarted API shows the set lag and the station view's last cues it
        showed before. Nothing goes to a listener or into the latency figures, and a station that has had a
        live rep is left alone. Returns the reps taken."""
        live = set(self.sets)
        taken = 0
        for rep in reps:
            if rep.station not in live:
                self._take(rep, rep.emitted_at_ns or rep.window_end_ns)
                taken += 1
        return taken

    def publish(self, rep: RepMetric) -> Cue:
        now = self._clock_ns()
        cue = self._take(rep, now)
        self._sent[cue_id(cue)] = cue
        while len(self._sent) > LATENCY_SAMPLES:
            self._sent.pop(next(iter(self._sent)))
        self.pushed_ms.append((now, (now - cue.rep_end_ns) / 1e6))
        for key in (cue.station, None):
            for q in self._listeners.get(key, ()):
                if q.full():  # a listener that does not read loses its oldest cue, never blocks the rest
                    with contextlib.suppress(asyncio.QueueEmpty):
                        q.get_nowait()
                q.put_nowait(cue)
        return cue

    def shown(self, cue_key: str, sent_at_ns: int, processing_ms: float) -> float | None:
        """A view painted cue ``cue_key``; returns its rep end → painted latency, ms."""
        cue = self._sent.pop(cue_key, None)
        if cue is None:
            return None
        now = self._clock_ns()
        # integers: a float of nanoseconds since the epoch is only good to ~0.25 µs
        processing_ns = min(round(max(processing_ms, 0.0) * 1e6), max(0, now - sent_at_ns))
        painted_ns = (sent_at_ns + now + processing_ns) // 2
        latency = (painted_ns - cue.rep_end_ns) / 1e6
        self.shown_ms.append((now, latency))
        return latency

    def stats(self, since_ns: int = 0) -> dict[str, LatencyStats]:
        return {
            "shown": latency_stats([v for t, v in self.shown_ms if t >= since_ns]),
            "pushed": latency_stats([v for t, v in self.pushed_ms if t >= since_ns]),
        }


def cue_stats_line(stats: dict[str, LatencyStats], *, instance: str, at_ns: int) -> str | None:
    """A ``pipeline`` point (service=api) with the cue latency of an interval; None when no cue."""
    shown, pushed = stats["shown"], stats["pushed"]
    if shown.count == 0 and pushed.count == 0:
        return None
    fields = [f"cues_shown={shown.count}i", f"cues_pushed={pushed.count}i"]
    for name, value in (("cue_latency_ms_p50", shown.p50_ms), ("cue_latency_ms_p99", shown.p99_ms),
                        ("cue_latency_ms_max", shown.max_ms), ("cue_push_latency_ms_p50", pushed.p50_ms),
                        ("cue_push_latency_ms_p99", pushed.p99_ms)):
        if value is not None and math.isfinite(value):
            fields.append(f"{name}={float(value)!r}")
    return f"{PIPELINE},service=api,instance={escape_key(instance)} {','.join(fields)} {int(at_ns)}"
