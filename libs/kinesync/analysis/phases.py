"""Force-plate phases and metrics from the centre-of-mass motion: numbers in, numbers out, no I/O.

Phases follow McMahon et al. (2018): from the vertical force F (N) and body weight BW (N, m = BW/g)
the centre-of-mass (CoM) velocity is v(t) = ∫(F − BW)/m dt (trapezoid rule, v = 0 at the onset,
when the athlete still stands still) and its displacement y(t) = ∫v dt.

- **weighing**: BW = mean of ``window_s`` of quiet standing contiguous with the movement.
- **onset**: the force leaves BW by more than 5 SD of the weighing, back-dated 30 ms (Owen et al. 2014).
- **unweighting**: F < BW, v < 0, from the onset to the velocity minimum (where F is back at BW).
- **braking**: v < 0 with F ≥ BW, from the velocity minimum to v = 0.
- **propulsion**: v > 0, from v = 0 to take-off (jumps) or to the rep end (lifts: v back to
  ``end_velocity_m_s``). A movement from rest (squat jump, bench leg drive) has no unweighting or
  braking: its propulsion starts at the onset.
- **drive**: the window of the propulsive impulse, mean propulsive force and mean propulsive power:
  the whole propulsion up to take-off for a jump; for a lift the accelerating part, from v = 0 to
  the velocity peak (over the whole concentric phase a lift's net impulse is 0 — it starts and ends
  at rest — and tells nothing).
- **flight**: F below ``flight_threshold_n`` (20 N) for at least ``min_flight_s``; take-off and
  landing are the threshold crossings interpolated between samples.
- **landing**: from touchdown until v returns to 0.

Indices are fractional sample indices into the arrays passed in (``index / fs_hz`` = time in s
from the first sample). Functions never raise on finite 1-D input of any length or content: what
cannot be computed is None and a flag names why. ``ValueError`` is for programmer errors only (a
2-D array, a non-positive rate, an unknown option). Definitions, references and how ForceDecks and
Hawkin Dynamics define the same metrics: docs/metrics.md, "Force-plate phases and metrics".
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from kinesync.analysis.jump import STANDARD_GRAVITY_M_S2, _crossing, _runs
from kinesync.dsp.force import peak_force, peak_rfd, rfds
from kinesync.dsp.moments import mean_sd
from kinesync.dsp.onset import first_run_start, last_run_stop
from kinesync.dsp.rest_exit import force_leaves_rest
from kinesync.dsp.running import cumsum_pair

MOVEMENTS = ("auto", "countermovement", "from_rest")
RFD_SPANS_S = (0.050, 0.100, 0.200)
_F = TypeVar("_F", bound=Callable)


def _quiet_floats(fn: _F) -> _F:
    """Finite but absurd input (1e300 N) overflows to inf/NaN, which the checks turn into None and
    flags; numpy's overflow warnings would only add noise to a caller's log."""

    @functools.wraps(fn)
    def wrapper(*args: object, **kwargs: object) -> object:
        with np.errstate(all="ignore"):
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _with(ph: Phases, **changes: object) -> Phases:
    """``dataclasses.replace`` of a ``Phases`` (frozen, every field in ``__init__``, no ``__post_init__``):
    an equal object, without running ``__init__`` over its 20 fields again (a rep makes a dozen)."""
    new = object.__new__(Phases)
    fields = new.__dict__
    fields.update(ph.__dict__)
    fields.update(changes)
    return new


@functools.lru_cache(maxsize=8)
def _grid(n: int) -> np.ndarray:
    """``np.arange(n)`` as float64 (what ``np.interp`` converts it to), made once per length."""
    out = np.arange(n, dtype=np.float64)
    out.flags.writeable = False
    return out


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Weighing:
    """Body weight from quiet standing.

    Attributes:
        bw_n: mean vertical force of the window, N (None when no valid window).
        sd_n: its SD (ddof 1), N.
        start_index, end_index: the window is samples start … end − 1.
        reason: None when valid; else "too_short", "plate_unloaded", "no_quiet_standing" or
            "non_finite_force".
    """

    bw_n: float | None
    sd_n: float | None
    start_index: int | None
    end_index: int | None
    reason: str | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class Phases:
    """Phase boundaries of one movement (fractional sample indices; None where absent).

    Attributes:
        fs_hz: sampling rate, Hz.
        bw_n: body weight used, N. mass_kg: BW/g, kg (None without CoM velocity).
        movement: "countermovement", "from_rest" or None (no onset).
        is_jump: a flight followed the movement.
        integration_start_index: sample where v = 0 is assumed and the integration starts.
        onset_index: 5 SD departure, back-dated (``backdate_s``).
        unweighting_end_index: the velocity minimum (F back at BW) = braking start.
        braking_end_index: v = 0 = propulsion start of a countermovement.
        propulsion_start_index: braking end, or the onset for a movement from rest.
        drive_end_index: end of the propulsive-impulse window (take-off; a lift's velocity peak;
            the force back at BW for a drive without CoM velocity).
        propulsion_end_index: take-off, or a lift's rep end.
        takeoff_index, landing_index: 20 N crossings, interpolated.
        landing_end_index: v back to 0 after touchdown.
        peak_landing_index: sample of the largest force within ``landing_window_s`` of touchdown.
        landing_search_end_index: last sample of that search.
        flags: why something is None, or what is odd.
    """

    fs_hz: float
    bw_n: float | None = None
    mass_kg: float | None = None
    movement: str | None = None
    is_jump: bool = False
    integration_start_index: int | None = None
    onset_index: float | None = None
    unweighting_end_index: float | None = None
    braking_end_index: float | None = None
    propulsion_start_index: float | None = None
    drive_end_index: float | None = None
    propulsion_end_index: float | None = None
    takeoff_index: float | None = None
    landing_index: float | None = None
    landing_end_index: float | None = None
    peak_landing_index: int | None = None
    landing_search_end_index: int | None = None
    flags: tuple[str, ...] = ()

    @property
    def times_s(self) -> dict[str, float | None]:
        """Every boundary as a time in s from the first sample, keyed without ``_index``."""
        names = (
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
        out: dict[str, float | None] = {}
        for name in names:
            idx = getattr(self, f"{name}_index")
            out[name] = None if idx is None else float(idx) / self.fs_hz
        return out

    @property
    def flight_time_s(self) -> float | None:
        if self.takeoff_index is None or self.landing_index is None:
            return None
        return (self.landing_index - self.takeoff_index) / self.fs_hz


@dataclass(frozen=True)
class JumpMetrics:
    """Metrics of one jump (units in the names; ``_n_per_kg`` = N per kg of the mass on the plates).

    ``rsi_modified`` = ``jump_height_impulse_m`` / ``time_to_takeoff_s`` (m/s), the impulse–momentum
    height as ForceDecks and Hawkin Dynamics use. ``countermovement_depth_m`` is the lowest CoM
    displacement, negative (m below standing). RFDs are from the start of propulsion for a
    countermovement jump and from the onset for a squat jump. ``heights_disagree``: both heights
    exist and differ by more than ``max_disagreement_m``.
    """

    jump_height_flight_m: float | None = None
    jump_height_impulse_m: float | None = None
    takeoff_velocity_m_s: float | None = None
    flight_time_s: float | None = None
    time_to_takeoff_s: float | None = None
    rsi_modified: float | None = None
    countermovement_depth_m: float | None = None
    min_velocity_m_s: float | None = None
    unweighting_duration_s: float | None = None
    braking_duration_s: float | None = None
    propulsion_duration_s: float | None = None
    braking_impulse_n_s: float | None = None
    propulsive_impulse_n_s: float | None = None
    mean_braking_force_n: float | None = None
    mean_propulsive_force_n: float | None = None
    braking_rfd_n_per_s: float | None = None
    peak_propulsive_force_n: float | None = None
    peak_landing_force_n: float | None = None
    peak_power_w: float | None = None
    mean_propulsive_power_w: float | None = None
    peak_power_w_per_kg: float | None = None
    mean_braking_force_n_per_kg: float | None = None
    mean_propulsive_force_n_per_kg: float | None = None
    peak_propulsive_force_n_per_kg: float | None = None
    peak_landing_force_n_per_kg: float | None = None
    rfd_0_50_n_per_s: float | None = None
    rfd_0_100_n_per_s: float | None = None
    rfd_0_200_n_per_s: float | None = None
    peak_rfd_n_per_s: float | None = None
    heights_disagree: bool | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiftMetrics:
    """Metrics of one lift without flight (back squat, push press, bench leg drive).

    The propulsive impulse, mean propulsive force and mean propulsive power are over the drive
    (v = 0 to the velocity peak; for a drive without CoM velocity, onset to the force back at BW).
    Peak propulsive force and peak power are over the whole propulsion (to the rep end). RFDs are
    from the start of propulsion after a countermovement and from the onset for a movement from rest.
    """

    countermovement_depth_m: float | None = None
    min_velocity_m_s: float | None = None
    peak_velocity_m_s: float | None = None
    unweighting_duration_s: float | None = None
    braking_duration_s: float | None = None
    drive_duration_s: float | None = None
    propulsion_duration_s: float | None = None
    braking_impulse_n_s: float | None = None
    propulsive_impulse_n_s: float | None = None
    mean_braking_force_n: float | None = None
    mean_propulsive_force_n: float | None = None
    braking_rfd_n_per_s: float | None = None
    peak_propulsive_force_n: float | None = None
    peak_power_w: float | None = None
    mean_propulsive_power_w: float | None = None
    peak_power_w_per_kg: float | None = None
    mean_braking_force_n_per_kg: float | None = None
    mean_propulsive_force_n_per_kg: float | None = None
    peak_propulsive_force_n_per_kg: float | None = None
    rfd_0_50_n_per_s: float | None = None
    rfd_0_100_n_per_s: float | None = None
    rfd_0_200_n_per_s: float | None = None
    peak_rfd_n_per_s: float | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class SideAsymmetry:
    """One bilateral metric: per-plate values (each net of its own quiet load) and Bishop's index.

    Attributes:
        left, right: per-plate value (N·s or N).
        asymmetry_pct: (stronger − weaker)/stronger·100, %.
        stronger: "left", "right", or None when both are equal.
    """

    left: float
    right: float
    asymmetry_pct: float
    stronger: str | None


@dataclass(frozen=True)
class Asymmetry:
    """Left/right asymmetry per phase (None where the phase is absent or both sides are ~0)."""

    braking_impulse: SideAsymmetry | None = None
    propulsive_impulse: SideAsymmetry | None = None
    peak_propulsive_force: SideAsymmetry | None = None
    peak_landing_force: SideAsymmetry | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class JumpAnalysis:
    """One jump of a recording: its weighing, phases and metrics."""

    weighing: Weighing
    phases: Phases
    metrics: JumpMetrics


# --- weighing ----------------------------------------------------------------------------


@_quiet_floats
def weighing(
    fz_n: np.ndarray,
    fs_hz: float,
    end_index: int,
    window_s: float = 1.0,
    *,
    min_load_n: float = 200.0,
    max_sd_share: float = 0.02,
    flight_threshold_n: float = 20.0,
) -> Weighing:
    """Body weight = mean of the ``window_s`` seconds of force ending at ``end_index`` (exclusive).

    Plausibility: the window must fit in the data ("too_short"), carry a load — mean ≥
    ``min_load_n`` and no sample below ``flight_threshold_n`` ("plate_unloaded") — and be steady:
    SD ≤ ``max_sd_share`` × mean ("no_quiet_standing"). The steadiness bound is relative because
    sway scales with the load; 2 % of BW lets 1–2 N of plate noise and normal sway through (quiet
    standing reads 0.2–0.5 % of BW) and rejects a window that holds a slow movement (a 1 s slow
    dip moves the force by tens of % of BW).

    Args:
        fz_n: vertical force, N (1-D).
        fs_hz: sampling rate, Hz.
        end_index: first sample after the window (typically the movement's departure).
        window_s: window length, s.
        min_load_n: smallest mean load that counts as someone on the plate, N.
        max_sd_share: largest SD as a share of the mean.
        flight_threshold_n: a sample below this is an unloaded plate, N.
    """
    f = _as_1d(fz_n)
    _check_rate(fs_hz)
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    return _weighing(f, max(2, round(window_s * fs_hz)), end_index, min_load_n, max_sd_share, flight_threshold_n)


def _weighing(
    f: np.ndarray, w: int, end_index: int, min_load_n: float, max_sd_share: float, flight_threshold_n: float
) -> Weighing:
    """``weighing`` over a window of ``w`` samples, its arguments already checked."""
    end = min(int(end_index), f.size)
    start = end - w
    if start < 0:
        return Weighing(None, None, None, None, "too_short")
    seg = f[start:end]
    if not np.isfinite(seg).all():
        return Weighing(None, None, start, end, "non_finite_force")
    mean, sd = mean_sd(seg, ddof=1)
    if mean < min_load_n or float(seg.min()) < flight_threshold_n:
        return Weighing(None, None, start, end, "plate_unloaded")
    if sd > max_sd_share * mean:
        return Weighing(None, None, start, end, "no_quiet_standing")
    return Weighing(mean, sd, start, end)


def push_start(fz_n: np.ndarray, fs_hz: float, search_index: int, *, rest_s: float = 0.15,
               max_rest_sd_share: float = 0.01) -> float | None:
    """Where a push from a held position starts (a jump from a pause): the hold is weighed over the
    ``rest_s`` before ``search_index`` (``weighing``, its SD at most ``max_rest_sd_share`` of the
    load: a hold, not a movement), and the force's rise out of it located by
    ``kinesync.dsp.rest_exit.force_leaves_rest``. A fractional sample index, or None when there is no
    quiet hold or no rise."""
    hold = weighing(fz_n, fs_hz, search_index, rest_s, max_sd_share=max_rest_sd_share)
    if hold.bw_n is None or hold.sd_n is None:
        return None
    return force_leaves_rest(_as_1d(fz_n), fs_hz, search_index, hold.bw_n, hold.sd_n)


@_quiet_floats
def find_weighing(
    fz_n: np.ndarray,
    fs_hz: float,
    search_end_index: int | None = None,
    *,
    search_start_index: int = 0,
    window_s: float = 1.0,
    reference_bw_n: float | None = None,
    max_bw_change_share: float = 0.05,
    k_sd: float = 5.0,
    min_threshold_n: float = 1.0,
    min_load_n: float = 200.0,
    max_sd_share: float = 0.02,
    flight_threshold_n: float = 20.0,
) -> Weighing:
    """The weighing of the movement that starts before ``search_end_index`` (e.g. its take-off).

    A steady window is quiet only if its force equals body weight: a held force above BW (an
    athlete accelerating steadily) is steady too. So a window counts when it passes ``weighing``'s
    rules and its mean lies within ``max_bw_change_share`` of ``reference_bw_n`` — by default the
    first such window of the search range (the quiet standing at the start of a trial). Of the last
    run of such windows before ``search_end_index`` the steadiest gives a first BW and SD; the
    movement's departure is then found as in ``segment_phases`` and the weighing moved to end
    there (contiguous with the movement), repeated until it no longer moves. A squat jump's still
    hold in the squat (F = BW) is such a quiet period.

    Returns a ``Weighing`` whose ``end_index`` is the movement's first sample beyond the 5 SD band
    (pass it to ``segment_phases`` as ``onset_index``), or one with a reason.
    """
    f = _as_1d(fz_n)
    _check_rate(fs_hz)
    if window_s <= 0:
        raise ValueError(f"window_s must be positive, got {window_s}")
    w = max(2, round(window_s * fs_hz))
    lo = max(0, int(search_start_index))
    hi = f.size if search_end_index is None else min(f.size, int(search_end_index))
    if hi - lo < w:
        return Weighing(None, None, None, None, "too_short")
    seg = f[lo:hi]
    # The extremes tell whether any sample is non-finite (a NaN or an infinity makes one of them
    # so) or below the flight threshold; usually none is, and the masks are not needed.
    seg_min, seg_max = float(seg.min()), float(seg.max())
    if math.isfinite(seg_min) and math.isfinite(seg_max):
        clean = seg
        low_mask = seg < flight_threshold_n if seg_min < flight_threshold_n else None
    else:
        finite = np.isfinite(seg)
        clean = np.where(finite, seg, 0.0)
        low_mask = ~finite | (clean < flight_threshold_n)
    centre = float(np.add.reduce(clean) / clean.size)  # clean.mean(): the sum over the count, without its wrapper
    # Window sums as differences of the running sums of the deviations and of their squares (0 before
    # the first sample): the two running sums are most of this function's arithmetic, made in one pass.
    dev = clean - centre
    c1, c2 = cumsum_pair(dev, dev * dev, leading_zero=True)
    s1 = c1[w:] - c1[:-w]
    mean = s1 / w
    mean += centre
    var = c2[w:] - c2[:-w]
    sq = s1 * s1
    sq /= w
    var -= sq
    var /= w - 1
    np.maximum(var, 0.0, out=var)
    loaded = mean >= min_load_n
    if low_mask is not None:  # else no window holds an unloaded or non-finite sample
        low = np.empty(low_mask.size + 1, dtype=np.intp)
        low[0] = 0
        np.cumsum(low_mask, out=low[1:])
        loaded &= low[w:] == low[:-w]
    plausible = loaded & (np.sqrt(var) <= max_sd_share * mean)
    if not plausible.any():
        return Weighing(None, None, None, None, "no_quiet_standing" if loaded.any() else "plate_unloaded")
    k_first = int(np.argmax(plausible))
    ref = float(mean[k_first]) if reference_bw_n is None else float(reference_bw_n)
    consistent = plausible & (np.abs(mean - ref) <= max_bw_change_share * ref)
    if search_end_index is None:
        # Without an end, the movement is the first clear excursion after the first quiet window:
        # the quiet standing after it belongs to no later movement.
        threshold = max(k_sd * math.sqrt(var[k_first]), min_threshold_n)
        far = np.flatnonzero(np.abs(seg[k_first:] - ref) > max(4.0 * threshold, 0.02 * ref))
        if far.size:
            consistent[max(0, k_first + int(far[0]) - w + 1) :] = False
            if not consistent.any():
                return Weighing(None, None, None, None, "no_quiet_standing")
    if not consistent.any():
        return Weighing(None, None, None, None, "no_quiet_standing")
    last = int(np.flatnonzero(consistent)[-1])
    gaps = np.flatnonzero(~consistent[: last + 1])
    first = int(gaps[-1]) + 1 if gaps.size else 0
    k = first + int(np.argmin(var[first : last + 1]))
    best = Weighing(float(mean[k]), float(math.sqrt(var[k])), lo + k, lo + k + w)
    for _ in range(8):
        c = _departure(f, fs_hz, best.bw_n, best.sd_n, best.end_index, k_sd, min_threshold_n)
        if c is None or c == best.end_index or c - w < lo:
            break
        moved = _weighing(f, w, c, min_load_n, max_sd_share, flight_threshold_n)
        if not moved.ok or abs(moved.bw_n - ref) > max_bw_change_share * ref:
            break
        best = moved
    return best


def plate_loads(left_n: np.ndarray, right_n: np.ndarray, weighing_: Weighing) -> tuple[float, float] | None:
    """Each plate's quiet-standing load (N): its mean over the weighing window; None without one."""
    lf, rf = _as_1d(left_n), _as_1d(right_n)
    if not weighing_.ok or weighing_.end_index > min(lf.size, rf.size):
        return None
    left, right = lf[weighing_.start_index : weighing_.end_index], rf[weighing_.start_index : weighing_.end_index]
    # The means as ndarray.mean computes them (the sum over the count), without its wrapper.
    return float(np.add.reduce(left) / left.size), float(np.add.reduce(right) / right.size)


# --- phases ------------------------------------------------------------------------------


@_quiet_floats
def segment_phases(
    fz_n: np.ndarray,
    fs_hz: float,
    bw_n: float | None,
    sd_n: float | None,
    onset_index: float,
    *,
    k_sd: float = 5.0,
    min_threshold_n: float = 1.0,
    backdate_s: float = 0.030,
    flight_threshold_n: float = 20.0,
    min_flight_s: float = 0.100,
    max_flight_s: float = 1.5,
    movement: str = "auto",
    com_on_plate: bool = True,
    end_velocity_m_s: float = 0.02,
    settle_s: float = 0.100,
    landing_window_s: float = 0.5,
    max_force_n: float = 1e6,
    g_m_s2: float = STANDARD_GRAVITY_M_S2,
) -> Phases:
    """Phases of the first movement at or after ``onset_index`` (McMahon et al. 2018).

    Args:
        fz_n: total vertical force, N (1-D; unfiltered or low-passed at ≥ 100 Hz).
        fs_hz: sampling rate, Hz.
        bw_n, sd_n: body weight and its SD from the weighing, N. None: only the flight is found
            (flag "no_body_weight").
        onset_index: where the search for the departure from BW starts — normally
            ``Weighing.end_index`` (the sample before it is taken as quiet). The onset reported is
            the departure, interpolated to the crossing of BW ± threshold and back-dated, and may
            lie before ``onset_index``.
        k_sd, min_threshold_n: departure threshold = max(k_sd·SD, min_threshold_n), N (the floor
            keeps a noise-free or quantised signal, SD ≈ 0, from calling every rounding an onset).
        backdate_s: the onset is moved this much earlier, s (Owen et al. 2014: 30 ms).
        flight_threshold_n, min_flight_s: a flight is F < threshold (N) for ≥ min_flight_s (s).
        max_flight_s: a longer unloaded stretch is someone stepping off (flag "plate_unloaded").
        movement: "auto" (a first departure below BW is a countermovement, above it a movement
            from rest), "countermovement" or "from_rest".
        com_on_plate: the plates carry the whole body (False for a bench leg drive: no CoM velocity,
            the drive ends when the force settles back to BW).
        end_velocity_m_s: a lift's rep end: v falls back to this after its peak, m/s. A smooth rep
            approaches v = 0 tangentially, so the exact zero is ill-conditioned; a small positive
            level is found to a few ms.
        settle_s: the force back within the band for this long ends a drive without CoM velocity, s.
        landing_window_s: the peak landing force is searched this long after touchdown, s.
        max_force_n: a sample beyond this is no force a plate measures (a corrupted record), N.
        g_m_s2: gravitational acceleration, m/s².

    Velocity v = ∫(F − BW)/m dt (trapezoid rule) starts at 0 at the sample before the onset.
    """
    f = _as_1d(fz_n)
    _check_rate(fs_hz)
    if movement not in MOVEMENTS:
        raise ValueError(f"movement must be one of {MOVEMENTS}, got {movement!r}")
    if min(k_sd, min_threshold_n, backdate_s, min_flight_s, settle_s, landing_window_s) < 0:
        raise ValueError("thresholds and durations must not be negative")
    empty = Phases(fs_hz=float(fs_hz))
    if f.size < 3:
        return _with(empty, flags=("too_short",))
    # The extremes answer both checks: a NaN or an infinity makes one of them non-finite, and
    # max |f| is the larger of max f and −min f.
    f_min, f_max = float(f.min()), float(f.max())
    if not (math.isfinite(f_min) and math.isfinite(f_max)):
        return _with(empty, flags=("non_finite_force",))
    if max(f_max, -f_min) > max_force_n:
        return _with(empty, flags=("implausible_force",))
    start = int(min(max(0, math.floor(onset_index)), f.size))
    # Most movements never unload the plate (a lift): no run to look for.
    unloaded = (
        _runs(f < flight_threshold_n, max(1, math.ceil(min_flight_s * fs_hz - 1e-9)))
        if f_min < flight_threshold_n
        else []
    )
    # An unloaded stretch that is too long for a flight, or that the record ends in, is someone
    # off the plate: the movement's data end there.
    long_off = [a for a, b in unloaded if a >= start and (b - a) / fs_hz > max_flight_s]
    cut_off = [a for a, b in unloaded if a >= start and b >= f.size]
    limit = min([*long_off, *cut_off, f.size])
    flights = [(a, b) for a, b in unloaded if max(start, 1) <= a < limit and b < f.size]
    flags: list[str] = []
    if long_off and min(long_off) == limit:
        flags.append("plate_unloaded")
    elif cut_off and min(cut_off) == limit:
        flags.append("ends_unloaded")
    flight = flights[0] if flights else None
    base = _with(empty, flags=tuple(flags))
    if flight is not None:
        k_to, k_land = flight
        base = _with(
            base,
            is_jump=True,
            takeoff_index=_crossing(f, k_to, flight_threshold_n),
            landing_index=_crossing(f, k_land, flight_threshold_n),
        )
        base = _landing_peak(f, fs_hz, base, k_land, flights, limit, landing_window_s)
    bw_ok = bw_n is not None and math.isfinite(bw_n) and bw_n > 0
    if not bw_ok:
        return _with(base, flags=(*base.flags, "no_body_weight"))
    sd = float(sd_n) if sd_n is not None and math.isfinite(sd_n) and sd_n >= 0 else 0.0
    c = _departure(f, fs_hz, bw_n, sd, start, k_sd, min_threshold_n, limit=flight[0] if flight else limit)
    if c is None:
        return _with(base, bw_n=float(bw_n), flags=(*base.flags, "no_onset"))
    threshold = max(k_sd * sd, min_threshold_n)
    below = f[c] < bw_n
    crossing = _crossing(f, c, bw_n - threshold if below else bw_n + threshold) if c > 0 else 0.0
    onset = max(0.0, crossing - backdate_s * fs_hz)
    kind = ("countermovement" if below else "from_rest") if movement == "auto" else movement
    if movement != "auto" and below != (movement == "countermovement"):
        flags.append("unexpected_first_direction")
    ph = _with(base, bw_n=float(bw_n), movement=kind, onset_index=onset)
    end = flight[0] if flight else limit  # the take-off sample, or the end of the usable data
    if not com_on_plate:
        return _drive_without_com(f, fs_hz, ph, c, bw_n, threshold, settle_s, end, flags)
    mass = bw_n / g_m_s2
    i0 = max(0, math.floor(onset))
    net = np.zeros(f.size)
    net[i0:] = f[i0:] - bw_n
    vel = _divide_from(_cumulative(net, fs_hz, i0), mass, i0)
    ph = _with(ph, mass_kg=mass, integration_start_index=i0)
    if kind == "countermovement":
        j_min = i0 + int(np.argmin(vel[i0:end]))
        # Below ~1 cm/s the "countermovement" is sway: treat the movement as one from rest.
        if vel[j_min] > -0.01:
            flags.append("no_countermovement")
            prop_start = onset
        else:
            zero = _first_level_crossing(vel, j_min, end, 0.0, rising=True)
            if zero is None:
                flags.append("no_braking_end")
                return _with(ph, unweighting_end_index=_refine_bw_crossing(f, bw_n, j_min, True), flags=tuple(flags))
            ph = _with(ph, unweighting_end_index=_refine_bw_crossing(f, bw_n, j_min, True), braking_end_index=zero)
            prop_start = zero
    else:
        prop_start = onset
    ph = _with(ph, propulsion_start_index=prop_start)
    if flight is not None:
        ph = _with(ph, drive_end_index=ph.takeoff_index, propulsion_end_index=ph.takeoff_index)
        k_land = flight[1]
        next_off = next((a for a, _ in flights if a > k_land), limit)
        land_end = _first_level_crossing(vel, k_land, next_off, 0.0, rising=True)
        if land_end is None:
            flags.append("no_landing_end")
        return _with(ph, landing_end_index=land_end, flags=tuple(flags))
    s = min(math.ceil(prop_start), end - 1)
    up = vel[s:end] > end_velocity_m_s
    first_up = int(up.argmax()) if up.size else 0
    if not up.size or not up[first_up]:
        flags.append("no_propulsion")
        return _with(ph, flags=tuple(flags))
    rep_end = _first_level_crossing(vel, s + first_up, end, end_velocity_m_s, rising=False)
    if rep_end is None:
        flags.append("no_rep_end")
        stop = end - 1
    else:
        stop = math.ceil(rep_end)
    j_pk = s + int(np.argmax(vel[s : stop + 1]))
    drive_end = _refine_bw_crossing(f, bw_n, j_pk, False)
    return _with(
        ph,
        drive_end_index=drive_end,
        propulsion_end_index=rep_end if rep_end is not None else float(end - 1),
        flags=tuple(flags),
    )


def _landing_peak(
    f: np.ndarray,
    fs_hz: float,
    ph: Phases,
    k_land: int,
    flights: list[tuple[int, int]],
    limit: int,
    landing_window_s: float,
) -> Phases:
    next_off = next((a for a, _ in flights if a > k_land), limit)
    stop = min(k_land + max(1, round(landing_window_s * fs_hz)), next_off, f.size)
    if stop <= k_land:
        return ph
    peak = k_land + int(np.argmax(f[k_land:stop]))
    return _with(ph, peak_landing_index=peak, landing_search_end_index=stop - 1)


def _drive_without_com(
    f: np.ndarray,
    fs_hz: float,
    ph: Phases,
    c: int,
    bw_n: float,
    threshold: float,
    settle_s: float,
    end: int,
    flags: list[str],
) -> Phases:
    """A drive measured without CoM velocity (bench leg drive): onset to the force settling at BW."""
    flags.append("no_com_velocity")
    ph = _with(ph, propulsion_start_index=ph.onset_index)
    inside = np.abs(f[c:end] - bw_n) <= threshold
    settled = _runs(inside, max(1, math.ceil(settle_s * fs_hz - 1e-9)))
    if not settled:
        flags.append("no_rep_end")
        return _with(ph, flags=tuple(flags))
    k = c + settled[0][0]
    level = bw_n + threshold if f[k - 1] > bw_n else bw_n - threshold
    back = _crossing(f, k, level)
    return _with(ph, drive_end_index=back, propulsion_end_index=back, flags=tuple(flags))


# --- metrics -----------------------------------------------------------------------------


@_quiet_floats
def jump_metrics(
    fz_n: np.ndarray,
    fs_hz: float,
    phases: Phases,
    *,
    rfd_spans_s: tuple[float, float, float] = RFD_SPANS_S,
    peak_rfd_window_s: float = 0.020,
    peak_rfd_search_s: float = 0.200,
    max_disagreement_m: float = 0.02,
    g_m_s2: float = STANDARD_GRAVITY_M_S2,
) -> JumpMetrics:
    """Jump metrics from ``segment_phases`` on the same force (see ``JumpMetrics``).

    Flight-time height h = g·t²/8 (Linthorne 2001); impulse–momentum height v0²/(2g) with v0 the
    CoM velocity at the take-off crossing. Braking RFD = (F at v = 0 − F at the velocity minimum) /
    braking duration: ForceDecks' "Eccentric Deceleration RFD" as we remember their public glossary
    (average rate of force development over the eccentric deceleration phase, which ends at v = 0;
    whether their phase starts at the velocity minimum or at the force minimum we have not
    verified) and Hawkin Dynamics' "Braking RFD" (braking phase from the velocity minimum to v = 0).
    """
    f = _as_1d(fz_n)
    _check_rate(fs_hz)
    ph = phases
    flags = list(ph.flags)
    out: dict[str, object] = {}
    if not ph.is_jump:
        return JumpMetrics(flags=(*flags, "no_flight"))
    flight = ph.flight_time_s
    out["flight_time_s"] = flight
    out["jump_height_flight_m"] = g_m_s2 * flight * flight / 8.0
    if ph.peak_landing_index is not None:
        out["peak_landing_force_n"] = float(f[ph.peak_landing_index])
    k = _Kinematics.of(f, fs_hz, ph)
    if k is not None and ph.onset_index is not None:
        v0 = k.velocity_at(ph.takeoff_index)
        out["takeoff_velocity_m_s"] = v0
        out["time_to_takeoff_s"] = (ph.takeoff_index - ph.onset_index) / fs_hz
        if v0 > 0:
            h = v0 * v0 / (2.0 * g_m_s2)
            out["jump_height_impulse_m"] = h
            out["rsi_modified"] = h / out["time_to_takeoff_s"] if out["time_to_takeoff_s"] > 0 else None
            out["heights_disagree"] = abs(h - out["jump_height_flight_m"]) > max_disagreement_m
            if out["heights_disagree"]:
                flags.append("jump_heights_disagree")
        else:
            flags.append("no_takeoff_velocity")
        out |= _phase_metrics(f, fs_hz, ph, k, rfd_spans_s, peak_rfd_window_s, peak_rfd_search_s)
        if ph.mass_kg and "peak_landing_force_n" in out:
            out["peak_landing_force_n_per_kg"] = out["peak_landing_force_n"] / ph.mass_kg
    return JumpMetrics(**out, flags=tuple(dict.fromkeys(flags)))


@_quiet_floats
def lift_metrics(
    fz_n: np.ndarray,
    fs_hz: float,
    phases: Phases,
    *,
    rfd_spans_s: tuple[float, float, float] = RFD_SPANS_S,
    peak_rfd_window_s: float = 0.020,
    peak_rfd_search_s: float = 0.200,
) -> LiftMetrics:
    """Lift metrics from ``segment_phases`` on the same force (see ``LiftMetrics``; braking RFD as
    in ``jump_metrics``)."""
    f = _as_1d(fz_n)
    _check_rate(fs_hz)
    ph = phases
    flags = list(ph.flags)
    if ph.is_jump:
        flags.append("flight_in_lift")
    if ph.onset_index is None or ph.propulsion_start_index is None:
        return LiftMetrics(flags=tuple(dict.fromkeys(flags)))
    k = _Kinematics.of(f, fs_hz, ph)
    out = _phase_metrics(f, fs_hz, ph, k, rfd_spans_s, peak_rfd_window_s, peak_rfd_search_s)
    if k is not None and ph.drive_end_index is not None:
        out["peak_velocity_m_s"] = k.velocity_at(ph.drive_end_index)
    if ph.drive_end_index is not None:
        out["drive_duration_s"] = (ph.drive_end_index - ph.propulsion_start_index) / fs_hz
    return LiftMetrics(**out, flags=tuple(dict.fromkeys(flags)))


class _Kinematics:
    """CoM velocity and displacement of one movement, from the same integration as ``segment_phases``.

    Only the first ``stop`` samples are integrated: the metrics read nothing after the last phase
    boundary, and a running sum's first values do not depend on where it stops.
    """

    def __init__(
        self, f: np.ndarray, fs_hz: float, bw_n: float, mass_kg: float, i0: int, stop: int | None = None
    ) -> None:
        n = f.size if stop is None or i0 < 0 else stop
        self.f, self.fs, self.bw, self.mass, self.i0 = f, fs_hz, bw_n, mass_kg, i0
        self.net = np.zeros(n)
        self.net[i0:] = f[i0:n] - bw_n
        # Both integrands are +0.0 before i0 (net by construction, vel = 0 / mass there).
        self.impulse = _cumulative(self.net, fs_hz, i0)  # ∫(F − BW) dt, N·s
        self.vel = _divide_from(self.impulse, mass_kg, i0)

    @classmethod
    def of(cls, f: np.ndarray, fs_hz: float, ph: Phases) -> _Kinematics | None:
        if ph.mass_kg is None or ph.bw_n is None or ph.integration_start_index is None:
            return None
        ends = (ph.unweighting_end_index, ph.braking_end_index, ph.propulsion_start_index, ph.drive_end_index,
                ph.propulsion_end_index, ph.takeoff_index)
        stop = max((_upto(x, f.size) for x in ends if x is not None), default=0)
        return cls(f, fs_hz, ph.bw_n, ph.mass_kg, ph.integration_start_index, stop)

    def impulse_between(self, a: float, b: float) -> float:
        return _cumulative_at(self.impulse, self.net, b, self.fs) - _cumulative_at(self.impulse, self.net, a, self.fs)

    def velocity_at(self, x: float) -> float:
        return _cumulative_at(self.impulse, self.net, x, self.fs) / self.mass

    def position_at(self, x: float) -> float:
        n = _upto(x, self.vel.size)
        pos = _cumulative(self.vel[:n], self.fs, self.i0 if self.mass > 0 else 0)
        return float(np.interp(x, _grid(self.f.size)[:n], pos))


def _phase_metrics(
    f: np.ndarray,
    fs_hz: float,
    ph: Phases,
    k: _Kinematics | None,
    spans: tuple[float, float, float],
    peak_window_s: float,
    peak_search_s: float,
) -> dict[str, object]:
    out: dict[str, object] = {}
    m = ph.mass_kg
    bw = ph.bw_n
    per_kg = (lambda x: x / m) if m else (lambda x: None)
    force_at = lambda x: float(np.interp(x, _grid(f.size), f))  # noqa: E731
    if ph.unweighting_end_index is not None and ph.onset_index is not None:
        out["unweighting_duration_s"] = (ph.unweighting_end_index - ph.onset_index) / fs_hz
    if k is not None and ph.unweighting_end_index is not None:
        out["min_velocity_m_s"] = k.velocity_at(ph.unweighting_end_index)
    if k is not None and ph.braking_end_index is not None and ph.unweighting_end_index is not None:
        a, b = ph.unweighting_end_index, ph.braking_end_index
        duration = (b - a) / fs_hz
        out["countermovement_depth_m"] = k.position_at(b)
        out["braking_duration_s"] = duration
        if duration > 0:
            j = k.impulse_between(a, b)
            out["braking_impulse_n_s"] = j
            out["mean_braking_force_n"] = bw + j / duration
            out["mean_braking_force_n_per_kg"] = per_kg(bw + j / duration)
            out["braking_rfd_n_per_s"] = (force_at(b) - force_at(a)) / duration
    a = ph.propulsion_start_index
    if a is None:
        return out  # a jump whose braking never ends (no_braking_end): nothing below has a start
    if ph.propulsion_end_index is not None:
        out["propulsion_duration_s"] = (ph.propulsion_end_index - a) / fs_hz
        lo, hi = max(0, math.ceil(a)), min(f.size - 1, math.floor(ph.propulsion_end_index))
        if hi >= lo:
            peak = peak_force(f, lo, hi)
            out["peak_propulsive_force_n"] = peak
            out["peak_propulsive_force_n_per_kg"] = per_kg(peak)
            if k is not None:
                power = f[lo : hi + 1] * k.vel[lo : hi + 1]
                out["peak_power_w"] = float(power.max())
                out["peak_power_w_per_kg"] = per_kg(float(power.max()))
    if ph.drive_end_index is not None and ph.drive_end_index > a:
        b = ph.drive_end_index
        duration = (b - a) / fs_hz
        n = _upto(b, f.size)
        if k is not None:
            j = k.impulse_between(a, b)
            power, zero_before = _power(f[:n], k.vel[:n], k.i0, k.mass)
            cum = _cumulative(power, fs_hz, zero_before)
            work = _cumulative_at(cum, power, b, fs_hz) - _cumulative_at(cum, power, a, fs_hz)
            out["mean_propulsive_power_w"] = work / duration
        else:
            net = f[:n] - bw
            cum = _cumulative(net, fs_hz)
            j = _cumulative_at(cum, net, b, fs_hz) - _cumulative_at(cum, net, a, fs_hz)
        out["propulsive_impulse_n_s"] = j
        out["mean_propulsive_force_n"] = bw + j / duration
        out["mean_propulsive_force_n_per_kg"] = per_kg(bw + j / duration)
    rfd_start = ph.propulsion_start_index
    for span, value in zip(spans, rfds(f, fs_hz, rfd_start, spans), strict=True):
        out[f"rfd_0_{round(span * 1000)}_n_per_s"] = value
    out["peak_rfd_n_per_s"] = peak_rfd(f, fs_hz, rfd_start, peak_window_s, peak_search_s)
    return out


# --- asymmetry ---------------------------------------------------------------------------


@_quiet_floats
def asymmetry(
    left_n: np.ndarray,
    right_n: np.ndarray,
    fs_hz: float,
    phases: Phases,
    left_bw_n: float,
    right_bw_n: float,
    *,
    zero_impulse_n_s: float = 0.5,
    zero_force_n: float = 10.0,
) -> Asymmetry:
    """Left/right asymmetry per phase (Bishop et al. 2018): (stronger − weaker)/stronger·100, %.

    Each plate is taken net of its own quiet-standing load (``left_bw_n``, ``right_bw_n``: the mean
    of each plate over the weighing window), so a stance that loads one foot more is not counted as
    asymmetry of the movement. Metrics: braking impulse (velocity minimum to v = 0), propulsive
    impulse (the drive window), peak propulsive force (to take-off or rep end) and peak landing
    force (within the landing window), each per plate. None when the phase is absent, when both
    plates are below ``zero_impulse_n_s`` / ``zero_force_n`` (nothing to compare; the force bound
    stays above a few SD of plate noise), or when the stronger value is not positive.

    Args:
        left_n, right_n: vertical force of each plate, N, on the time base of ``phases``.
        fs_hz: sampling rate, Hz.
        phases: from ``segment_phases`` on left + right.
        left_bw_n, right_bw_n: each plate's quiet-standing load, N.
    """
    lf, rf = _as_1d(left_n), _as_1d(right_n)
    _check_rate(fs_hz)
    if lf.size != rf.size:
        raise ValueError(f"left and right must have the same length, got {lf.size} and {rf.size}")
    flags: list[str] = []
    if not (np.isfinite(lf).all() and np.isfinite(rf).all()):
        return Asymmetry(flags=("non_finite_force",))
    if not (math.isfinite(left_bw_n) and math.isfinite(right_bw_n)):
        return Asymmetry(flags=("no_body_weight",))
    ln, rn = lf - left_bw_n, rf - right_bw_n
    ph = phases
    n = lf.size
    # The impulses read the running integrals up to the later window's end only.
    ends = [b for a, b in ((ph.unweighting_end_index, ph.braking_end_index),
                           (ph.propulsion_start_index, ph.drive_end_index)) if a is not None and b is not None]
    stop = max((_upto(b, n) for b in ends), default=0)
    lt, rt = ln[:stop], rn[:stop]
    lc, rc = _cumulative_pair(lt, rt, fs_hz)

    def impulse(a: float | None, b: float | None) -> SideAsymmetry | None:
        if a is None or b is None or not 0 <= a < b <= n - 1:
            return None
        jl = _cumulative_at(lc, lt, b, fs_hz) - _cumulative_at(lc, lt, a, fs_hz)
        jr = _cumulative_at(rc, rt, b, fs_hz) - _cumulative_at(rc, rt, a, fs_hz)
        return _bishop(jl, jr, zero_impulse_n_s, flags)

    def peak(a: float | None, b: float | None) -> SideAsymmetry | None:
        if a is None or b is None:
            return None
        lo, hi = max(0, math.ceil(a)), min(n - 1, math.floor(b))
        if hi < lo:
            return None
        return _bishop(peak_force(ln, lo, hi), peak_force(rn, lo, hi), zero_force_n, flags)

    landing_end = ph.landing_search_end_index
    return Asymmetry(
        braking_impulse=impulse(ph.unweighting_end_index, ph.braking_end_index),
        propulsive_impulse=impulse(ph.propulsion_start_index, ph.drive_end_index),
        peak_propulsive_force=peak(ph.propulsion_start_index, ph.propulsion_end_index),
        peak_landing_force=peak(ph.landing_index, landing_end),
        flags=tuple(dict.fromkeys(flags)),
    )


def _bishop(left: float, right: float, zero: float, flags: list[str]) -> SideAsymmetry | None:
    if max(abs(left), abs(right)) <= zero:
        return None
    stronger = max(left, right)
    if stronger <= 0:
        flags.append("negative_values")
        return None
    side = None if left == right else ("left" if left > right else "right")
    return SideAsymmetry(left, right, (stronger - min(left, right)) / stronger * 100.0, side)


# --- whole recordings --------------------------------------------------------------------


@_quiet_floats
def analyze_jumps(
    fz_n: np.ndarray,
    fs_hz: float,
    *,
    window_s: float = 1.0,
    flight_threshold_n: float = 20.0,
    min_flight_s: float = 0.100,
    max_flight_s: float = 1.5,
    max_bw_change_share: float = 0.05,
    g_m_s2: float = STANDARD_GRAVITY_M_S2,
) -> list[JumpAnalysis]:
    """Every jump of a recording: weighing, phases and metrics per flight.

    Each jump's weighing is searched between the previous landing and its take-off (``find_weighing``)
    and must agree with the recording's first weighing within ``max_bw_change_share``: between
    jumps the athlete must stand still again. A jump without such quiet standing keeps its flight
    metrics (flight time, flight-time height, peak landing force) and gets the weighing's reason
    as a flag; its other metrics are None, since v = 0 at the start cannot be assumed.
    """
    f = _as_1d(fz_n)
    _check_rate(fs_hz)
    if f.size < 3 or not np.isfinite(f).all():
        return []
    runs = _runs(f < flight_threshold_n, max(1, math.ceil(min_flight_s * fs_hz - 1e-9)))
    runs = [(a, b) for a, b in runs if a > 0 and b < f.size and (b - a) / fs_hz <= max_flight_s]
    out: list[JumpAnalysis] = []
    reference: float | None = None
    previous = 0
    common = {"flight_threshold_n": flight_threshold_n, "min_flight_s": min_flight_s, "max_flight_s": max_flight_s}
    for takeoff, landing in runs:
        w = find_weighing(
            f,
            fs_hz,
            takeoff,
            search_start_index=previous,
            window_s=window_s,
            reference_bw_n=reference,
            max_bw_change_share=max_bw_change_share,
            flight_threshold_n=flight_threshold_n,
        )
        ph = None
        if w.ok:
            reference = reference if reference is not None else w.bw_n
            ph = segment_phases(f, fs_hz, w.bw_n, w.sd_n, w.end_index, g_m_s2=g_m_s2, **common)
            if ph.takeoff_index is None or not takeoff - 1 <= ph.takeoff_index <= takeoff:
                ph = None  # the movement found is not this jump's
        if ph is None:
            ph = segment_phases(f, fs_hz, None, None, previous, g_m_s2=g_m_s2, **common)
            reason = w.reason or "onset_not_before_takeoff"
            ph = _with(ph, flags=(*tuple(x for x in ph.flags if x != "no_body_weight"), reason))
        out.append(JumpAnalysis(w, ph, jump_metrics(f, fs_hz, ph, g_m_s2=g_m_s2)))
        previous = landing
    return out


# --- internals ---------------------------------------------------------------------------


def _departure(
    f: np.ndarray,
    fs_hz: float,
    bw_n: float,
    sd_n: float,
    start: int,
    k_sd: float,
    min_threshold_n: float,
    limit: int | None = None,
    quiet_hold_s: float = 0.002,
    min_excursion_s: float = 0.010,
) -> int | None:
    """First sample of the movement: after the last quiet sample before the first large excursion.

    Searching back from a clear excursion (4 × the band, at least 2 % of BW, held for
    ``min_excursion_s``) rather than forward
    to the first sample outside the band keeps a sway in the quiet period from passing for the
    onset. A quiet sample is one of ``quiet_hold_s`` of samples within the band: on a slowly
    rising force, noise pushes single samples back into the band after the real crossing, which
    would make the onset late. None when the force never leaves by that much.
    """
    threshold = max(k_sd * sd_n, min_threshold_n)
    big = max(4.0 * threshold, 0.02 * bw_n)
    stop = f.size if limit is None else min(limit, f.size)
    if start >= stop:
        return None
    # A movement stays out there for a while; a lone sample is a glitch.
    min_len = max(1, round(min_excursion_s * fs_hz))
    # The excursion usually follows the quiet standing within a few tens of samples, and a run found
    # within a first stretch is the first run of the whole range (a run cut by the stretch's end is
    # found only when already long enough): the rest of the range is looked at only without one.
    near = min(stop, start + _NEAR)
    first = first_run_start(np.abs(f[start:near] - bw_n) > big, min_len)
    if first is None and near < stop:
        first = first_run_start(np.abs(f[start:stop] - bw_n) > big, min_len)
    if first is None:
        return None
    j = start + first
    hold = max(2, round(quiet_hold_s * fs_hz))
    lo = max(0, start - hold)
    # Likewise from the back: the last quiet run is usually right before the excursion.
    near = max(lo, j - _NEAR)
    last = last_run_stop(np.abs(f[near:j] - bw_n) <= threshold, hold)
    if last is not None:
        return near + last
    if near > lo:
        last = last_run_stop(np.abs(f[lo:j] - bw_n) <= threshold, hold)
    if last is None:
        return start
    return lo + last


_NEAR = 256  # samples ``_departure`` looks at first on either side, before the whole range




def _first_level_crossing(x: np.ndarray, lo: int, hi: int, level: float, rising: bool) -> float | None:
    """Fractional index where x first crosses ``level`` (upwards or downwards) within samples lo … hi − 1."""
    hi = min(hi, x.size)
    if hi - lo < 2:
        return None
    seg = x[lo:hi] - level if level != 0.0 else x[lo:hi]  # x − 0.0 is x, −0.0 included
    hit = (seg[:-1] < 0) & (seg[1:] >= 0) if rising else (seg[:-1] > 0) & (seg[1:] <= 0)
    first = int(hit.argmax())
    if not hit[first]:
        return None
    i = lo + first
    return float(i + (level - x[i]) / (x[i + 1] - x[i]))


def _refine_bw_crossing(f: np.ndarray, bw_n: float, j: int, rising: bool) -> float:
    """The velocity extremum at sample j, refined to where F crosses BW (a = 0) next to it.

    v is flat at its extremum, so its argmin/argmax is only good to a few samples; F crosses BW
    there with a slope. The crossing nearest to j within 3 samples wins; otherwise j itself.
    """
    best = None
    lo = max(1, j - 3)
    # Python floats: the same IEEE arithmetic as numpy scalars, at a fraction of the cost per operation.
    near = f[lo - 1 : min(f.size, j + 4)].tolist()
    for k in range(1, len(near)):
        a, b = near[k - 1] - bw_n, near[k] - bw_n
        if (a < 0 <= b) if rising else (a > 0 >= b):
            x = lo + k - 2 + a / (a - b)
            if best is None or abs(x - j) < abs(best - j):
                best = x
    return float(j) if best is None else float(best)


def _cumulative(x: np.ndarray, fs_hz: float, zero_before: int = 0) -> np.ndarray:
    """Trapezoid running integral, 0 at the first sample.

    ``zero_before``: the caller guarantees ``x[:zero_before]`` is +0.0 (a movement integrated from its
    onset), so the integral there is +0.0 and only the rest is summed: the same numbers as the whole
    sum (whose running total reaches the first non-zero term as +0.0, which is where this one starts).
    """
    out = np.zeros(x.size)
    i0 = zero_before
    if i0 <= 1:
        if x.size > 1:
            np.cumsum((x[1:] + x[:-1]) * (0.5 / fs_hz), out=out[1:])
        return out
    if i0 < x.size:
        terms = np.empty(x.size - i0 + 1)
        terms[0] = 0.0
        np.multiply(x[i0:] + x[i0 - 1 : -1], 0.5 / fs_hz, out=terms[1:])
        np.cumsum(terms, out=out[i0 - 1 :])
    return out


def _cumulative_pair(x: np.ndarray, y: np.ndarray, fs_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """``(_cumulative(x, fs_hz), _cumulative(y, fs_hz))`` for two arrays of one length, in one pass."""
    n = x.size
    if n < 2:
        return _cumulative(x, fs_hz), _cumulative(y, fs_hz)
    step = 0.5 / fs_hz
    tx = x[1:] + x[:-1]
    tx *= step
    ty = y[1:] + y[:-1]
    ty *= step
    return cumsum_pair(tx, ty, leading_zero=True)


def _upto(idx: float, n: int) -> int:
    """How many of n samples ``_cumulative_at`` or ``np.interp`` at ``idx`` read (all of them for an
    index outside the array or not a number)."""
    return min(n, math.floor(idx) + 2) if 0 <= idx < n else n


def _divide_from(x: np.ndarray, d: float, i0: int) -> np.ndarray:
    """``x / d`` where ``x[:i0]`` is +0.0 (a running integral from i0): for d > 0 that head stays +0.0
    and only the rest is divided (the head is most of a long history)."""
    if not (d > 0 and i0 > 0):
        return x / d
    out = np.zeros(x.size)
    np.divide(x[i0:], d, out=out[i0:])
    return out


def _power(f: np.ndarray, vel: np.ndarray, i0: int, mass: float) -> tuple[np.ndarray, int]:
    """``f * vel``, where ``vel[:i0]`` is +0.0 (``_divide_from`` with ``mass`` > 0), and how many of
    its first samples are +0.0 (``zero_before`` for ``_cumulative``: i0 or 0).

    The head of the product is +0.0 too when f is positive and finite there: then only the rest is
    multiplied. Otherwise (a negative force makes −0.0, an infinite one NaN) the head is checked.
    """
    if i0 > 0 and mass > 0:
        head = f[:i0]
        if head.size and 0.0 < head.min() and head.max() < math.inf:
            out = np.zeros(f.size)
            np.multiply(f[i0:], vel[i0:], out=out[i0:])
            return out, i0
    power = f * vel
    head = power[:i0]
    return power, 0 if head.any() or np.signbit(head).any() else i0


def _cumulative_at(cum: np.ndarray, x: np.ndarray, idx: float, fs_hz: float) -> float:
    """The running integral at a fractional index: trapezoid up to it with x interpolated linearly."""
    i = min(max(0, math.floor(idx)), cum.size - 1)
    frac = float(idx - i)
    if frac <= 0 or i + 1 >= x.size:
        return float(cum[i])
    # Python floats: the same IEEE operations in the same order as on numpy scalars, faster.
    x0, x1 = x[i : i + 2].tolist()
    xi = x0 + frac * (x1 - x0)
    return float(float(cum[i]) + frac * (x0 + xi) * 0.5 / fs_hz)


def _check_rate(fs_hz: float) -> None:
    try:
        ok = math.isfinite(float(fs_hz)) and float(fs_hz) > 0
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(f"fs_hz must be a positive number, got {fs_hz!r}")


def _as_1d(x: np.ndarray) -> np.ndarray:
    f = np.asarray(x, dtype=np.float64)
    if f.ndim != 1:
        raise ValueError(f"force must be 1-D, got shape {f.shape}")
    return f
