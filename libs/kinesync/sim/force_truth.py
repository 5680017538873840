"""Force-plate recordings generated from a prescribed centre-of-mass motion, with exact truth.

The truth here is physics, not the output of an estimator. Each exercise prescribes the vertical
acceleration a(t) of the centre of mass (CoM) as a sum of smooth pulses whose first and second
integrals are closed-form, so v(t) and y(t) are exact. The plates read F = m·(g + a) (m = body mass
plus any bar on the shoulders, BW = m·g); in flight a = −g and F = 0. From these functions:

- impulses are m·Δv exactly (impulse–momentum), the take-off velocity v0 is a design input, the
  flight lasts exactly 2·v0/g and the jump height is v0²/(2g) = g·t²/8;
- phase boundaries are roots of the exact functions (v = 0, F = BW), found to 1e-12 s;
- peaks (force, power, 20 ms slope) come from a 10 µs grid refined by a bounded scalar search;
- mean power over a window is work-energy exact: (m·g·Δy + m·Δ(v²)/2)/Δt.

Onset and the end of a smooth lift are conventions, not physical instants: the force leaves body
weight with zero slope and a smooth rep approaches v = 0 tangentially. Their truth applies the
documented rule to the exact, noise-free curve: onset = first instant |F − BW| exceeds
``onset_threshold_n`` (5 SD of the plate noise, Owen et al. 2014) minus 30 ms; a lift's rep end =
first instant after the velocity peak where v falls to ``end_velocity_m_s``.

Pulse shapes (u = (t − t0)/T in [0, 1]):

- ``hann``: sin²(πu) — zero value and slope at both ends;
- ``release``: 1 − cos(πu/2), held at 1 afterwards — leaves 0 smoothly, ends at full value with a
  steep slope (the force falls to 0 N at take-off at ~m·g·π/(2T), tens of kN/s);
- ``catch``: sin(πu/2), held at 1 afterwards — the steep force rise at touchdown.

Exercises (``EXERCISES``):

- ``countermovement_jump``: unweighting (−hann), braking + propulsion (+hann, overlapping so F
  passes through BW with a slope), release to −g at take-off; amplitudes solved so that v0 gives
  ``jump_height_m`` and the lowest CoM point is ``depth_m`` below standing.
- ``squat_jump``: descent into a squat (a hann pair), a still hold of ``hold_s`` (F = BW: the
  weighing before the jump), propulsion from rest (+hann with the release), no countermovement.
- ``back_squat`` and ``push_press``: three overlapping pulses (descent, braking + drive,
  deceleration) solved for v = 0 at the end, the end height (0 for the squat; for the push press
  the bar overhead raises the system CoM by bar/system mass × 0.45 m) and the depth; no flight.
- ``bench_press_leg_drive``: the plates are under the feet of an athlete lying on a bench: F =
  ``foot_preload_n`` + ``leg_drive_n``·sin²(πu) over 0.4 s. The bench carries the body, so there is
  no CoM velocity and no velocity truth.

Jumps land with a catch ramp, an impact pulse (90 ms) and an absorbing pulse (0.4 s) that together
stop the body, then stand back up to standing height: the landing peak (~5 BW) exceeds the
propulsive peak (~2–2.5 BW).

Left/right: each plate carries ``stance_left_share`` of body weight and of any force below it; the
force above body weight is split by the share of the phase it falls in (``left_shares``: keys
``unweighting``, ``braking``, ``propulsion``, ``landing``). So a 60/40 propulsion on a 50/50 stance
gives per-plate net peaks 60:40 (asymmetry (60 − 40)/60 = 33.3 %, left stronger), and a lift's drive
impulse 60:40 too. A jump's propulsive impulse also contains the force below body weight just
before take-off, split like the stance (a plate cannot read below 0 N), so its impulse asymmetry
is a little above 33.3 %. The force is far above BW where braking turns into propulsion, so the
split changes smoothly over the last ``SHARE_BLEND_S`` of braking rather than in a step no body
makes: braking on a 50/50 share is then a few % asymmetric. The truth reports every value exactly.
Each plate gets independent Gaussian noise of ``noise_sd_n``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from scipy import integrate, optimize

STANDARD_GRAVITY_M_S2 = 9.80665
EXERCISES = ("countermovement_jump", "squat_jump", "back_squat", "push_press", "bench_press_leg_drive")
JUMPS = ("countermovement_jump", "squat_jump")
RFD_SPANS_S = (0.050, 0.100, 0.200)
PEAK_RFD_WINDOW_S = 0.020
PEAK_RFD_SEARCH_S = 0.200
LANDING_WINDOW_S = 0.5  # peak landing force is searched this long after touchdown, s
SHARE_BLEND_S = 0.030  # the left/right split turns from braking to propulsion over this, s

_GRID_S = 1e-5  # truth grid: peaks are bracketed and integrals taken on it, then refined
_BRACKET_S = 1e-4  # crossings are bracketed on this grid (the curves change over ≥ 10 ms), then refined
_ROOT_TOL_S = 1e-12
_RELEASE_S = 0.025
_CATCH_S = 0.012
_IMPACT_S = 0.09
_ABSORB_S = 0.40
_IMPACT_SHARE = 0.65  # share of the landing velocity change taken by the impact pulse
_STAND_UP_S = 0.5
_PRESS_TRAVEL_M = 0.45  # bar travel from the shoulders to lock-out
_BENCH_DRIVE_S = 0.4


@dataclass(frozen=True)
class SideTruth:
    """True left/right values of one metric (each plate net of its own quiet load) and their asymmetry.

    Attributes:
        left, right: per-plate value (N or N·s).
        asymmetry_pct: (stronger − weaker)/stronger·100, %.
        stronger: "left", "right", or None when equal.
    """

    left: float
    right: float
    asymmetry_pct: float
    stronger: str | None


@dataclass(frozen=True)
class ForceTruth:
    """Exact truth of one generated recording. Times are s from the first sample.

    Attributes:
        exercise: one of ``EXERCISES``.
        mass_kg: mass on the plates (body + bar); None for the bench leg drive.
        bw_n: quiet-standing load of both plates, N (m·g, or the foot preload on the bench).
        onset_threshold_n: |F − BW| level of the onset rule, N.
        movement_start_s: first instant the CoM accelerates (the jump's push for a squat jump).
        phase_times_s: phase boundaries by name (``onset``, ``unweighting_end``, ``braking_end``,
            ``propulsion_start``, ``drive_end``, ``propulsion_end``, ``takeoff``, ``landing``,
            ``landing_end``, ``peak_landing``), None where the exercise has no such phase.
        metrics: metric name → true value (names as in ``kinesync.analysis.phases``), None where
            it does not apply.
        asymmetry: metric name (``braking_impulse``, ``propulsive_impulse``,
            ``peak_propulsive_force``, ``peak_landing_force``) → ``SideTruth``, None where absent.
        left_shares: phase → left share of the force above body weight used to generate the plates.
        stance_left_share: left share of body weight and of any force below it.
        force_n: the exact, noise-free total force as a function of time (s → N), to evaluate a
            metric at an estimator's own boundaries.
    """

    exercise: str
    mass_kg: float | None
    bw_n: float
    onset_threshold_n: float
    movement_start_s: float
    phase_times_s: Mapping[str, float | None]
    metrics: Mapping[str, float | None]
    asymmetry: Mapping[str, SideTruth | None]
    left_shares: Mapping[str, float]
    stance_left_share: float
    force_n: Callable[[np.ndarray], np.ndarray] = field(repr=False, compare=False)


@dataclass(frozen=True)
class ForceRecording:
    """Generated plate forces (N, one sample every 1/fs_hz s from t = 0) and their truth."""

    total_n: np.ndarray
    left_n: np.ndarray
    right_n: np.ndarray
    fs_hz: float
    truth: ForceTruth


# --- pulses ------------------------------------------------------------------------------------


def _hann(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = 2.0 * math.pi * u
    return (
        np.sin(math.pi * u) ** 2,
        u / 2.0 - np.sin(tp) / (4.0 * math.pi),
        u * u / 4.0 + (np.cos(tp) - 1.0) / (8.0 * math.pi**2),
    )


def _release(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = math.pi * u / 2.0
    return 1.0 - np.cos(h), u - (2.0 / math.pi) * np.sin(h), u * u / 2.0 - (4.0 / math.pi**2) * (1.0 - np.cos(h))


def _catch(u: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    h = math.pi * u / 2.0
    return np.sin(h), (2.0 / math.pi) * (1.0 - np.cos(h)), (2.0 / math.pi) * (u - (2.0 / math.pi) * np.sin(h))


# shape(u) → (r, ∫r du, ∫∫r du²) on [0, 1]; then the value it holds afterwards and both integrals at u = 1.
_SHAPES: dict[str, tuple[Callable, float, float, float]] = {
    "hann": (_hann, 0.0, 0.5, 0.25),
    "release": (_release, 1.0, 1.0 - 2.0 / math.pi, 0.5 - 4.0 / math.pi**2),
    "catch": (_catch, 1.0, 2.0 / math.pi, (2.0 / math.pi) * (1.0 - 2.0 / math.pi)),
}


@dataclass(frozen=True)
class _Pulse:
    """Acceleration pulse amp·r(u), u = (t − t0)/T, with its exact first and second time integrals."""

    shape: str
    t0_s: float
    duration_s: float
    amp_m_s2: float

    def kinematics(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        fn, r1, j1, j2 = _SHAPES[self.shape]
        big_t, amp = self.duration_s, self.amp_m_s2
        u = (t - self.t0_s) / big_t
        a, v, y = np.zeros_like(u), np.zeros_like(u), np.zeros_like(u)
        # Only the support needs the trigonometric shape; after it the pulse holds r1 and its
        # integrals grow polynomially.
        inside = np.flatnonzero((u >= 0.0) & (u <= 1.0))
        if inside.size:
            r, i1, i2 = fn(u[inside])
            a[inside], v[inside], y[inside] = amp * r, amp * big_t * i1, amp * big_t * big_t * i2
        after = np.flatnonzero(u > 1.0)
        if after.size:
            tau = t[after] - self.t0_s - big_t
            a[after] = amp * r1
            v[after] = amp * (big_t * j1 + r1 * tau)
            y[after] = amp * (big_t * big_t * j2 + big_t * j1 * tau + r1 * tau * tau / 2.0)
        return a, v, y

    @property
    def end_s(self) -> float:
        return self.t0_s + self.duration_s


class _Motion:
    """Sum of pulses: CoM acceleration, velocity and displacement from standing (m/s², m/s, m)."""

    def __init__(self, pulses: list[_Pulse]) -> None:
        self.pulses = tuple(pulses)

    def kinematics(self, t: np.ndarray | float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        a, v, y = np.zeros_like(t), np.zeros_like(t), np.zeros_like(t)
        for p in self.pulses:
            pa, pv, py = p.kinematics(t)
            a += pa
            v += pv
            y += py
        return a, v, y

    def acc(self, t: np.ndarray | float) -> np.ndarray:
        return self.kinematics(t)[0]

    def vel(self, t: np.ndarray | float) -> np.ndarray:
        return self.kinematics(t)[1]

    def pos(self, t: np.ndarray | float) -> np.ndarray:
        return self.kinematics(t)[2]


# --- searches on the exact functions ----------------------------------------------------------


def _scalar(fn: Callable[[np.ndarray], np.ndarray]) -> Callable[[float], float]:
    return lambda t: float(fn(np.array([t]))[0])


def _first_crossing(fn: Callable, t_lo: float, t_hi: float, level: float, rising: bool) -> float:
    """First time in [t_lo, t_hi] where fn crosses ``level`` upwards (rising) or downwards, refined to 1e-12 s."""
    t = np.arange(t_lo, t_hi + _BRACKET_S, _BRACKET_S)
    d = fn(t) - level
    hit = np.flatnonzero((d[:-1] < 0) & (d[1:] >= 0)) if rising else np.flatnonzero((d[:-1] > 0) & (d[1:] <= 0))
    if hit.size == 0:
        raise RuntimeError(f"no crossing of {level} in [{t_lo}, {t_hi}]")  # a design error, never data
    k = int(hit[0])
    sf = _scalar(fn)
    return float(optimize.brentq(lambda x: sf(x) - level, t[k], t[k + 1], xtol=_ROOT_TOL_S))


def _peak(fn: Callable, t_lo: float, t_hi: float) -> tuple[float, float]:
    """(time, value) of the maximum of fn over [t_lo, t_hi]."""
    t = np.arange(t_lo, t_hi + _GRID_S / 2.0, _GRID_S)
    t = t[t <= t_hi]
    vals = fn(t)
    k = int(np.argmax(vals))
    lo, hi = t[max(k - 1, 0)], t[min(k + 1, t.size - 1)]
    if hi <= lo:
        return float(t[k]), float(vals[k])
    sf = _scalar(fn)
    res = optimize.minimize_scalar(lambda x: -sf(x), bounds=(lo, hi), method="bounded", options={"xatol": 1e-10})
    if -res.fun >= vals[k]:
        return float(res.x), float(-res.fun)
    return float(t[k]), float(vals[k])


def _integral(fn: Callable, lo: float, hi: float, breaks: object = ()) -> float:
    """∫fn dt over [lo, hi] by Simpson's rule on a ≤ 10 µs grid, piecewise between ``breaks`` (where
    fn may step), so each piece is smooth: error far below 1e-6 relative."""
    edges = sorted({lo, hi, *(b for b in breaks if b is not None and lo < b < hi)})
    total = 0.0
    for a, b in itertools.pairwise(edges):
        n = max(2, 2 * math.ceil((b - a) / _GRID_S / 2.0))
        t = np.linspace(a, b, n + 1)
        # Evaluate a hair inside the piece: at an edge, fn takes the next piece's share.
        inner = np.clip(t, a + 1e-12, b - 1e-12)
        total += float(integrate.simpson(fn(inner), x=t))
    return total


def _side(left: float, right: float) -> SideTruth:
    stronger = max(left, right)
    if abs(left - right) <= 1e-6 * max(abs(left), abs(right), 1e-12):
        return SideTruth(left, right, 0.0, None)
    return SideTruth(left, right, (stronger - min(left, right)) / stronger * 100.0, "left" if left > right else "right")


# --- exercise designs -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Design:
    mass_kg: float | None
    bw_n: float
    force: Callable[[np.ndarray], np.ndarray]
    motion: _Motion | None
    movement_start_s: float
    end_s: float  # the movement is over: quiet standing from here
    takeoff_s: float | None = None
    landing_s: float | None = None
    takeoff_velocity_m_s: float | None = None
    countermovement: bool = True
    bench: tuple[float, float, float] | None = None  # (start, duration, drive amplitude)


def _motion_force(motion: _Motion, mass_kg: float, g: float) -> Callable[[np.ndarray], np.ndarray]:
    # In flight a = −g exactly up to rounding; a plate cannot read below 0 N.
    return lambda t: np.maximum(mass_kg * (g + motion.acc(t)), 0.0)


def _landing(pulses: list[_Pulse], t_land: float, g: float) -> tuple[list[_Pulse], float]:
    """Catch, impact, absorption and standing back up to y = 0; returns the pulses and the end time."""
    catch = _Pulse("catch", t_land, _CATCH_S, g)
    v_after_catch = float(_Motion([*pulses, catch]).vel(t_land + _CATCH_S)[0])
    need = -v_after_catch  # velocity the landing pulses must take out, m/s
    impact = _Pulse("hann", t_land, _IMPACT_S, 2.0 * _IMPACT_SHARE * need / _IMPACT_S)
    absorb = _Pulse("hann", t_land, _ABSORB_S, 2.0 * (1.0 - _IMPACT_SHARE) * need / _ABSORB_S)
    landed = [*pulses, catch, impact, absorb]
    y_after = float(_Motion(landed).pos(t_land + _ABSORB_S)[0])
    # A +/− pulse pair raises the CoM by A·T²/2; it starts before the absorption ends so that v
    # passes through 0 with a slope (a well-defined end of the landing).
    t_up = t_land + 0.35 * _ABSORB_S
    amp = -y_after / (_STAND_UP_S**2 / 2.0)
    landed += [_Pulse("hann", t_up, _STAND_UP_S, amp), _Pulse("hann", t_up + _STAND_UP_S, _STAND_UP_S, -amp)]
    return landed, t_up + 2.0 * _STAND_UP_S


def _countermovement_jump(mass_kg: float, t0: float, jump_height_m: float, depth_m: float, g: float) -> _Design:
    v0 = math.sqrt(2.0 * g * jump_height_m)
    t_u, t_b = 0.35, 0.50
    t_brake = t0 + 0.65 * t_u
    t_to = t_brake + t_b
    release = _Pulse("release", t_to - _RELEASE_S, _RELEASE_S, -g)
    j1_rel = _SHAPES["release"][2]

    def pulses(a_u: float) -> list[_Pulse]:
        a_b = (v0 + a_u * t_u / 2.0 + g * _RELEASE_S * j1_rel) / (t_b / 2.0)
        return [_Pulse("hann", t0, t_u, -a_u), _Pulse("hann", t_brake, t_b, a_b), release]

    grid = np.arange(t0, t_to, 1e-4)

    def depth_of(a_u: float) -> float:
        return -float(_Motion(pulses(a_u)).pos(grid).min())

    lo, hi = 0.2, 0.95 * g
    if not depth_of(lo) < depth_m < depth_of(hi):
        raise ValueError(f"depth_m {depth_m} m is out of reach for a {jump_height_m} m countermovement jump")
    a_u = optimize.brentq(lambda a: depth_of(a) - depth_m, lo, hi, xtol=1e-12)
    t_land = t_to + 2.0 * v0 / g
    landed, end = _landing(pulses(a_u), t_land, g)
    motion = _Motion(landed)
    return _Design(mass_kg, mass_kg * g, _motion_force(motion, mass_kg, g), motion, t0, end, t_to, t_land, v0)


def _squat_jump(mass_kg: float, t0: float, jump_height_m: float, depth_m: float, hold_s: float, g: float) -> _Design:
    v0 = math.sqrt(2.0 * g * jump_height_m)
    t_d, t_p = 0.5, 0.38
    a_d = 2.0 * depth_m / t_d**2
    t_push = t0 + 2.0 * t_d + hold_s
    t_to = t_push + t_p
    a_p = (v0 + g * _RELEASE_S * _SHAPES["release"][2]) / (t_p / 2.0)
    pulses = [
        _Pulse("hann", t0, t_d, -a_d),
        _Pulse("hann", t0 + t_d, t_d, a_d),
        _Pulse("hann", t_push, t_p, a_p),
        _Pulse("release", t_to - _RELEASE_S, _RELEASE_S, -g),
    ]
    t_land = t_to + 2.0 * v0 / g
    landed, end = _landing(pulses, t_land, g)
    motion = _Motion(landed)
    force = _motion_force(motion, mass_kg, g)
    return _Design(mass_kg, mass_kg * g, force, motion, t_push, end, t_to, t_land, v0, countermovement=False)


def _lift(
    mass_kg: float, t0: float, durations_s: tuple[float, float, float], depth_m: float, end_height_m: float, g: float
) -> _Design:
    t1, t2, t3 = durations_s
    s2 = t0 + 0.7 * t1
    s3 = s2 + 0.7 * t2
    t_end = s3 + t3
    unit2 = _Pulse("hann", s2, t2, 1.0)
    unit3 = _Pulse("hann", s3, t3, -1.0)
    y2 = float(_Motion([unit2]).pos(t_end)[0])
    y3 = float(_Motion([unit3]).pos(t_end)[0])

    def pulses(a1: float) -> list[_Pulse]:
        y1 = float(_Motion([_Pulse("hann", t0, t1, -a1)]).pos(t_end)[0])
        # v_end = 0: −a1·t1 + a2·t2 − a3·t3 = 0; y_end: y1 + a2·y2 + a3·y3 = end height.
        m = np.array([[t2, -t3], [y2, y3]])
        a2, a3 = np.linalg.solve(m, np.array([a1 * t1, end_height_m - y1]))
        return [_Pulse("hann", t0, t1, -a1), _Pulse("hann", s2, t2, float(a2)), _Pulse("hann", s3, t3, -float(a3))]

    grid = np.arange(t0, t_end, 1e-4)

    def depth_of(a1: float) -> float:
        return -float(_Motion(pulses(a1)).pos(grid).min())

    lo, hi = 0.05, 0.95 * g
    if not depth_of(lo) < depth_m < depth_of(hi):
        raise ValueError(f"depth_m {depth_m} m is out of reach for these phase durations")
    a1 = optimize.brentq(lambda a: depth_of(a) - depth_m, lo, hi, xtol=1e-12)
    final = pulses(a1)
    if final[1].amp_m_s2 <= 0 or final[2].amp_m_s2 >= 0 or -final[2].amp_m_s2 > g:
        raise ValueError("no physical lift for these parameters (a pulse changes sign or exceeds g)")
    motion = _Motion(final)
    return _Design(mass_kg, mass_kg * g, _motion_force(motion, mass_kg, g), motion, t0, t_end)


def _bench(t0: float, preload_n: float, drive_n: float) -> _Design:
    def force(t: np.ndarray) -> np.ndarray:
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        u = np.clip((t - t0) / _BENCH_DRIVE_S, 0.0, 1.0)
        return preload_n + drive_n * np.sin(math.pi * u) ** 2

    return _Design(
        None,
        preload_n,
        force,
        None,
        t0,
        t0 + _BENCH_DRIVE_S,
        countermovement=False,
        bench=(t0, _BENCH_DRIVE_S, drive_n),
    )


# --- truth ----------------------------------------------------------------------------------


def _truth(
    exercise: str,
    d: _Design,
    threshold_n: float,
    backdate_s: float,
    end_velocity_m_s: float,
    stance: float,
    shares: Mapping[str, float],
    g: float,
) -> ForceTruth:
    f, bw = d.force, d.bw_n
    sf = _scalar(f)
    dev = lambda t: np.abs(f(t) - bw)  # noqa: E731
    crossing = _first_crossing(dev, d.movement_start_s, d.movement_start_s + 0.5, threshold_n, rising=True)
    onset = crossing - backdate_s
    times: dict[str, float | None] = dict.fromkeys(
        (
            "onset",
            "unweighting_end",
            "braking_end",
            "propulsion_start",
            "drive_end",
            "propulsion_end",
            "takeoff",
            "landing",
            "landing_end",
            "peak_landing",
        )
    )
    times["onset"] = onset
    m = d.mass_kg
    mot = d.motion
    metrics: dict[str, float | None] = {}
    jump = d.takeoff_s is not None
    if mot is not None:
        vel, acc, pos = mot.vel, mot.acc, mot.pos
        sv, sy = _scalar(vel), _scalar(pos)
        if d.countermovement:
            t_vmin = _first_crossing(acc, d.movement_start_s + 1e-3, d.end_s, 0.0, rising=True)
            t_v0 = _first_crossing(vel, t_vmin, d.end_s, 0.0, rising=True)
            times["unweighting_end"] = t_vmin
            times["braking_end"] = t_v0
            prop_start = t_v0
            v_min = sv(t_vmin)
            braking_j = m * (sv(t_v0) - v_min)
            metrics |= {
                "min_velocity_m_s": v_min,
                "countermovement_depth_m": sy(t_v0),
                "unweighting_duration_s": t_vmin - onset,
                "braking_duration_s": t_v0 - t_vmin,
                "braking_impulse_n_s": braking_j,
                "mean_braking_force_n": bw + braking_j / (t_v0 - t_vmin),
                "mean_braking_force_n_per_kg": (bw + braking_j / (t_v0 - t_vmin)) / m,
                "braking_rfd_n_per_s": (sf(t_v0) - sf(t_vmin)) / (t_v0 - t_vmin),
            }
        else:
            prop_start = onset
        times["propulsion_start"] = prop_start
        if jump:
            t_to, t_land = d.takeoff_s, d.landing_s
            v0 = d.takeoff_velocity_m_s
            drive_end = prop_end = t_to
            times |= {"takeoff": t_to, "landing": t_land}
            times["landing_end"] = _first_crossing(vel, t_land + _CATCH_S, d.end_s, 0.0, rising=True)
            t_pk, f_pk = _peak(f, t_land, t_land + LANDING_WINDOW_S)
            times["peak_landing"] = t_pk
            h = v0 * v0 / (2.0 * g)
            flight = t_land - t_to
            metrics |= {
                "takeoff_velocity_m_s": v0,
                "flight_time_s": flight,
                "jump_height_flight_m": g * flight * flight / 8.0,
                "jump_height_impulse_m": h,
                "time_to_takeoff_s": t_to - onset,
                "rsi_modified": h / (t_to - onset),
                "peak_landing_force_n": f_pk,
                "peak_landing_force_n_per_kg": f_pk / m,
            }
        else:
            drive_end = _first_crossing(acc, prop_start, d.end_s, 0.0, rising=False)
            prop_end = _first_crossing(vel, drive_end, d.end_s + 1.0, end_velocity_m_s, rising=False)
            metrics["peak_velocity_m_s"] = sv(drive_end)
            metrics["drive_duration_s"] = drive_end - prop_start
        times["drive_end"], times["propulsion_end"] = drive_end, prop_end
        prop_j = m * (sv(drive_end) - sv(prop_start))
        power = lambda t: f(t) * vel(t)  # noqa: E731
        _, p_peak = _peak(power, prop_start, prop_end)
        # Work-energy: ∫F·v dt = m·g·Δy + m·Δ(v²)/2 over the window (exact, no quadrature).
        work = m * g * (sy(drive_end) - sy(prop_start)) + m * (sv(drive_end) ** 2 - sv(prop_start) ** 2) / 2.0
        _, f_peak = _peak(f, prop_start, prop_end)
        metrics |= {
            "propulsive_impulse_n_s": prop_j,
            "mean_propulsive_force_n": bw + prop_j / (drive_end - prop_start),
            "mean_propulsive_force_n_per_kg": (bw + prop_j / (drive_end - prop_start)) / m,
            "peak_propulsive_force_n": f_peak,
            "peak_propulsive_force_n_per_kg": f_peak / m,
            "peak_power_w": p_peak,
            "peak_power_w_per_kg": p_peak / m,
            "mean_propulsive_power_w": work / (drive_end - prop_start),
            "propulsion_duration_s": prop_end - prop_start,
        }
    else:
        start, width, amp = d.bench
        prop_start = onset
        t_mid = start + width / 2.0
        drive_end = _first_crossing(dev, t_mid, start + width + 0.1, threshold_n, rising=False)
        times |= {"propulsion_start": prop_start, "drive_end": drive_end, "propulsion_end": drive_end}
        prop_j = _integral(lambda t: f(t) - bw, prop_start, drive_end)
        metrics |= {
            "propulsive_impulse_n_s": prop_j,
            "mean_propulsive_force_n": bw + prop_j / (drive_end - prop_start),
            "peak_propulsive_force_n": bw + amp,
            "propulsion_duration_s": drive_end - prop_start,
        }
    rfd_start = prop_start
    f0 = sf(rfd_start)
    for span in RFD_SPANS_S:
        metrics[f"rfd_0_{round(span * 1000)}_n_per_s"] = (sf(rfd_start + span) - f0) / span
    slope = lambda t: (f(t + PEAK_RFD_WINDOW_S) - f(t)) / PEAK_RFD_WINDOW_S  # noqa: E731
    metrics["peak_rfd_n_per_s"] = _peak(slope, rfd_start, rfd_start + PEAK_RFD_SEARCH_S - PEAK_RFD_WINDOW_S)[1]
    asym = _asymmetry_truth(d, times, stance, shares)
    return ForceTruth(
        exercise=exercise,
        mass_kg=m,
        bw_n=bw,
        onset_threshold_n=threshold_n,
        movement_start_s=d.movement_start_s,
        phase_times_s=MappingProxyType(times),
        metrics=MappingProxyType(metrics),
        asymmetry=MappingProxyType(asym),
        left_shares=MappingProxyType(dict(shares)),
        stance_left_share=stance,
        force_n=lambda t: d.force(np.atleast_1d(np.asarray(t, dtype=np.float64))),
    )


def _share_fn(d: _Design, times: Mapping[str, float | None], shares: Mapping[str, float], stance: float) -> Callable:
    """Left share of the force above body weight as a function of time (piecewise constant by phase)."""
    edges: list[tuple[float, float, float]] = []
    t_v0 = times["braking_end"]
    if t_v0 is not None:
        edges.append((d.movement_start_s, times["unweighting_end"], shares["unweighting"]))
        edges.append((times["unweighting_end"], t_v0, shares["braking"]))
    prop_start = t_v0 if t_v0 is not None else d.movement_start_s
    edges.append((prop_start, times["propulsion_end"], shares["propulsion"]))
    if times["landing"] is not None:
        edges.append((times["landing"], math.inf, shares["landing"]))

    def share(t: np.ndarray) -> np.ndarray:
        out = np.full(np.shape(t), stance, dtype=np.float64)
        for lo, hi, s in edges:
            out = np.where((t >= lo) & (t < hi), s, out)
        if t_v0 is not None:
            # At v = 0 the force is far above BW: a step in the split there would put a step in
            # each plate's force, which no body makes. The braking share turns into the
            # propulsion share over the last SHARE_BLEND_S of braking instead.
            lo = t_v0 - SHARE_BLEND_S
            u = np.clip((t - lo) / SHARE_BLEND_S, 0.0, 1.0)
            ramp = shares["braking"] + (shares["propulsion"] - shares["braking"]) * (1.0 - np.cos(math.pi * u)) / 2.0
            out = np.where((t >= lo) & (t < t_v0), ramp, out)
        return out

    return share


def _split(d: _Design, times: Mapping[str, float | None], shares: Mapping[str, float], stance: float) -> Callable:
    share = _share_fn(d, times, shares, stance)
    bw = d.bw_n

    def left(t: np.ndarray) -> np.ndarray:
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        f = d.force(t)
        return stance * np.minimum(f, bw) + share(t) * np.maximum(f - bw, 0.0)

    return left


def _asymmetry_truth(
    d: _Design, times: Mapping[str, float | None], stance: float, shares: Mapping[str, float]
) -> dict[str, SideTruth | None]:
    left = _split(d, times, shares, stance)
    bw = d.bw_n
    l_bw, r_bw = stance * bw, (1.0 - stance) * bw

    def impulses(lo: float, hi: float) -> SideTruth:
        breaks = [*times.values(), None if times["braking_end"] is None else times["braking_end"] - SHARE_BLEND_S]
        jl = _integral(lambda t: left(t) - l_bw, lo, hi, breaks)
        jt = _integral(lambda t: d.force(t) - bw, lo, hi, breaks)
        return _side(jl, jt - jl)

    def peaks(lo: float, hi: float) -> SideTruth:
        pl = _peak(lambda t: left(t) - l_bw, lo, hi)[1]
        pr = _peak(lambda t: d.force(t) - left(t) - r_bw, lo, hi)[1]
        return _side(pl, pr)

    out: dict[str, SideTruth | None] = dict.fromkeys(
        ("braking_impulse", "propulsive_impulse", "peak_propulsive_force", "peak_landing_force")
    )
    if times["unweighting_end"] is not None:
        out["braking_impulse"] = impulses(times["unweighting_end"], times["braking_end"])
    out["propulsive_impulse"] = impulses(times["propulsion_start"], times["drive_end"])
    out["peak_propulsive_force"] = peaks(times["propulsion_start"], times["propulsion_end"])
    if times["landing"] is not None:
        out["peak_landing_force"] = peaks(times["landing"], times["landing"] + LANDING_WINDOW_S)
    return out


# --- public ---------------------------------------------------------------------------------


def generate(
    exercise: str,
    *,
    body_mass_kg: float = 80.0,
    load_kg: float | None = None,
    fs_hz: float = 1000.0,
    noise_sd_n: float = 1.0,
    seed: int = 0,
    quiet_before_s: float = 1.5,
    quiet_after_s: float = 1.0,
    jump_height_m: float = 0.30,
    depth_m: float | None = None,
    hold_s: float = 1.5,
    foot_preload_n: float = 150.0,
    leg_drive_n: float = 250.0,
    stance_left_share: float = 0.5,
    left_shares: Mapping[str, float] | None = None,
    onset_k_sd: float = 5.0,
    min_onset_threshold_n: float = 1.0,
    backdate_s: float = 0.030,
    end_velocity_m_s: float = 0.02,
    g_m_s2: float = STANDARD_GRAVITY_M_S2,
) -> ForceRecording:
    """One recording of ``exercise`` on a dual force plate, with its exact truth.

    Args:
        exercise: one of ``EXERCISES``.
        body_mass_kg: athlete's mass, kg.
        load_kg: bar on the shoulders, kg (default 60 kg back squat, 50 kg push press, 0 otherwise).
        fs_hz: sampling rate, Hz (any positive value: 500, 1000, 2000 …).
        noise_sd_n: SD of the Gaussian noise on each plate, N (the sum carries √2 times that).
        seed: seed of the ``numpy.random.Generator`` that draws the noise.
        quiet_before_s: quiet standing before the movement, s (≥ 1 s, the weighing).
        quiet_after_s: quiet standing after the movement, s.
        jump_height_m: jumps: v0²/(2g), m.
        depth_m: lowest CoM point below standing, m (countermovement jump 0.30, back squat 0.45,
            push press dip 0.10; for a squat jump the depth of the squat held before it, 0.30).
        hold_s: squat jump: still hold in the squat before the push, s.
        foot_preload_n, leg_drive_n: bench leg drive: foot force at rest and the drive's peak above it, N.
        stance_left_share: left plate's share of body weight (and of force below it).
        left_shares: left share of the force above body weight per phase (``unweighting``,
            ``braking``, ``propulsion``, ``landing``; missing keys take ``stance_left_share``).
        onset_k_sd, min_onset_threshold_n: onset rule threshold = max(k·SD of the summed noise, minimum), N.
        backdate_s: onset back-dating, s (Owen et al. 2014).
        end_velocity_m_s: a lift's rep end: v falls back to this after its peak, m/s.
        g_m_s2: gravitational acceleration, m/s².
    """
    if exercise not in EXERCISES:
        raise ValueError(f"exercise must be one of {EXERCISES}, got {exercise!r}")
    if not (math.isfinite(fs_hz) and fs_hz > 0):
        raise ValueError(f"fs_hz must be positive, got {fs_hz}")
    if quiet_before_s < 1.0 or quiet_after_s < 0.0:
        raise ValueError("need quiet_before_s >= 1 s (the weighing) and quiet_after_s >= 0 s")
    if noise_sd_n < 0 or not 0.0 <= stance_left_share <= 1.0:
        raise ValueError("need noise_sd_n >= 0 N and 0 <= stance_left_share <= 1")
    shares = dict.fromkeys(("unweighting", "braking", "propulsion", "landing"), stance_left_share)
    shares |= dict(left_shares or {})
    if set(shares) != {"unweighting", "braking", "propulsion", "landing"} or not all(
        0.0 <= s <= 1.0 for s in shares.values()
    ):
        raise ValueError("left_shares: keys unweighting, braking, propulsion, landing with values in [0, 1]")
    g = g_m_s2
    t0 = quiet_before_s
    if exercise == "countermovement_jump":
        design = _countermovement_jump(body_mass_kg + (load_kg or 0.0), t0, jump_height_m, depth_m or 0.30, g)
    elif exercise == "squat_jump":
        design = _squat_jump(body_mass_kg + (load_kg or 0.0), t0, jump_height_m, depth_m or 0.30, hold_s, g)
    elif exercise == "back_squat":
        load = 60.0 if load_kg is None else load_kg
        design = _lift(body_mass_kg + load, t0, (0.6, 0.8, 0.7), depth_m or 0.45, 0.0, g)
    elif exercise == "push_press":
        load = 50.0 if load_kg is None else load_kg
        rise = load / (body_mass_kg + load) * _PRESS_TRAVEL_M
        design = _lift(body_mass_kg + load, t0, (0.28, 0.32, 0.45), depth_m or 0.10, rise, g)
    else:
        design = _bench(t0, foot_preload_n, leg_drive_n)
    threshold = max(onset_k_sd * noise_sd_n * math.sqrt(2.0), min_onset_threshold_n)
    truth = _truth(exercise, design, threshold, backdate_s, end_velocity_m_s, stance_left_share, shares, g)
    n = math.ceil((design.end_s + quiet_after_s) * fs_hz) + 1
    t = np.arange(n) / fs_hz
    total = design.force(t)
    left = _split(design, truth.phase_times_s, shares, stance_left_share)(t)
    right = total - left
    rng = np.random.default_rng(seed)
    left = left + rng.normal(0.0, noise_sd_n, n)
    right = right + rng.normal(0.0, noise_sd_n, n)
    return ForceRecording(total_n=left + right, left_n=left, right_n=right, fs_hz=float(fs_hz), truth=truth)
