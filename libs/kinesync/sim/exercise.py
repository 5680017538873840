"""Vertical-force profiles of the simulated exercises, with their exact ground truth.

Every standing exercise is a centre-of-mass displacement y(τ) that is smooth and at rest at both
ends; the plates read F = m·(g + y''(τ)) with m the system mass (body plus bar), so impulse–momentum
holds by construction. In flight the plates read exactly 0 N. The bench press is different: the
athlete lies on a bench and the plates under the feet read a foot preload plus the leg drive.

τ is the time since the start of a rep period, s. A profile is built once per spec (the same for
every rep) and knows its truth: force onset, peak force, RFD, impulses and, for jumps, takeoff,
landing, takeoff velocity and jump height.

- ``back_squat``: a lift (``lift_kinematics``): the descent of −D·sin⁴ from rest to the bottom,
  whose velocity crosses zero linearly there, and an ascent of ``concentric_share`` of
  ``movement_s`` that leaves the bottom with the descent's acceleration and comes to a stop at
  the top with a finite deceleration (the lifter stops at lock-out; the force steps back to body
  weight). A long ascent (a grind) slows down in the middle, a sticking region, and pushes through.
- ``push_press``: the dip-and-drive shape −``dip_m``·sin⁴ over 45 % of ``movement_s``, then the bar
  pressed to lock-out raises the system's centre of mass by ``bar_mass / system_mass · 0.45 m``
  (``press_kinematics``: from rest with no jolt, stopping with a finite deceleration) and a
  minimum-jerk step lowers it again at the end.
- ``squat_jump``: a minimum-jerk descent by ``depth_m`` (0.8 s), a hold of ``squat_hold_s``, a
  propulsion of 0.3 s whose acceleration is a polynomial solved so that the velocity at takeoff is
  exactly v0 = √(2·g·h) for h = ``jump_height_m``, the body is back at standing height, the force
  leaves the hold smoothly and falls to 0 N at takeoff with a steep (60 kN/s) slope; a flight of
  exactly 2·v0/g at 0 N; a landing of 0.5 s (polynomial: force rises from 0 N at 100 kN/s, stops the
  body, returns it to standing height and ends at body weight).
- ``bench_press``: ``foot_preload_n`` plus ``leg_drive_n``·sin²(π·u) over 40 % of ``movement_s``,
  centred on the middle of the movement. Not impulse–momentum: the bench carries the body.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kinesync.sim.athlete import AthleteSpec

STANDARD_GRAVITY_M_S2 = 9.80665
EXERCISES = ("back_squat", "bench_press", "push_press", "squat_jump")

JUMP_DESCENT_S = 0.8
JUMP_PUSH_S = 0.3
JUMP_LANDING_S = 0.5
_TAKEOFF_SLOPE_N_S = 60_000.0
_PUSH_START_SLOPE_N_S = 8_000.0  # the force leaves the hold rising at a finite rate, as on real plates
_LANDING_SLOPE_N_S = 100_000.0
_PRESS_TRAVEL_M = 0.45  # bar travel from the shoulders to lock-out
_BENCH_DRIVE_SHARE = 0.4
RFD_SPANS_S = (0.050, 0.100, 0.200)
PEAK_RFD_WINDOW_S = 0.020
PEAK_RFD_SEARCH_S = 0.200
# Truth that has no closed form (peak force of a sum of shapes, positive part of an integral) is
# taken from the exact force function on this grid: its error is ~1e-8 relative, far below 1 %.
_TRUTH_STEP_S = 1e-5


@dataclass(frozen=True)
class ProfileTruth:
    """Exact truth of one rep's force curve; times τ in s since the rep period start."""

    onset_tau_s: float
    end_tau_s: float
    leg_peak_tau_s: float
    peak_force_n: float
    peak_force_tau_s: float
    net_impulse_n_s: float
    propulsive_impulse_n_s: float
    rfd_n_s: tuple[float, float, float]  # over RFD_SPANS_S from the true onset
    peak_rfd_n_s: float
    propulsion_onset_tau_s: float | None = None
    takeoff_tau_s: float | None = None
    landing_tau_s: float | None = None
    takeoff_velocity_m_s: float | None = None
    takeoff_impulse_n_s: float | None = None


