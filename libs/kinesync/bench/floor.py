"""The bare signal-processing floor: the analyzer's numpy work on whole recordings, no streaming around it.

Per station, on the same samples the engine saw (float32 on the wire, float64 for the maths):

1. the EMG envelope of the role channels in one call (``emg_envelope``: causal band-pass 20–450 Hz,
   rectification, 6 Hz low-pass), leg-drive and pectoral means;
2. the force sums (total, left, right vertical force) in one call each;
3. where the reps are: the movement segmentation the engine runs (``ascents``: the centre of mass's
   reps from the vertical force) over the whole recording in one call; only where it finds nobody
   weighed on the plates, the engine's EMG ownership test for every window it emitted (slot argmax,
   ±guard maximum, 10th percentile of the window's leg-drive envelope);
4. for every window that owned a rep: ``analyze_rep`` on views (slices, no copies) of the batch arrays,
   with the same EMG window and the same force history as the engine hands it.

Not in the floor (all of it is streaming cost): decoding, ordering, the per-frame filter calls, ring
buffers and the copies out of them, the window clock, the dashboard envelopes of each rep, and
building the output records.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from kinesync.bench.frames import Recording
from kinesync.codec.frame import SensorKind
from kinesync.dsp.filters import emg_envelope
from kinesync.dsp.quantile import percentile_linear
from kinesync.streaming.rep import EmgView, ForceView, analyze_rep
from kinesync.streaming.roles import LEG_ROLES, emg_role_rows, force_rows
from kinesync.streaming.segment import ascents
from kinesync.streaming.station import AnalysisConfig

NS = 1_000_000_000


@dataclass(frozen=True)
class WindowRef:
    """A window the engine emitted: its bounds and the rep peak it owns (None: no rep)."""

    start_ns: int
    end_ns: int
    rep_peak_ns: int | None


def _index(t_ns: int, t0_ns: int, rate_hz: float) -> int:
    # The engine's SensorStream.index_of: the first sample at or after t_ns.
    return math.ceil((t_ns - t0_ns) * rate_hz / 1e9 - 1e-6)


@dataclass
class FloorRun:
    """The floor's CPU over every station, and how much of it went into ``analyze_rep``."""

    cpu_s: float
    reps: int  # reps analysed (keeps the work observable, and equal to the engine's)
    rep_cpu_s: float


def floor_station(
    emg: Recording, force: Recording, windows: list[WindowRef], cfg: AnalysisConfig
) -> tuple[int, float]:
    """The floor's work for one station; returns the number of reps analysed and the CPU seconds spent in
    ``analyze_rep`` (the science of the rep, which the engine runs unchanged: the rest is what streaming
    can be compared with)."""
    roles = emg_role_rows(emg.channels)
    leg_rows = [r for role in LEG_ROLES for r in roles.get(role, [])]
    pec_rows = roles.get("pec", [])
    rows = leg_rows + pec_rows
    raw_names = tuple(emg.channels[r] for r in rows)
    vertical, left_rows, right_rows = force_rows(force.channels)

    raw = emg.samples[rows].astype(np.float64)
    env = emg_envelope(raw, emg.rate_hz, cutoff_hz=cfg.envelope_cutoff_hz)
    leg = env[: len(leg_rows)].mean(axis=0)
    pec = env[len(leg_rows) :].mean(axis=0)
    f = force.samples.astype(np.float64)
    total, left, right = f[vertical].sum(axis=0), f[left_rows].sum(axis=0), f[right_rows].sum(axis=0)

    guard = int(cfg.peak_guard_s * emg.rate_hz)
    history = int(cfg.history_s * force.rate_hz)
    # The engine's rep finder on a standing athlete; the EMG test only where the plates weigh nobody.
    by_movement = ascents(total, force.rate_hz, cfg.segment) is not None
    reps, rep_cpu = 0, 0.0
    for w in windows:
        i0, i1 = _index(w.start_ns, emg.t0_ns, emg.rate_hz), _index(w.end_ns, emg.t0_ns, emg.rate_hz)
        leg_w = leg[i0:i1]
        t_w0 = emg.t0_ns + round(i0 * NS / emg.rate_hz)
        if not by_movement:
            # Ownership test: the slot is the hop before the window centre.
            slot_end = w.start_ns + cfg.window_ns // 2
            j0 = _index(slot_end - cfg.hop_ns, t_w0, emg.rate_hz)
            j1 = _index(slot_end, t_w0, emg.rate_hz)
            p = j0 + int(np.argmax(leg_w[j0:j1]))
            _ = leg_w[max(0, p - guard) : p + guard + 1].max(), percentile_linear(leg_w, 10)
        if w.rep_peak_ns is None:
            continue
        emg_view = EmgView(
            rate_hz=emg.rate_hz, t0_ns=t_w0, leg=leg_w, pec=pec[i0:i1], raw=raw[:, i0:i1],
            raw_names=raw_names, has_gap=False,
        )
        stop = _index(w.end_ns, force.t0_ns, force.rate_hz)
        first = max(0, stop - history)
        force_view = ForceView(
            rate_hz=force.rate_hz, t0_ns=force.t0_ns + round(first * NS / force.rate_hz),
            total=total[first:stop], left=left[first:stop], right=right[first:stop], has_gap=False,
        )
        t = time.process_time()
        analyze_rep(w.rep_peak_ns, emg_view, force_view, cfg.rep, 80.0, 120.0)
        rep_cpu += time.process_time() - t
        reps += 1
    return reps, rep_cpu


def floor_cpu(
    recordings: dict[tuple[str, int], Recording], windows: dict[str, list[WindowRef]], cfg: AnalysisConfig
) -> FloorRun:
    """CPU seconds of the floor over every station, the reps it analysed and its CPU in ``analyze_rep``."""
    stations = sorted({s for s, _ in recordings})
    t = time.process_time()
    reps, rep_cpu = 0, 0.0
    for s in stations:
        n, c = floor_station(
            recordings[(s, int(SensorKind.EMG))], recordings[(s, int(SensorKind.FORCE))], windows.get(s, []), cfg
        )
        reps, rep_cpu = reps + n, rep_cpu + c
    return FloorRun(time.process_time() - t, reps, rep_cpu)
