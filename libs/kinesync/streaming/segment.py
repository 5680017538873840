"""Reps from the movement: one descent and one ascent is one rep, whatever the muscles do.

A rep's time is its start of propulsion, the moment the centre of mass (or the bar) stops going
down and starts going up; it lies one electromechanical delay after the leg drive's EMG burst, so
the window that owns it holds that burst. Everything here is causal and local: a rep's time depends
only on the samples since the last quiet stretch before it, never on where a window or a history
starts, so every window that sees a rep places it at the same time (the owning window is the only
one whose slot holds it).

- ``com_velocity``: centre-of-mass velocity from vertical force, integrated from the last quiet
  stretch (standing, a pause in the hole, a jump's hold), which is at rest by definition and also
  weighs the athlete. A pause therefore never splits a rep, and no weighing from far away drifts in.
- ``ascents``: a rep is an upward crossing of +``v_up`` after a crossing of −``v_up``; a double-peaked
  drive slows the ascent without reversing it, so it stays one rep. After a flight, until the athlete
  stands quiet again, only an ascent that takes off again counts: the landing's dip and stand-up
  belong to the jump, a rebound jump is a rep of its own.
- ``drive_rises``: under a bench press the plates carry only the feet; a rep is the leg drive's rise
  above the quiet foot load, and a second push within the rep is part of it (re-armed only by
  ``rearm_s`` of quiet). Its time lies a third of the way through the drive.
- ``bar_ascents``: where a bar position sensor watches a bench press, one lowering and one rise of
  the bar is one rep, timed at the start of the rise (the leg drive is what the plates see, and it
  can be faint).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

G = 9.80665


@dataclass(frozen=True)
class SegmentConfig:
    quiet_s: float = 0.25  # a stretch this long and this steady is at rest, s
    quiet_sd_n: float = 5.0  # ... with its force SD at most this, N
    quiet_sd_share: float = 0.01  # ... or this share of its mean, whichever is larger
    v_up_m_s: float = 0.1  # a descent or an ascent moves the centre of mass faster than this, m/s
    min_load_n: float = 50.0  # a quiet stretch carries at least this (an empty plate is not standing), N
    flight_threshold_n: float = 20.0
    min_flight_s: float = 0.1
    rebound_s: float = 0.98  # a rebound jump takes off within this of its start of propulsion, s; < 1 s
    drive_rise_n: float = 20.0  # a bench leg drive rises at least this far above the foot load, N
    drive_rise_k_sd: float = 8.0  # ... and this many SD of the quiet foot load
    rearm_s: float = 1.0  # quiet that separates one bench rep's leg drive from the next, s
    drive_ahead_s: float = 0.9  # a bench rep's leg drive (one or two pushes) ends within this, s; < 1 s
    bar_smoothing_s: float = 0.08  # moving average of the bar position before its velocity, s


def _trailing_quiet(f: np.ndarray, rate: float, cfg: SegmentConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sample: whether the trailing ``quiet_s`` is steady and loaded, and its mean and SD."""
    n = f.size
    q = max(2, round(cfg.quiet_s * rate))
    quiet = np.zeros(n, dtype=bool)
    mean = np.zeros(n)
    sd = np.zeros(n)
    if n < q:
        return quiet, mean, sd
    # Centring keeps the running sums small, so the variance by differences stays exact.
    centre = float(f.mean())
    x = f - centre
    c1 = np.concatenate(([0.0], np.cumsum(x)))
    c2 = np.concatenate(([0.0], np.cumsum(x * x)))
    s1 = c1[q:] - c1[:-q]
    s2 = c2[q:] - c2[:-q]
    m = s1 / q
    var = np.maximum(s2 / q - m * m, 0.0)
    mean[q - 1 :] = m + centre
    sd[q - 1 :] = np.sqrt(var)
    tol = np.maximum(cfg.quiet_sd_n, cfg.quiet_sd_share * np.abs(mean))
    quiet[q - 1 :] = (mean[q - 1 :] >= cfg.min_load_n) & (sd[q - 1 :] <= tol[q - 1 :])
    return quiet, mean, sd


def _last_true(mask: np.ndarray) -> np.ndarray:
    """Per sample, the index of the last True at or before it (−1 before the first)."""
    idx = np.where(mask, np.arange(mask.size), -1)
    return np.maximum.accumulate(idx) if idx.size else idx


def _run_starts(mask: np.ndarray) -> np.ndarray:
    if mask.size == 0:
        return np.zeros(0, dtype=np.int64)
    m = mask.astype(np.int8)
    return np.flatnonzero(np.diff(np.concatenate(([0], m))) == 1)