class ForceProfile:
    """Noise-free total vertical force of one rep period as a function of τ (s)."""

    def __init__(self, spec: AthleteSpec, quiet_s: float) -> None:
        s = spec
        self.exercise = s.exercise
        self._depth_m = s.depth_m
        self._descent_s = descent_s(s)
        self.quiet_s = quiet_s
        g = STANDARD_GRAVITY_M_S2
        self._accel: list = []  # callables τ -> m/s², each zero outside its support
        self._flight: tuple[float, float] | None = None
        self._bench: tuple[float, float, float] | None = None
        t0 = quiet_s
        self.propulsion_onset: float | None = None
        self.takeoff_velocity: float | None = None
        # A jump's propulsion and landing accelerations (polynomials in u, ascending): the bar model
        # (kinesync.sim.bar) integrates the same curves.
        self.push_coeffs: np.ndarray | None = None
        self.landing_coeffs: np.ndarray | None = None
        if s.exercise == "bench_press":
            self.mass_kg = None
            self.baseline_n = s.foot_preload_n
            width = _BENCH_DRIVE_SHARE * s.movement_s
            start = t0 + s.movement_s / 2.0 - width / 2.0
            self._bench = (start, width, s.leg_drive_n)
            self.duration_s = s.movement_s
            self.onset = start
            self.end = start + width
        else:
            self.mass_kg = s.body_mass_kg + s.bar_mass_kg
            self.baseline_n = self.mass_kg * g
            if s.exercise == "back_squat":
                self._accel.append(functools.partial(
                    _lift_accel, t0=t0, descent_s=descent_s(s), ascent_s=s.movement_s - descent_s(s), depth=s.depth_m))
                self.duration_s = s.movement_s
            elif s.exercise == "push_press":
                m_total = self.mass_kg
                rise = (s.bar_mass_kg / m_total) * _PRESS_TRAVEL_M if m_total > 0 else 0.0
                big_m = s.movement_s
                self._accel.append(functools.partial(_sin4_accel, t0=t0, dur=0.45 * big_m, depth=s.dip_m))
                self._accel.append(functools.partial(_press_accel, t0=t0 + 0.3 * big_m, dur=0.3 * big_m, dy=rise))
                self._accel.append(functools.partial(_minjerk_accel, t0=t0 + 0.7 * big_m, dur=0.3 * big_m, dy=-rise))
                self.duration_s = big_m
            elif s.exercise == "squat_jump":
                v0 = math.sqrt(2.0 * g * s.jump_height_m)
                flight = 2.0 * v0 / g
                t_push = t0 + JUMP_DESCENT_S + s.squat_hold_s
                t_off = t_push + JUMP_PUSH_S
                t_land = t_off + flight
                m = self.mass_kg
                push = _solve_poly(
                    JUMP_PUSH_S,
                    values=((0.0, 0.0), (1.0, -g)),
                    slopes=((0.0, _PUSH_START_SLOPE_N_S / m), (1.0, -_TAKEOFF_SLOPE_N_S / m)),
                    dv=v0,
                    dy=s.depth_m,
                    v_start=0.0,
                )
                land = _solve_poly(
                    JUMP_LANDING_S,
                    values=((0.0, -g), (1.0, 0.0)),
                    slopes=((0.0, _LANDING_SLOPE_N_S / m), (1.0, 0.0)),
                    dv=v0,
                    dy=0.0,
                    v_start=-v0,
                )
                self._accel.append(functools.partial(_minjerk_accel, t0=t0, dur=JUMP_DESCENT_S, dy=-s.depth_m))
                self._accel.append(functools.partial(_poly_accel, t0=t_push, dur=JUMP_PUSH_S, coeffs=push))
                self._accel.append(functools.partial(_poly_accel, t0=t_land, dur=JUMP_LANDING_S, coeffs=land))
                self._flight = (t_off, t_land)
                self.push_coeffs, self.landing_coeffs = push, land
                self.propulsion_onset = t_push
                self.takeoff_velocity = v0
                self.duration_s = JUMP_DESCENT_S + s.squat_hold_s + JUMP_PUSH_S + flight + JUMP_LANDING_S
            else:  # pragma: no cover - AthleteSpec validates the name
                raise ValueError(f"unknown exercise {s.exercise!r}")
            self.onset = t0
            self.end = t0 + self.duration_s

    def force_n(self, tau_s: np.ndarray) -> np.ndarray:
        """Noise-free total vertical force at τ (s since the period start), N."""
        tau = np.asarray(tau_s, dtype=np.float64)
        if self._bench is not None:
            start, width, amp = self._bench
            u = np.clip((tau - start) / width, 0.0, 1.0)
            return self.baseline_n + amp * np.square(np.sin(np.pi * u))
        accel = np.zeros_like(tau)
        for component in self._accel:
            accel += component(tau)
        force = self.mass_kg * (STANDARD_GRAVITY_M_S2 + accel)
        if self._flight is not None:
            force = np.where((tau >= self._flight[0]) & (tau < self._flight[1]), 0.0, force)
        return force

    @functools.cached_property
    def truth(self) -> ProfileTruth:
        tau = np.arange(self.onset, self.end + _TRUTH_STEP_S / 2, _TRUTH_STEP_S)
        f = self.force_n(tau)
        excess = f - self.baseline_n
        # A jump's peak force and propulsive impulse are those before takeoff (the landing is not the drive).
        drive = tau < self._flight[0] if self._flight is not None else np.ones(tau.size, dtype=bool)
        peak_i = int(np.argmax(np.where(drive, f, -np.inf)))
        positive = np.where(drive, np.maximum(excess, 0.0), 0.0)
        propulsive = float(np.trapezoid(positive, dx=_TRUTH_STEP_S))
        # Standing exercises go from rest to rest: net impulse 0 by construction (tests check the curve).
        net = 0.0
        if self._bench is not None:
            _, width, amp = self._bench
            net = propulsive = amp * width / 2.0  # ∫ A·sin²(πu) dτ over the drive, exact
        onset = self.onset
        f_on = float(self.force_n(np.array([onset]))[0])
        rfds = tuple(float((self.force_n(np.array([onset + span]))[0] - f_on) / span) for span in RFD_SPANS_S)
        starts = np.arange(onset, onset + PEAK_RFD_SEARCH_S - PEAK_RFD_WINDOW_S + _TRUTH_STEP_S / 2, _TRUTH_STEP_S)
        slopes = (self.force_n(starts + PEAK_RFD_WINDOW_S) - self.force_n(starts)) / PEAK_RFD_WINDOW_S
        takeoff_impulse = None
        if self._flight is not None:
            takeoff_impulse = self.mass_kg * self.takeoff_velocity
        return ProfileTruth(
            onset_tau_s=onset,
            end_tau_s=self.end,
            leg_peak_tau_s=self.quiet_s + self.leg_peak_offset_s,
            peak_force_n=float(f[peak_i]),
            peak_force_tau_s=float(tau[peak_i]),
            net_impulse_n_s=net,
            propulsive_impulse_n_s=propulsive,
            rfd_n_s=rfds,  # type: ignore[arg-type]
            peak_rfd_n_s=float(slopes.max()),
            propulsion_onset_tau_s=self.propulsion_onset,
            takeoff_tau_s=None if self._flight is None else self._flight[0],
            landing_tau_s=None if self._flight is None else self._flight[1],
            takeoff_velocity_m_s=self.takeoff_velocity,
            takeoff_impulse_n_s=takeoff_impulse,
        )

    @property
    def takeoff_tau_s(self) -> float | None:
        return None if self._flight is None else self._flight[0]

    @property
    def landing_tau_s(self) -> float | None:
        return None if self._flight is None else self._flight[1]

    @functools.cached_property
    def leg_peak_offset_s(self) -> float:
        """When the leg-drive EMG peaks, s after the end of quiet standing: at the drive's peak force
        (the squat's bottom, the dip's turn, the jump's propulsion peak, the bench's leg-drive peak)."""
        if self.exercise == "bench_press":
            return self.duration_s / 2.0
        if self.exercise == "back_squat":
            return self._descent_s
        lo = self.propulsion_onset if self.propulsion_onset is not None else self.onset
        hi = self._flight[0] if self._flight is not None else self.end
        tau = np.arange(lo, hi, 1e-4)
        return float(tau[int(np.argmax(self.force_n(tau)))]) - self.quiet_s

    def min_contact_force_n(self) -> float:
        """Lowest force while in contact (must be ≥ 0 for a physical curve), N."""
        tau = np.arange(self.onset, self.end, 1e-4)
        f = self.force_n(tau)
        if self._flight is not None:
            f = f[(tau < self._flight[0]) | (tau >= self._flight[1])]
        return float(f.min())


