"""Bar kinematics of the simulated exercises, consistent with their force curves, and its truth.

A linear position transducer (LPT) on the floor reads the bar's height. The bar's vertical
displacement from rest y(τ) (m, up positive; τ = time since the rep period start, s) per exercise:

- ``back_squat``: the bar sits on the back and moves with the system's centre of mass,
  ``kinesync.sim.exercise.lift_kinematics`` over ``movement_s`` (depth ``depth_m``): exactly the
  motion whose F = m·(g + y'') the plates read. Like a real lift it turns at the bottom with the
  velocity crossing zero linearly and stops at the top with a finite deceleration.
- ``squat_jump``: the bar (or a dowel) moves with the centre of mass too: the minimum-jerk descent,
  the hold, the propulsion polynomial (rest to v0 at takeoff, back at standing height), the ballistic
  flight y = v0·t − g·t²/2 and the landing polynomial of ``kinesync.sim.exercise``.
- ``push_press``: the body dips and drives (−``dip_m``·sin⁴ over 45 % of ``movement_s``) and the bar
  rides on the shoulders, then the press raises the bar 0.45 m above them
  (``kinesync.sim.exercise.press_kinematics`` from 30 % to 60 % of the movement, stopping at
  lock-out with a finite deceleration) and a minimum-jerk step lowers it from 70 %. The system's
  centre of mass is the dip plus bar_mass/system_mass of the press: the rise the force curve carries.
- ``bench_press``: the plates are under the feet and do not see the bar; the bar is lowered from
  lock-out to the chest and pressed back with the squat's lift shape over ``movement_s``
  (travel ``bench_travel_m``), so by default it turns at the chest exactly when the leg drive
  peaks (the middle of the movement).

``concentric_share`` above 0.5 (back squat, bench press) makes a slow ascent with a sticking
region: a grind. A rep's drive gain (1 unless the athlete's timing is coupled to the outcome)
scales the excursion: for the standing exercises that is what scaling the centre-of-mass
acceleration does, and on the bench the leg drive scales the press the same way.

Concentric truth (the definition ``kinesync.dsp.velocity`` measures, and that of load–velocity
tables), from the exact curve on a 10 µs grid: the stretch of positive velocity around the peak
upward velocity, from the velocity's zero crossing at the bottom (or the bar leaving rest) to its
return to zero at the top, the crossings interpolated between grid points; a jump's phase is cut
at takeoff (the athlete leaves the plates and the bar flies: the drive is over). Its mean velocity
is its rise over its duration, its peak the largest velocity in it. The propulsive phase
(Sánchez-Medina et al. 2010) runs from the same start to the first instant the bar's acceleration
falls below −g, or to the phase's end when it never does; its mean velocity is its rise over its
duration.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from kinesync.sim.exercise import (
    JUMP_DESCENT_S,
    JUMP_LANDING_S,
    JUMP_PUSH_S,
    STANDARD_GRAVITY_M_S2,
    ForceProfile,
    descent_s,
    lift_kinematics,
    press_kinematics,
)

if TYPE_CHECKING:
    from kinesync.sim.athlete import AthleteSpec

PRESS_TRAVEL_M = 0.45  # push press: bar from the shoulders to lock-out (as in kinesync.sim.exercise)
_TRUTH_STEP_S = 1e-5


@dataclass(frozen=True)
class BarTruth:
    """Exact concentric phase of one rep; times τ in s since the rep period start."""

    start_tau_s: float
    end_tau_s: float
    displacement_m: float
    mean_concentric_velocity_m_s: float
    peak_concentric_velocity_m_s: float
    peak_velocity_tau_s: float
    propulsive_end_tau_s: float
    mean_propulsive_velocity_m_s: float


class BarProfile:
    """Noise-free bar displacement and velocity of one rep period as functions of τ (s)."""

    def __init__(self, spec: AthleteSpec, profile: ForceProfile) -> None:
        s = spec
        self.exercise = s.exercise
        self._profile = profile
        t0 = profile.quiet_s
        self._pieces: list = []  # callables τ -> (y, v, a), each at rest outside its support
        if s.exercise in ("back_squat", "bench_press"):
            depth = s.depth_m if s.exercise == "back_squat" else s.bench_travel_m
            down = descent_s(s)
            self._pieces.append(functools.partial(
                lift_kinematics, t0=t0, descent_s=down, ascent_s=s.movement_s - down, depth=depth))
        elif s.exercise == "push_press":
            big_m = s.movement_s
            self._pieces.append(functools.partial(_sin4, t0=t0, dur=0.45 * big_m, depth=s.dip_m))
            self._pieces.append(functools.partial(press_kinematics, t0=t0 + 0.3 * big_m, dur=0.3 * big_m,
                                                  dy=PRESS_TRAVEL_M))
            self._pieces.append(functools.partial(_minjerk, t0=t0 + 0.7 * big_m, dur=0.3 * big_m, dy=-PRESS_TRAVEL_M))
        elif s.exercise == "squat_jump":
            self._pieces.append(functools.partial(_jump, spec=s, profile=profile))
        else:  # pragma: no cover - AthleteSpec validates the name
            raise ValueError(f"unknown exercise {s.exercise!r}")

    def kinematics(self, tau_s: np.ndarray, gain: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
        """Bar displacement from rest (m) and velocity (m/s) at τ (s since the period start)."""
        y, v, _ = self._sum(tau_s, gain)
        return y, v

    def acceleration(self, tau_s: np.ndarray, gain: float = 1.0) -> np.ndarray:
        """Bar vertical acceleration (m/s², gravity not included) at τ (s since the period start)."""
        return self._sum(tau_s, gain)[2]

    def _sum(self, tau_s: np.ndarray, gain: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tau = np.asarray(tau_s, dtype=np.float64)
        y, v, a = np.zeros_like(tau), np.zeros_like(tau), np.zeros_like(tau)
        for piece in self._pieces:
            dy, dv, da = piece(tau)
            y += dy
            v += dv
            a += da
        return gain * y, gain * v, gain * a

    def truth(self, gain: float = 1.0) -> BarTruth:
        return _truth(self, gain)


@functools.lru_cache(maxsize=256)
def _truth(bar: BarProfile, gain: float) -> BarTruth:
    p = bar._profile
    # The whole movement (on the bench the force onset is the leg drive's, mid-movement).
    tau = np.arange(p.quiet_s, p.quiet_s + p.duration_s + _TRUTH_STEP_S / 2, _TRUTH_STEP_S)
    _, v = bar.kinematics(tau, gain)
    peak = int(np.argmax(v))
    up = v > 1e-9  # exactly at rest, up to the rounding of the shapes that have ended
    a = peak
    while a > 0 and up[a - 1]:
        a -= 1
    b = peak
    while b < v.size - 1 and up[b + 1]:
        b += 1
    # The zero crossings: linear between grid points 10 µs apart (a start from rest: the last grid
    # point at rest; a stop at the top: the first grid point back at rest).
    start = tau[a - 1] + (0.0 - v[a - 1]) / (v[a] - v[a - 1]) * _TRUTH_STEP_S if a > 0 else tau[0]
    end = tau[b] + v[b] / (v[b] - v[b + 1]) * _TRUTH_STEP_S if b < v.size - 1 else tau[-1]
    if p.takeoff_tau_s is not None and start < p.takeoff_tau_s < end:
        end = p.takeoff_tau_s
        b = int(np.searchsorted(tau, end)) - 1
    # The propulsive end: the bar decelerates faster than gravity would (a < −g) for the first time.
    acc = bar.acceleration(tau[a:b + 1], gain)
    below = np.flatnonzero(acc < -STANDARD_GRAVITY_M_S2)
    prop_end = end
    if below.size and below[0] > 0:
        i = a + int(below[0])
        g = -STANDARD_GRAVITY_M_S2
        prop_end = tau[i - 1] + (g - acc[i - 1 - a]) / (acc[i - a] - acc[i - 1 - a]) * _TRUTH_STEP_S
    ys, _ = bar.kinematics(np.array([start, end, prop_end]), gain)
    rise = float(ys[1] - ys[0])
    return BarTruth(
        start_tau_s=float(start), end_tau_s=float(end), displacement_m=rise,
        mean_concentric_velocity_m_s=rise / float(end - start), peak_concentric_velocity_m_s=float(v[peak]),
        peak_velocity_tau_s=float(tau[peak]), propulsive_end_tau_s=float(prop_end),
        mean_propulsive_velocity_m_s=float(ys[2] - ys[0]) / float(prop_end - start),
    )


def build_bar(spec: AthleteSpec, profile: ForceProfile) -> BarProfile:
    return _build(spec, profile)


@functools.lru_cache(maxsize=64)
def _build(spec: AthleteSpec, profile: ForceProfile) -> BarProfile:
    return BarProfile(spec, profile)


# ---- displacement and velocity pieces (y, v), matching the acceleration components of exercise.py ----


Kinematics = tuple[np.ndarray, np.ndarray, np.ndarray]  # displacement m, velocity m/s, acceleration m/s²


def _sin4(tau: np.ndarray, *, t0: float, dur: float, depth: float) -> Kinematics:
    u = np.clip((tau - t0) / dur, 0.0, 1.0)
    s, c = np.sin(np.pi * u), np.cos(np.pi * u)
    s2 = s * s
    # y'' = 4D(π/T)²·(4 sin⁴ − 3 sin²): the acceleration component of kinesync.sim.exercise.
    return -depth * s2 * s2, -4.0 * depth * (math.pi / dur) * s2 * s * c, 4.0 * depth * (math.pi / dur) ** 2 * (
        4.0 * s2 * s2 - 3.0 * s2)


def _minjerk(tau: np.ndarray, *, t0: float, dur: float, dy: float) -> Kinematics:
    u = np.clip((tau - t0) / dur, 0.0, 1.0)
    return (dy * (10.0 * u**3 - 15.0 * u**4 + 6.0 * u**5), dy / dur * (30.0 * u**2 - 60.0 * u**3 + 30.0 * u**4),
            dy / dur**2 * (60.0 * u - 180.0 * u * u + 120.0 * u**3))


def _poly_kin(u: np.ndarray, dur: float, coeffs: np.ndarray, v_start: float) -> Kinematics:
    """Displacement, velocity and acceleration after u·dur of a segment whose acceleration is the
    polynomial ``coeffs`` in u (ascending), entered at position 0 with velocity ``v_start``."""
    k = np.arange(coeffs.size, dtype=np.float64)
    vel = np.polynomial.polynomial.polyval(u, np.concatenate(([0.0], coeffs / (k + 1.0))))
    pos = np.polynomial.polynomial.polyval(u, np.concatenate(([0.0, 0.0], coeffs / ((k + 1.0) * (k + 2.0)))))
    acc = np.polynomial.polynomial.polyval(u, coeffs)
    return v_start * dur * u + dur * dur * pos, v_start + dur * vel, acc


def _jump(tau: np.ndarray, *, spec: AthleteSpec, profile: ForceProfile) -> Kinematics:
    g = STANDARD_GRAVITY_M_S2
    t0 = profile.quiet_s
    t_push = t0 + JUMP_DESCENT_S + spec.squat_hold_s
    t_off, t_land = profile.takeoff_tau_s, profile.landing_tau_s
    v0 = profile.takeoff_velocity
    y, v, a = _minjerk(tau, t0=t0, dur=JUMP_DESCENT_S, dy=-spec.depth_m)
    push = (tau >= t_push) & (tau < t_off)
    if push.any():
        py, pv, pa = _poly_kin((tau[push] - t_push) / JUMP_PUSH_S, JUMP_PUSH_S, profile.push_coeffs, 0.0)
        y[push], v[push], a[push] = -spec.depth_m + py, pv, pa
    flight = (tau >= t_off) & (tau < t_land)
    t = tau[flight] - t_off
    y[flight] = v0 * t - 0.5 * g * t * t
    v[flight] = v0 - g * t
    a[flight] = -g
    land = (tau >= t_land) & (tau < t_land + JUMP_LANDING_S)
    if land.any():
        ly, lv, la = _poly_kin((tau[land] - t_land) / JUMP_LANDING_S, JUMP_LANDING_S, profile.landing_coeffs, -v0)
        y[land], v[land], a[land] = ly, lv, la
    after = tau >= t_land + JUMP_LANDING_S
    y[after], v[after], a[after] = 0.0, 0.0, 0.0
    return y, v, a