def com_velocity(f: np.ndarray, rate: float, cfg: SegmentConfig) -> tuple[np.ndarray, np.ndarray]:
    """Centre-of-mass velocity (m/s, NaN before the first quiet stretch) and the quiet mask."""
    quiet, mean, _ = _trailing_quiet(f, rate, cfg)
    last = _last_true(quiet)
    ok = last >= 0
    ref = np.where(ok, mean[np.maximum(last, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        acc = np.where(ok, (f - ref) / (ref / G), 0.0)
    c = np.cumsum(acc) / rate
    v = c - c[np.maximum(last, 0)]
    v[~ok] = np.nan
    return v, quiet


def ascents(f: np.ndarray, rate: float, cfg: SegmentConfig) -> list[int] | None:
    """Rep times (indices, near the start of propulsion) in vertical force ``f`` of the whole centre of
    mass; None when ``f`` never stands quiet on a loaded plate (nobody weighed: the force cannot tell)."""
    f = np.asarray(f, dtype=np.float64)
    if f.size < 3 or not np.isfinite(f).all():
        return None
    v, quiet = com_velocity(f, rate, cfg)
    if not quiet.any():
        return None
    with np.errstate(invalid="ignore"):
        down = _run_starts(v < -cfg.v_up_m_s)
        up = _run_starts(v > cfg.v_up_m_s)
    shortest = max(1, round(cfg.min_flight_s * rate))
    low = f < cfg.flight_threshold_n
    flights = [int(a) + shortest - 1 for a in _run_starts(low)
               if a + shortest <= f.size and low[a : a + shortest].all()]
    rests = _run_starts(quiet)
    # Kinds in order of precedence at one sample: rest (0), flight (1), descent (2), ascent (3).
    marks = sorted([(int(i), 0) for i in rests] + [(i, 1) for i in flights]
                   + [(int(i), 2) for i in down] + [(int(i), 3) for i in up])
    rebound = round(cfg.rebound_s * rate)
    out: list[int] = []
    armed = landed = False
    for i, kind in marks:
        if kind == 0:
            landed = False
        elif kind == 1:
            armed, landed = False, True
        elif kind == 2:
            armed = True
        elif armed:
            armed = False
            below = np.flatnonzero(~(v[:i] > 0.0))
            start = int(below[-1]) + 1 if below.size else i
            # Between a landing and quiet standing, only an ascent that takes off again is a rep (a
            # rebound jump); the landing's dip and stand-up belong to the jump. The take-off is
            # looked for within ``rebound_s`` only, which the window owning the rep always has.
            takeoff = np.flatnonzero(low[start : start + rebound + 1])
            if landed and not takeoff.size:
                continue
            # A jump's time lies halfway to its take-off, so the owning window also holds its landing.
            out.append(start + int(takeoff[0]) // 2 if takeoff.size else start)
    return out


def drive_rises(f: np.ndarray, rate: float, cfg: SegmentConfig) -> list[int] | None:
    """Rep times (indices) of the leg drives above the quiet foot load (plates under the feet only);
    None when ``f`` never stands quiet on a loaded plate."""
    f = np.asarray(f, dtype=np.float64)
    if f.size < 3 or not np.isfinite(f).all():
        return None
    quiet, mean, sd = _trailing_quiet(f, rate, cfg)
    if not quiet.any():
        return None
    last = _last_true(quiet)
    ok = last >= 0
    j = np.maximum(last, 0)
    thr = np.maximum(cfg.drive_rise_n, cfg.drive_rise_k_sd * sd[j])
    rising = ok & (f - mean[j] > thr)
    rearm = max(1, round(cfg.rearm_s * rate))
    # Quiet long enough to separate reps: the trailing quiet test held for ``rearm_s`` on end.
    c = np.concatenate(([0], np.cumsum(quiet.astype(np.int64))))
    long_quiet = np.zeros(f.size, dtype=bool)
    if f.size >= rearm:
        long_quiet[rearm - 1 :] = (c[rearm:] - c[:-rearm]) == rearm
    marks = sorted([(int(i), 0) for i in _run_starts(long_quiet)] + [(int(i), 1) for i in _run_starts(rising)])
    ahead = round(cfg.drive_ahead_s * rate)
    out: list[int] = []
    armed = False
    for i, kind in marks:
        if kind == 0:
            armed = True
        elif armed:
            armed = False
            # A third of the way through the drive: near a single push's peak (one electromechanical
            # delay after the leg burst), and early enough in a heavy rep that its second push and
            # burst stay in the owning window. Judged on ``drive_ahead_s`` after the rise only, which
            # every window that could own the rep has, so all windows place it alike.
            base, level = mean[j[i]], thr[i]
            above = np.flatnonzero(f[i : i + ahead + 1] - base > level)
            out.append(i + int(above[-1]) // 3 if above.size else i)
    return out


def bar_ascents(position_m: np.ndarray, rate: float, cfg: SegmentConfig) -> list[int] | None:
    """Rep times (indices: the start of the bar's rise) in bar position; None when the bar never moves.

    One lowering and one rise of the bar is one rep, with the same hysteresis as the centre of mass:
    a pause on the chest or a slow sticking region never splits a rep.
    """
    x = np.asarray(position_m, dtype=np.float64)
    if x.size < 3 or not np.isfinite(x).all():
        return None
    # A centred moving average: its look-ahead (half the span) is far below the owning window's 1 s.
    k = max(1, round(cfg.bar_smoothing_s * rate))
    smooth = np.convolve(x, np.ones(k) / k, mode="same")
    v = np.gradient(smooth) * rate
    edge = k // 2 + 1  # the average is biased where it runs off either end
    v[:edge] = 0.0
    v[v.size - edge :] = 0.0
    down = _run_starts(v < -cfg.v_up_m_s)
    up = _run_starts(v > cfg.v_up_m_s)
    if not down.size and not up.size:
        return None
    marks = sorted([(int(i), 0) for i in down] + [(int(i), 1) for i in up])
    out: list[int] = []
    armed = False
    for i, kind in marks:
        if kind == 0:
            armed = True
        elif armed:
            armed = False
            below = np.flatnonzero(~(v[:i] > 0.0))
            out.append(int(below[-1]) + 1 if below.size else i)
    return out