def build_profile(spec: AthleteSpec, quiet_s: float) -> ForceProfile:
    """The force profile of ``spec`` with quiet standing ``quiet_s`` (s) at the period start."""
    return _build(spec, quiet_s)


@functools.lru_cache(maxsize=64)
def _build(spec: AthleteSpec, quiet_s: float) -> ForceProfile:
    return ForceProfile(spec, quiet_s)


def movement_duration_s(spec: AthleteSpec) -> float:
    """Duration of the movement (force onset to rest) of ``spec``'s exercise, s."""
    if spec.exercise == "squat_jump":
        v0 = math.sqrt(2.0 * STANDARD_GRAVITY_M_S2 * spec.jump_height_m)
        return JUMP_DESCENT_S + spec.squat_hold_s + JUMP_PUSH_S + 2.0 * v0 / STANDARD_GRAVITY_M_S2 + JUMP_LANDING_S
    return spec.movement_s


def descent_s(spec: AthleteSpec) -> float:
    """Duration of a squat's or bench press's descent to the bottom, s (the rest of ``movement_s`` is the ascent)."""
    return spec.movement_s * (1.0 - spec.concentric_share)


Kinematics = tuple[np.ndarray, np.ndarray, np.ndarray]  # displacement m, velocity m/s, acceleration m/s²


