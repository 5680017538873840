"""Reps from the movement: one descent and one ascent is one rep, whatever the muscles do.

A rep's time is its start of propulsion, the moment the centre of mass (or the bar) stops going
down and starts going up; it lies one electromechanical delay after the leg drive's EMG burst, so
the window that owns it holds that burst. Everything here is causal and local: a rep's time depends
only on the samples since the last quiet stretch before it, never on where a window or a history
starts, so every window that sees a rep places it at the same time (the owning window is the only
one whose slot holds it).

- ``AscentTracker``: centre-of-mass velocity from vertical force, integrated from the last quiet
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

import itertools
import math
from dataclasses import dataclass

import numpy as np

G = 9.80665
_ZERO_PAIR = np.zeros(1, dtype=np.complex128)
_NO_INDEX = np.zeros(0, dtype=np.intp)
_ZERO = np.array(0.0)  # 0-d operands: the same float64 as a Python scalar, without its conversion on each call


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
    max_integration_s: float = 8.0  # the velocity is unknown this long after the last quiet stretch, s
    # A quiet stretch is a rest only at the weight the velocity integrates against (within this share) ...
    rest_level_share: float = 0.05
    new_rest_level_s: float = 1.0  # ... or at a new weight held this long, s (> quiet_s)


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


def _keeps_moving(c: np.ndarray, rate: float, v0: float, moving: int, v_up: float) -> bool:
    """Whether every velocity ``v0 + c / rate`` moves as ``moving`` says (+1 above ``v_up``, −1 below
    −``v_up``, 0 in between; ``rate`` > 0, ``v_up`` ≥ 0). Both steps keep the order of the rounded
    results, so the extremes of ``c`` give those of the velocity; a NaN fails every test."""
    if moving > 0:
        return float(np.minimum.reduce(c)) / rate + v0 > v_up
    if moving < 0:
        return float(np.maximum.reduce(c)) / rate + v0 < -v_up
    return float(np.minimum.reduce(c)) / rate + v0 >= -v_up and float(np.maximum.reduce(c)) / rate + v0 <= v_up


def _starts(mask: np.ndarray, before: bool) -> np.ndarray:
    """Indices where ``mask`` turns True, given its value just before the first sample."""
    out = (mask[1:] > mask[:-1]).nonzero()[0]  # np.flatnonzero of a 1-D mask, minus its wrapper
    if out.size:  # usually none: no addition to make
        out += 1
    if mask[0] and not before:
        out = np.concatenate(([0], out))
    return out


class AscentTracker:
    """Reps of the centre of mass (``ascents``), found incrementally as force samples arrive.

    Fed in order, block by block, it keeps what a rep's decision depends on (the trailing quiet
    test's last samples, the velocity since the last quiet stretch, the armed/landed state, the
    take-off search ahead of an ascent) and nothing else, so each sample is looked at once however
    many windows later ask for the reps. Sample indices are absolute (the stream's own); a rep's
    index comes out once decided: at its take-off, or ``rebound_s`` after its start of propulsion.

    The velocity integrates from the last quiet stretch for at most ``max_integration_s``; beyond
    that (nobody stood still) it is unknown, as it is for a force history that long.
    """

    def __init__(self, rate: float, cfg: SegmentConfig, first_index: int = 0) -> None:
        self.rate = rate
        self.cfg = cfg
        self.next_index = first_index  # the next sample to be fed
        self.last_quiet = -1  # absolute index of the last quiet sample, −1 for none yet
        self.reps: list[int] = []  # decided rep indices, oldest first
        self._q = max(2, round(cfg.quiet_s * rate))
        self._tail = np.zeros(0, dtype=np.complex128)  # the last q − 1 samples (real) and their squares (imaginary)
        self._steady_run = 0  # steady, loaded samples in a row up to the last sample fed (see _at_rest)
        self._new_level_run = max(1, round((cfg.new_rest_level_s - cfg.quiet_s) * rate))
        self._ref = math.nan  # the quiet level the velocity integrates against, N
        self._v_end = math.nan  # the velocity at the last sample fed, m/s
        self._last_nonpos = -1  # last sample whose velocity was not above zero (or unknown)
        self._low_start = -1  # start of the run below the flight threshold the last sample is in
        self._prev = (False, False, False, False)  # descending, ascending, quiet, low at the last sample
        self._lows: list[list[int]] = []  # recent runs below the flight threshold, [start, stop or −1)
        self._armed = False
        self._landed = False
        self._pending: list[tuple[int, bool]] = []  # (start of propulsion, landed) awaiting take-off
        self._shortest = max(1, round(cfg.min_flight_s * rate))
        self._rebound = round(cfg.rebound_s * rate)
        self._max_run = round(cfg.max_integration_s * rate)
        self._ar = np.arange(0)
        self._quiet_consts = tuple(np.array(c, dtype=np.float64)
                                   for c in (self._q, cfg.quiet_sd_share, cfg.quiet_sd_n, cfg.min_load_n))
        self._rate0 = np.array(rate, dtype=np.float64)
        self._rate_f = float(rate)  # the float64 the arrays divide by, for Python's own arithmetic
        self._v_up0 = (np.array(cfg.v_up_m_s, dtype=np.float64), np.array(-cfg.v_up_m_s, dtype=np.float64))
        self._v_up_f = float(cfg.v_up_m_s)
        self._ref0: tuple[np.ndarray, np.ndarray] | None = None  # ``_ref`` and G / ``_ref`` as 0-d operands
        # A config for which feed's shortcuts are exact: a rate and loads far from 0, SD limits far from
        # overflow (a quiet stretch's squares are then finite, so its velocity is exactly 0.0), and
        # thresholds that order as they read (``_keeps_moving``).
        self._plain = (rate >= 1e-3 and cfg.v_up_m_s >= 0.0 and self._max_run >= 0 and cfg.min_load_n >= 1e-3
                       and 0.0 <= cfg.quiet_sd_share <= 1.0 and 0.0 <= cfg.quiet_sd_n <= 1e100)

    def feed(self, block: np.ndarray) -> None:
        # Called for every station at every hop: written for few NumPy calls on short blocks. The usual
        # block is quiet throughout (standing) or has no quiet sample and starts nothing (no flight,
        # descent or ascent): both skip what only a start, or a velocity other than 0.0, needs.
        f = np.asarray(block, dtype=np.float64)
        n = f.size
        if n == 0:
            return
        cfg, q, i0 = self.cfg, self._q, self.next_index
        # Trailing quiet test on the block, with the previous q − 1 samples in front of it. The sums
        # run over at most q − 1 + n samples, short enough for the variance by differences to stay
        # exact without centring. The samples and their squares run as one complex array (each part's
        # additions are the real ones, in the same order); its leading zero makes each stretch's sum
        # one difference of the running sums (the first minus 0.0: itself).
        x = np.concatenate((_ZERO_PAIR, self._tail, f))
        np.multiply(f, f, out=x.imag[x.size - n :])
        self._tail = x[max(1, x.size - (q - 1)) :]
        k = x.size - q  # the last k samples of the block have a whole trailing stretch
        nq = 0  # quiet samples in the block
        if k > 0:
            c = np.add.accumulate(x)  # cumsum's loop, without the method's dispatch
            s = c[q:] - c[:-q]
            # Both parts divided in one call, as the pairs of floats they are: each part's own division.
            q0, share, sd_n, load = self._quiet_consts
            sq = s.view(np.float64)
            sq /= q0
            m, var = sq[::2], sq[1::2]
            var -= m * m
            tol = m * share
            np.maximum(tol, sd_n, out=tol)  # a negative mean fails the load test
            tol *= tol
            quiet_k = var <= tol
            nq = np.count_nonzero(quiet_k)
            if nq:  # the load test only where some stretch is steady (none is, while the athlete moves)
                quiet_k &= m >= load
                nq = np.count_nonzero(quiet_k)
            if nq:
                quiet_k, nq = self._at_rest(quiet_k, nq, m, k)
            else:
                self._steady_run = 0
        p_down, p_up, p_quiet, p_low = self._prev
        p_moving = int(p_up) - int(p_down)
        # A flight needs a sample below the threshold (fmin: a NaN hides none of the others).
        low_last = False
        flights: np.ndarray | list[int] = []
        if p_low or np.fmin.reduce(f) < cfg.flight_threshold_n:
            low = f < cfg.flight_threshold_n
            flights = self._runs_below(low, p_low, i0)
            low_last = bool(low[-1])
        if nq == n and i0 >= 0 and self._plain:
            # Quiet throughout (k = n): every sample integrates from its own quiet stretch, so its velocity
            # is c − c = 0.0 exactly (c finite: a quiet stretch's squares did not overflow), nothing
            # descends or ascends, and the only starts are a rest at the first sample and flights.
            self.last_quiet = i0 + n - 1
            self._ref, self._ref0 = float(m[-1]), None
            self._v_end = 0.0
            if not p_quiet:
                self._landed = False
            if len(flights):  # after the rest, which comes first at its sample
                self._armed, self._landed = False, True
            self._last_nonpos = i0 + n - 1
            self._prev = (False, False, True, low_last)
        else:
            v: np.ndarray | None = None  # the velocity, once computed
            last_quiet = self.last_quiet
            if nq == 0 and self._plain and 0 <= last_quiet and i0 + n - 1 - last_quiet <= self._max_run:
                # No quiet sample, the velocity known throughout: it carries on from the last block's.
                # Its steps as in _velocity, but the division by the rate and the offset wait until a
                # start asks for them: both keep the order, so the extremes come from those of the sums.
                rate, v_end = self._rate_f, self._v_end
                if self._ref0 is None:
                    self._ref0 = (np.array(self._ref), np.array(G / self._ref))
                c = f - self._ref0[0]
                c *= self._ref0[1]
                np.add.accumulate(c, out=c)
                rests, quiet_last = _NO_INDEX, False
                steady = not len(flights) and _keeps_moving(c, rate, v_end, p_moving, self._v_up_f)
                self._v_end = float(c[-1]) / rate + v_end
                if not steady or (p_moving == 0 and self._v_end > 0.0):
                    c /= self._rate0
                    v = np.add(v_end, c, out=c)
            else:
                if k <= 0:
                    quiet, mean = np.zeros(n, dtype=bool), np.zeros(n)
                elif k < n:
                    quiet = np.zeros(n, dtype=bool)
                    quiet[n - k :] = quiet_k
                    mean = np.zeros(n)
                    mean[n - k :] = m
                else:
                    quiet, mean = quiet_k, m
                rests = _starts(quiet, p_quiet)
                quiet_last = bool(quiet[-1])
                v = self._velocity(f, quiet, mean, nq, rests, i0)
                steady = (self._plain and not rests.size and not len(flights)
                          and _keeps_moving(v, 1.0, 0.0, p_moving, self._v_up_f))
            if steady:
                # Moving as at the last block's end throughout: above +v_up (so above zero), below −v_up,
                # or in between, where only a velocity above zero at the end needs the search.
                if p_moving < 0 or (p_moving == 0 and not self._v_end > 0.0):
                    self._last_nonpos = i0 + n - 1
                elif p_moving == 0:
                    assert v is not None
                    self._note_nonpos(v > _ZERO, i0)
                last_moving = p_moving
            else:
                assert v is not None
                last_moving = self._events(v, rests, flights, p_moving, i0)
            self._prev = (last_moving < 0, last_moving > 0, quiet_last, low_last)
        self.next_index = i0 + n
        if self._pending:
            # Without runs below the flight threshold, an ascent waits until ``rebound_s`` after its start.
            if self._lows or self.next_index > min([start for start, _ in self._pending]) + self._rebound:
                self._decide(final=False)
        elif self._lows and self._lows[0][1] >= 0:
            # No ascent waits, and one to come starts after the last sample whose velocity was not above
            # zero (or in a later block): a run that ended by then can never be its take-off. Without
            # this, a plate whose load flickers about the flight threshold keeps every run until an ascent.
            self._forget_lows(self._last_nonpos + 1 if self._last_nonpos >= 0 else self.next_index)

    def _at_rest(self, steady: np.ndarray, ns: int, m: np.ndarray, k: int) -> tuple[np.ndarray, int]:
        """Of the last ``k`` samples' steady, loaded stretches (``steady``, ``ns`` of them; ``m``: their
        means), those at rest, and how many.

        Steady is not enough: a slow ascent can hold a force 10 % below the body weight within 1 % for a
        quarter of a second, and taken for a rest it would restart the velocity there and make the stop
        at the top a rep of its own. A run of steady stretches is at rest from its first stretch whose
        mean is within ``rest_level_share`` of the weight the velocity integrates against (the last
        rest's mean), or once it has held ``new_rest_level_s`` (a new weight: a bar taken from the rack;
        a force that far from the weight for that long would move the centre of mass by half a metre
        per second). Within a run, each stretch's mean is within a fraction of a per cent of the one
        before, so a run at rest stays at rest.
        """
        carried = self._steady_run
        if ns == k:
            self._steady_run = carried + k
        elif steady[-1]:
            self._steady_run = k - 1 - int((~steady).nonzero()[0][-1])
        else:
            self._steady_run = 0
        ref = self._ref
        level = self.cfg.rest_level_share
        if ns == k and (math.isnan(ref) or abs(float(m[0]) - ref) <= level * abs(ref)):
            return steady, ns  # the usual case: standing on, at the same weight
        turns = (steady[1:] != steady[:-1]).nonzero()[0] + 1
        bounds = [0, *turns.tolist(), k]
        rest = steady.copy()
        for a, b in itertools.pairwise(bounds):
            if not steady[a]:
                continue
            if not math.isnan(ref):
                near = (np.abs(m[a:b] - ref) <= level * abs(ref)).nonzero()[0]
                first = a + int(near[0]) if near.size else b
                held_from = a + max(0, self._new_level_run - (carried if a == 0 else 0) - 1)
                first = min(first, held_from)
                rest[a : min(first, b)] = False
                if first >= b:
                    continue
            ref = float(m[b - 1])
        return rest, int(np.count_nonzero(rest))

    def _velocity(
        self, f: np.ndarray, quiet: np.ndarray, mean: np.ndarray, nq: int, rests: np.ndarray, i0: int
    ) -> np.ndarray:
        """The velocity since the last quiet sample, NaN where unknown; keeps the last quiet sample, its
        level and the velocity at the block's end."""
        n = f.size
        local: np.ndarray | None = None
        if nq:  # in the block
            # The last quiet sample so far, −1 before the first; the first quiet sample.
            if quiet[0] and not rests.size:  # the athlete starts moving: one quiet run, the first nq samples
                local = self._arange(n).copy()
                local[nq:] = nq - 1
                fq = 0
            elif not quiet[0] and rests.size == 1 and nq == n - rests[0]:  # settles: one run, to the end
                fq = int(rests[0])
                local = self._arange(n).copy()
                local[:fq] = -1
            else:
                local = np.where(quiet, self._arange(n), -1)
                np.maximum.accumulate(local, out=local)
                fq = int(quiet.argmax())
            # Before the block's first quiet sample the velocity carries on from the last block's.
            ref = mean[local]
            if fq:
                ref[:fq] = self._ref
            acc = f - ref
            acc *= G / ref
            if fq and math.isnan(self._ref):
                acc[:fq] = 0.0  # before the first quiet stretch: no velocity, nothing to carry
            c = np.add.accumulate(acc)
            c /= self._rate0
            v = c - c[local]
            if fq:
                v[:fq] = self._v_end + c[:fq]
            last0 = self.last_quiet if fq else i0
            self.last_quiet = i0 + int(local[-1])
            self._ref, self._ref0 = float(ref[-1]), None
        else:  # carried from before the block
            ref_c = self._ref
            v = f - ref_c
            v *= G / ref_c
            np.add.accumulate(v, out=v)
            v /= self._rate0
            np.add(self._v_end, v, out=v)
            last0 = self.last_quiet
        if last0 < 0 or i0 + n - 1 - last0 > self._max_run:
            # Before the first quiet stretch, or too long after the last one: unknown.
            last = np.where(local >= 0, i0 + local, last0) if local is not None else np.full(n, last0)
            v[(last < 0) | (i0 + self._arange(n) - last > self._max_run)] = np.nan
        self._v_end = float(v[-1])
        return v

    def _events(self, v: np.ndarray, rests: np.ndarray, flights: np.ndarray | list[int], p_moving: int, i0: int) -> int:
        """Takes the block's starts (rests, flights, descents, ascents) in order; returns how the last sample
        moves (+1 ascending, −1 descending, 0 neither or unknown)."""
        # A descent or an ascent starts where the velocity turns.
        v_up, v_down = self._v_up0
        moving = np.subtract(v > v_up, v < v_down, dtype=np.int8)
        turns = (moving[1:] != moving[:-1]).nonzero()[0]
        first = int(moving[0])
        if rests.size or len(flights) or turns.size or first != p_moving:
            at, to = (turns + 1).tolist(), moving[1:][turns].tolist()
            if first != p_moving:
                at.insert(0, 0)
                to.insert(0, first)
            # Kinds in order of precedence at one sample: rest (0), flight (1), descent (2), ascent (3). The
            # turns come in order, one a sample; rests and flights have to be sorted in.
            marks = [(i, 3 if s > 0 else 2) for i, s in zip(at, to, strict=True) if s]
            if rests.size or len(flights):
                marks = sorted([(i, 0) for i in rests.tolist()] + [(int(i), 1) for i in flights] + marks)
            nonpos: np.ndarray | None = None  # the velocity not above zero (or unknown), when an ascent asks
            for i, kind in marks:
                if kind == 0:
                    self._landed = False
                elif kind == 1:
                    self._armed, self._landed = False, True
                elif kind == 2:
                    self._armed = True
                elif self._armed:
                    self._armed = False
                    if nonpos is None:
                        nonpos = (~(v > _ZERO)).nonzero()[0]
                    pos = int(nonpos.searchsorted(i)) - 1  # the last such sample before the ascent
                    before = i0 + int(nonpos[pos]) if pos >= 0 else self._last_nonpos
                    self._pending.append((before + 1 if before >= 0 else i0 + i, self._landed))
        if v[-1] > 0.0:
            self._note_nonpos(v > _ZERO, i0)
        else:
            self._last_nonpos = i0 + v.size - 1
        return int(moving[-1])

    def _note_nonpos(self, positive: np.ndarray, i0: int) -> None:
        """Keeps the last sample whose velocity was not above zero, if the block has one."""
        n = positive.size
        if not positive[-1]:
            self._last_nonpos = i0 + n - 1
        else:
            r = n - 1 - int(positive[::-1].argmin())  # the last False, or the last sample if none
            if not positive[r]:
                self._last_nonpos = i0 + r

    def _runs_below(self, low: np.ndarray, p_low: bool, i0: int) -> np.ndarray:
        """Keeps the runs below the flight threshold (for the take-off search); returns the flights:
        the samples where such a run has lasted ``min_flight_s``."""
        n = low.size
        low_starts = _starts(low, p_low)
        events = sorted([(int(e), 1) for e in low_starts] + [(int(e), 0) for e in _starts(~low, not p_low)])
        for e, opens in events:
            if opens:
                self._lows.append([i0 + e, -1])
            elif self._lows and self._lows[-1][1] < 0:
                self._lows[-1][1] = i0 + e
        opened = np.zeros(n, dtype=bool)
        opened[low_starts] = True
        run_start = np.where(opened, i0 + self._arange(n), self._low_start)
        np.maximum.accumulate(run_start, out=run_start)
        self._low_start = int(run_start[-1]) if low[-1] else -1
        return (low & (i0 + self._arange(n) - run_start + 1 == self._shortest)).nonzero()[0]

    def _arange(self, n: int) -> np.ndarray:
        if self._ar.size < n:
            self._ar = np.arange(max(n, 2 * self._ar.size))
        return self._ar[:n]

    def finish(self) -> None:
        """Decide the ascents still waiting for their take-off search, on the samples there are."""
        self._decide(final=True)

    def _first_low(self, start: int) -> int | None:
        for a, b in self._lows:
            stop = b if b >= 0 else self.next_index
            if a <= start < stop:
                return start
            if a >= start:
                return a
        return None

    def _decide(self, *, final: bool) -> None:
        keep: list[tuple[int, bool]] = []
        decided = False
        for start, landed in self._pending:
            t = self._first_low(start)
            # Between a landing and quiet standing, only an ascent that takes off again is a rep (a
            # rebound jump); the landing's dip and stand-up belong to the jump.
            if t is not None and t - start <= self._rebound:
                # A jump's time lies halfway to its take-off, so the owning window also holds its landing.
                self.reps.append(start + (t - start) // 2)
                decided = True
            elif final or self.next_index > start + self._rebound:
                if not landed:
                    self.reps.append(start)
                    decided = True
            else:
                keep.append((start, landed))
        self._pending = keep
        if decided:
            self.reps.sort()
        # The take-off search never looks further back than the oldest ascent still waiting.
        if self._lows and self._lows[0][1] >= 0:
            self._forget_lows(min([start for start, _ in keep]) - 1 if keep else self.next_index - 1)

    def _forget_lows(self, last: int) -> None:
        """Drop the runs below the flight threshold that ended at or before ``last`` (never the open one)."""
        # Runs are in time order, so the first one tells whether any ended that early.
        if 0 <= self._lows[0][1] <= last:
            self._lows = [r for r in self._lows if r[1] < 0 or r[1] > last]

    def forget_before(self, index: int) -> None:
        """Drop the decided reps before ``index`` (those no window can own any more)."""
        if self.reps and self.reps[0] < index:
            self.reps = [r for r in self.reps if r >= index]


def ascents(f: np.ndarray, rate: float, cfg: SegmentConfig) -> list[int] | None:
    """Rep times (indices, near the start of propulsion) in vertical force ``f`` of the whole centre of
    mass; None when ``f`` never stands quiet on a loaded plate (nobody weighed: the force cannot tell)."""
    f = np.asarray(f, dtype=np.float64)
    if f.size < 3 or not np.isfinite(f).all():
        return None
    tracker = AscentTracker(rate, cfg)
    tracker.feed(f)
    tracker.finish()
    return tracker.reps if tracker.last_quiet >= 0 else None


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