def _ascent_poly(descent_s: float, ascent_s: float) -> np.ndarray:
    """Ascent velocity shape w(s) = s(1 − s)·(p0·(1 − s)ⁿ + c·sᵐ) (ascending coefficients in s = time/ascent).

    w'(0) = p0 = π²(ascent/descent)² continues the descent's acceleration at the bottom (no force
    step there); ∫w = 1 brings the bar back to its start; w'(1) = −c < 0 is the finite deceleration
    of a lift stopping at lock-out. n is the smallest power that keeps c clearly positive; a slow
    ascent (m = 2) sags in the middle before pushing through: the sticking region of a grind.
    """
    p0 = (math.pi * ascent_s / descent_s) ** 2
    m = 1 if ascent_s <= 1.2 * descent_s else 2
    n = 2
    while (n + 2) * (n + 3) < 1.25 * p0:
        n += 1
    c = (m + 2) * (m + 3) * (1.0 - p0 / ((n + 2) * (n + 3)))
    P = np.polynomial.polynomial
    one_minus = P.polypow([1.0, -1.0], n)
    q = P.polyadd(p0 * one_minus, c * np.eye(m + 1)[m])
    return P.polymul([0.0, 1.0, -1.0], q)


@functools.lru_cache(maxsize=64)
def _ascent_cached(descent_s: float, ascent_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    P = np.polynomial.polynomial
    w = _ascent_poly(descent_s, ascent_s)
    return P.polyint(w), w, P.polyder(w)


def lift_kinematics(tau: np.ndarray, *, t0: float, descent_s: float, ascent_s: float, depth: float) -> Kinematics:
    """A lift from rest to rest: displacement (m), velocity (m/s), acceleration (m/s²) at τ (s).

    Descent: y = −D·sin⁴(πu/2) for u = (τ − t0)/descent in [0, 1] (from rest with no jolt; the
    velocity crosses zero linearly at the bottom). Ascent: y = −D + D·W(s), v = D/T·w(s) with the
    shape of ``_ascent_poly``, ending at rest with a finite deceleration.
    """
    tau = np.asarray(tau, dtype=np.float64)
    u = np.clip((tau - t0) / (2.0 * descent_s), 0.0, 0.5)
    sn, cs = np.sin(np.pi * u), np.cos(np.pi * u)
    s2 = sn * sn
    k = math.pi / (2.0 * descent_s)
    y = -depth * s2 * s2
    v = -4.0 * depth * k * s2 * sn * cs
    a = 4.0 * depth * k * k * (4.0 * s2 * s2 - 3.0 * s2)
    ws = _ascent_cached(descent_s, ascent_s)
    s = (tau - t0 - descent_s) / ascent_s
    up = (s >= 0.0) & (s < 1.0)
    if up.any():
        P = np.polynomial.polynomial
        su = s[up]
        y[up] = -depth + depth * P.polyval(su, ws[0])
        v[up] = depth / ascent_s * P.polyval(su, ws[1])
        a[up] = depth / ascent_s**2 * P.polyval(su, ws[2])
    done = s >= 1.0
    y[done], v[done], a[done] = 0.0, 0.0, 0.0
    return y, v, a


def press_kinematics(tau: np.ndarray, *, t0: float, dur: float, dy: float) -> Kinematics:
    """A press by ``dy`` (m) over ``dur`` (s) from τ = t0: v = Δy/T·s²(1 − s)(24 − 20s).

    It leaves rest with no jolt (a(0) = 0) and stops at lock-out with the finite deceleration
    4·Δy/T² (∫ of the shape = 1).
    """
    s = np.clip((np.asarray(tau, dtype=np.float64) - t0) / dur, 0.0, 1.0)
    inside = (s > 0.0) & (s < 1.0)
    y = dy * (8.0 * s**3 - 11.0 * s**4 + 4.0 * s**5)
    v = dy / dur * (24.0 * s**2 - 44.0 * s**3 + 20.0 * s**4)
    a = np.where(inside, dy / dur**2 * (48.0 * s - 132.0 * s**2 + 80.0 * s**3), 0.0)
    return y, np.where(inside, v, 0.0), a


# ---- acceleration components (each zero outside its support) ----------------------------------


def _lift_accel(tau: np.ndarray, *, t0: float, descent_s: float, ascent_s: float, depth: float) -> np.ndarray:
    return lift_kinematics(tau, t0=t0, descent_s=descent_s, ascent_s=ascent_s, depth=depth)[2]


def _press_accel(tau: np.ndarray, *, t0: float, dur: float, dy: float) -> np.ndarray:
    return press_kinematics(tau, t0=t0, dur=dur, dy=dy)[2]



def _sin4_accel(tau: np.ndarray, *, t0: float, dur: float, depth: float) -> np.ndarray:
    # y = −D·sin⁴(πu): y'' = 4D(π/T)²·(4 sin⁴ − 3 sin²); zero at u = 0 and 1, so clipping is exact.
    u = np.clip((tau - t0) / dur, 0.0, 1.0)
    s2 = np.square(np.sin(np.pi * u))
    return 4.0 * depth * (math.pi / dur) ** 2 * (4.0 * s2 * s2 - 3.0 * s2)


def _minjerk_accel(tau: np.ndarray, *, t0: float, dur: float, dy: float) -> np.ndarray:
    # Minimum-jerk step y = Δy·(10u³ − 15u⁴ + 6u⁵): rest to rest, acceleration zero at both ends.
    u = np.clip((tau - t0) / dur, 0.0, 1.0)
    return dy / dur**2 * (60.0 * u - 180.0 * u * u + 120.0 * u**3)


def _poly_accel(tau: np.ndarray, *, t0: float, dur: float, coeffs: np.ndarray) -> np.ndarray:
    u = (tau - t0) / dur
    inside = (u >= 0.0) & (u < 1.0)
    return np.where(inside, np.polynomial.polynomial.polyval(u, coeffs), 0.0)


def _solve_poly(
    dur: float,
    *,
    values: tuple[tuple[float, float], ...],
    slopes: tuple[tuple[float, float], ...],
    dv: float,
    dy: float,
    v_start: float,
    degree: int = 7,
) -> np.ndarray:
    """Coefficients (in u = τ/T, ascending) of the smoothest acceleration a(u) (least ∫a''² du) with
    a(u_i) = values, da/dτ(u_i) = slopes (m/s³), a velocity change ``dv`` (m/s) and a displacement
    ``dy`` (m) over the segment of duration ``dur`` (s) entered at velocity ``v_start`` (m/s).

    A small equality-constrained least-squares problem (KKT system); exact up to rounding.
    """
    n = degree + 1
    k = np.arange(n, dtype=np.float64)
    rows, rhs = [], []
    for u, a in values:
        rows.append(u**k)
        rhs.append(a)
    for u, slope in slopes:
        rows.append(np.where(k > 0, k * u ** np.maximum(k - 1, 0), 0.0))
        rhs.append(slope * dur)
    rows.append(1.0 / (k + 1.0))  # ∫₀¹ a du · T = Δv
    rhs.append(dv / dur)
    rows.append(1.0 / ((k + 1.0) * (k + 2.0)))  # ∫₀¹∫₀ᵘ a · T² + v_start·T = Δy
    rhs.append((dy - v_start * dur) / dur**2)
    a_mat, b = np.array(rows), np.array(rhs)
    i, j = np.meshgrid(k, k, indexing="ij")
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where((i >= 2) & (j >= 2), i * (i - 1) * j * (j - 1) / (i + j - 3), 0.0)
    kkt = np.block([[2.0 * q, a_mat.T], [a_mat, np.zeros((len(b), len(b)))]])
    return np.linalg.solve(kkt, np.concatenate([np.zeros(n), b]))[:n]
