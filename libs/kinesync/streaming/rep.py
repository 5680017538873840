"""Metrics of one repetition from the station's buffered signals (numbers in, numbers out).

The station hands over what it holds around a rep it owns: the EMG of the owning window
(envelopes and raw role channels) and the force history up to the window end. Everything here is
the documented metric set of docs/metrics.md, computed with the pure functions of ``kinesync.dsp``
and ``kinesync.analysis``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from kinesync.analysis import phases
from kinesync.analysis.quality import channel_qualities
from kinesync.analysis.transfer import force_transfer_index
from kinesync.dsp.alignment import in_window
from kinesync.dsp.lag import onset_lag, phase_lag
from kinesync.dsp.moments import mean_sd
from kinesync.dsp.onset import threshold_onset
from kinesync.dsp.peak_lag import ChannelReference, near_copy_lag, p_in_window, peak_lag_learned
from kinesync.dsp.quantile import percentile_linear
from kinesync.streaming.roles import LEG_ROLES, emg_role

NS = 1_000_000_000


@dataclass(frozen=True)
class EmgView:
    """The owning window's EMG: sample 0 is at ``t0_ns``."""

    rate_hz: float
    t0_ns: int
    leg: np.ndarray
    pec: np.ndarray
    raw: np.ndarray  # (role channels, samples)
    raw_names: tuple[str, ...]
    has_gap: bool


@dataclass(frozen=True)
class ForceView:
    """Vertical force history up to the owning window's end: sample 0 is at ``t0_ns``."""

    rate_hz: float
    t0_ns: int
    total: np.ndarray
    left: np.ndarray | None
    right: np.ndarray | None
    has_gap: bool

    def time_of(self, index: float) -> int:
        return self.t0_ns + round(index * NS / self.rate_hz)

    def index_of(self, t_ns: int) -> int:
        return round((t_ns - self.t0_ns) * self.rate_hz / NS)


@dataclass(frozen=True)
class RepConfig:
    min_lag_s: float = -0.100
    max_lag_s: float = 0.400
    # Where the two role envelopes are near-copies (their normalised cross-correlation peaks at least
    # this high), the delay that aligns them is the peak-to-peak lag, measured on the whole burst
    # (docs/metrics.md, "Phase lag").
    copy_coupling: float = 0.98
    # ... and only where the delay agrees with the peak lag within this many of the peak lag's noise SE
    # (bursts of different shapes can look alike without being copies).
    copy_agree_se: float = 5.0
    activity_ratio: float = 2.5  # burst peak / quiet envelope level that counts as activity
    onset_k_sd: float = 5.0  # force onset threshold, SD of the weighing
    onset_backdate_s: float = 0.030
    emg_onset_h: float = 3.0  # Hodges–Bui threshold, SD of the baseline
    flight_threshold_n: float = 20.0
    min_flight_s: float = 0.100
    max_flight_s: float = 1.5  # a longer unloaded stretch is someone stepping off, s
    # Plausibility of a weighing: the plate must carry at least this much on average, N. Below it the
    # plate is empty (or zeroed under the athlete); 50 N still admits a bench press's leg drive.
    min_load_n: float = 50.0
    # Above this a weighing is a saturated or mis-scaled channel, not a person (with bar and plates), N.
    max_load_n: float = 20_000.0
    # A weighing's SD at most this share of its mean. Quiet standing reads 0.2–0.5 % of BW; the phase
    # library's own bound (2 %) also admits the slow end of standing up from the previous rep, whose
    # mean is off by ~1 % — a 3 cm error in an impulse–momentum jump height.
    max_sd_share: float = 0.01
    max_rep_s: float = 2.5  # a rep's movement starts at most this long before its peak, s
    weighing_s: float = 1.0  # quiet standing that weighs the athlete, s
    weighing_search_s: float = 4.5  # the weighing is searched this far before the rep peak, s
    max_bw_change_share: float = 0.05  # windows within this share of the reference belong to one weighing
    carry_quiet_s: float = 0.25  # quiet standing that confirms a carried weighing, s
    max_carry_s: float = 60.0  # a weighing is carried to reps at most this long after it, s
    max_after_movement_s: float = 1.0  # the movement found ends at most this long before the rep peak, s


@dataclass
class RepResult:
    fields: dict[str, object] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    rep_start_ns: int | None = None
    weighing: StationWeighing | None = None  # a fresh valid weighing, for the station to carry


def _active(x: np.ndarray, ratio: float) -> bool:
    return float(x.max()) > ratio * max(percentile_linear(x, 10), 1e-12)


def _quiet_baseline(env: np.ndarray, fs_hz: float, span_s: float = 0.25) -> tuple[float, float]:
    """Mean and SD of the quietest ``span_s`` of an envelope (its lowest-mean stretch)."""
    n = max(2, int(span_s * fs_hz))
    if env.size <= n:
        return mean_sd(env)
    c = np.empty(env.size + 1)
    c[0] = 0.0
    np.cumsum(env, dtype=np.float64, out=c[1:])
    means = (c[n:] - c[: c.size - n]) / n
    i = int(np.argmin(means))
    return mean_sd(env[i : i + n])


def pec_active_threshold(pec: np.ndarray, fs_hz: float, h: float = 3.0) -> float:
    """Envelope level above which the pectoralis counts as active.

    Hodges–Bui on the quietest 250 ms (mean + h·SD), but at least 10 % of the burst height above
    that baseline: a 6 Hz envelope is so smooth that mean + h·SD alone sits on the noise floor.
    """
    mean, sd = _quiet_baseline(pec, fs_hz)
    return mean + max(h * sd, 0.1 * (float(pec.max()) - mean))


def emg_metrics(
    view: EmgView,
    cfg: RepConfig,
    low_ms: float,
    high_ms: float,
    out: RepResult,
    pec_active: bool | None = None,
    *,
    peak_ns: int | None = None,
    reference: ChannelReference | None = None,
) -> None:
    """Lag, its standard error, coupling, the envelope delay, onset lags and the quality flags of the
    role channels (``pec_active``: the pectoral activity test, when the caller has made it already;
    ``peak_ns``: the rep's time, where the leg-drive peak is searched around; ``reference``: the
    station's per-channel reference amplitudes learned over the set, None: each rep's own peaks).

    ``lag_ms`` is the phase lag as defined (pectoral activation peak − leg-drive activation peak,
    ``kinesync.dsp.peak_lag``); ``envelope_delay_ms`` the delay that best aligns the two causal
    envelopes (``kinesync.dsp.lag.phase_lag``), whose peak value is ``coupling``.
    """
    bad = False
    for name, q in zip(view.raw_names, channel_qualities(view.raw, view.rate_hz), strict=True):
        for flag in q.flags():
            out.flags.append(f"{flag}:{name}")
            bad = bad or flag in ("flat", "gap")
    if view.has_gap:
        out.flags.append("gap:emg")
        bad = True
    if bad:
        return  # a dead or missing channel gives no lag rather than a made-up one
    if not (pec_active if pec_active is not None else _active(view.pec, cfg.activity_ratio)):
        out.flags.append("no_pec_activity")
        return
    result = phase_lag(view.leg, view.pec, view.rate_hz, cfg.min_lag_s, cfg.max_lag_s)
    if result is not None:
        out.fields.update(envelope_delay_ms=result.lag_s * 1000.0, coupling=result.coupling)
    peak = _peak_lag(view, peak_ns, reference)
    if peak is None:
        out.flags.append("no_lag_peak")
    else:
        # When the chest burst is a delayed copy of the leg drive's, the alignment delay is the peak
        # lag too, from every sample of the bursts instead of their tops: far less noise. The standard
        # error stays the peak estimator's (conservative: the delay's own error is smaller).
        lag_ms, _ = near_copy_lag(peak, None if result is None else result.lag_s * 1000.0,
                                  None if result is None else result.coupling, cfg.copy_coupling,
                                  cfg.copy_agree_se)
        out.fields.update(lag_ms=lag_ms, lag_se_ms=peak.lag_se_ms, in_window=in_window(lag_ms, low_ms, high_ms),
                          lag_p_in_window=p_in_window(lag_ms, peak.lag_se_ms, low_ms, high_ms))
    ol = onset_lag(view.leg, view.pec, view.rate_hz)
    if ol is not None:
        out.fields["onset_lag_ms"] = ol * 1000.0
    mean, sd = _quiet_baseline(view.leg, view.rate_hz)
    leg_on = threshold_onset(view.leg, view.rate_hz, mean, max(sd, 1e-3 * float(view.leg.max())), h=cfg.emg_onset_h)
    if leg_on is not None:
        pec_peak = leg_on + int(np.argmax(view.pec[leg_on:]))
        out.fields["leg_onset_to_pec_peak_ms"] = (pec_peak - leg_on) * 1000.0 / view.rate_hz
        out.rep_start_ns = view.t0_ns + round(leg_on * NS / view.rate_hz)


def _peak_lag(view: EmgView, peak_ns: int | None, reference: ChannelReference | None):
    """The activation peak lag of the window's raw role channels (None without leg or chest rows)."""
    leg_rows, pec_rows = _role_rows(tuple(view.raw_names))
    hint_s = None if peak_ns is None else (peak_ns - view.t0_ns) / NS
    return peak_lag_learned(view.raw, view.rate_hz, view.raw_names, list(leg_rows), list(pec_rows), reference,
                            hint_s=hint_s)


@functools.lru_cache(maxsize=256)
def _role_rows(names: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Rows of the leg and of the chest channels among ``names``: a pure function of the names, which a
    station keeps for its whole set, so its regular-expression matching runs once per kit, not per rep."""
    roles = [emg_role(n) for n in names]
    return (tuple(i for i, r in enumerate(roles) if r in LEG_ROLES),
            tuple(i for i, r in enumerate(roles) if r == "pec"))


def unweighable_reason(f: np.ndarray, min_load_n: float, max_load_n: float) -> str:
    """Why no weighing passed the plausibility rules: the flag a rep carries then.

    ``force_negative``: the force mostly reads below −min_load_n (stored downward, or zeroed under the
    athlete and now showing the flight); ``plate_unloaded``: it mostly reads near zero (nobody on the
    plate, or zeroed with the athlete on it); ``plate_saturated``: it mostly reads above max_load_n (a
    saturated or mis-scaled channel); ``no_body_weight``: loaded, but never quiet for long enough.
    """
    typical = percentile_linear(f, 50)
    if typical > max_load_n:
        return "plate_saturated"
    if typical < -min_load_n:
        return "force_negative"
    if typical < min_load_n:
        return "plate_unloaded"
    return "no_body_weight"


# RepMetric fields filled from ``phases.jump_metrics`` / ``phases.lift_metrics`` under the same name.
# ``peak_velocity_m_s`` of a lift is the centre of mass's, not the bar's, and stays out.
PHASE_FIELDS: tuple[str, ...] = (
    "jump_height_flight_m", "jump_height_impulse_m", "time_to_takeoff_s", "rsi_modified",
    "countermovement_depth_m", "braking_impulse_n_s", "propulsive_impulse_n_s", "mean_braking_force_n",
    "mean_propulsive_force_n", "braking_rfd_n_per_s", "peak_propulsive_force_n", "peak_landing_force_n",
    "peak_power_w", "mean_propulsive_power_w", "peak_power_w_per_kg", "mean_braking_force_n_per_kg",
    "mean_propulsive_force_n_per_kg", "peak_propulsive_force_n_per_kg", "peak_landing_force_n_per_kg",
    "rfd_0_50_n_per_s", "rfd_0_100_n_per_s", "rfd_0_200_n_per_s", "peak_rfd_n_per_s",
)
# Phase flags that say nothing about the rep's quality: the library's own bookkeeping.
_QUIET_PHASE_FLAGS = frozenset({"no_com_velocity", "no_flight"})


@dataclass(frozen=True)
class StationWeighing:
    """A valid weighing, kept by the station for the next reps of a set (docs/metrics.md, "Weighing").

    ``left_n``/``right_n``: each plate's load over the weighing window (None on a single plate);
    ``end_ns``: facility time of the window's end.
    """

    bw_n: float
    sd_n: float
    left_n: float | None
    right_n: float | None
    end_ns: int


def _flight_at(f: np.ndarray, rate: float, p: int, cfg: RepConfig) -> int | None:
    """First sample of the flight that rep peak ``p`` belongs to (the peak lies from 1 s before its
    take-off to 0.5 s after its landing), else None."""
    low = f < cfg.flight_threshold_n
    if not low.any():
        return None
    edges = np.flatnonzero(np.diff(low.astype(np.int8)))
    starts = [int(e) + 1 for e in edges if not low[e]]
    ends = [int(e) + 1 for e in edges if low[e]]
    shortest = max(1, math.ceil(cfg.min_flight_s * rate - 1e-9))
    best = None
    for a in starts:
        b = next((e for e in ends if e > a), None)
        if b is None or b - a < shortest or b - a > cfg.max_flight_s * rate:
            continue  # the record ends in it, or someone stepped off
        if a - rate <= p <= b + 0.5 * rate:
            mid = (a + b) / 2
            if best is None or abs(mid - p) < abs((best[0] + best[1]) / 2 - p):
                best = (a, b)
    return None if best is None else best[0]


def _weigh(
    view: ForceView, p: int, cfg: RepConfig, carried: StationWeighing | None, out: RepResult
) -> tuple[float, float, int, tuple[float, float] | None] | None:
    """Body weight, its SD, where the movement search starts and the plate loads; None (flagged) without.

    A fresh weighing (1 s of quiet standing contiguous with the rep) wins; without one, the station's
    last weighing is carried when a short quiet stretch before the rep agrees with it.
    """
    f, rate = view.total, view.rate_hz
    lo = max(0, p - round(cfg.weighing_search_s * rate))
    common = {"search_start_index": lo, "k_sd": cfg.onset_k_sd, "min_load_n": cfg.min_load_n,
              "max_sd_share": cfg.max_sd_share, "flight_threshold_n": cfg.flight_threshold_n,
              "max_bw_change_share": cfg.max_bw_change_share}
    w = phases.find_weighing(f, rate, p, window_s=cfg.weighing_s, **common)
    # A weighing that ends long before the peak weighed an earlier rep's standing: in a set with short
    # standing the last quiet second can lie before the previous rep.
    if w.ok and w.bw_n <= cfg.max_load_n and w.end_index >= p - cfg.max_rep_s * rate:
        loads = None
        if view.left is not None and view.right is not None:
            loads = phases.plate_loads(view.left, view.right, w)
        out.weighing = StationWeighing(w.bw_n, w.sd_n, *(loads or (None, None)), view.time_of(w.end_index))
        return w.bw_n, w.sd_n, w.end_index, loads
    if carried is not None and 0 <= view.time_of(p) - carried.end_ns <= cfg.max_carry_s * NS:
        q = phases.find_weighing(f, rate, p, window_s=cfg.carry_quiet_s, reference_bw_n=carried.bw_n, **common)
        if q.ok:
            out.flags.append("weighing_carried")
            loads = None if carried.left_n is None or carried.right_n is None else (carried.left_n, carried.right_n)
            return carried.bw_n, carried.sd_n, q.end_index, loads
    out.flags.append(unweighable_reason(f, cfg.min_load_n, cfg.max_load_n))
    return None


def _flight_only(view: ForceView, p: int, cfg: RepConfig, out: RepResult) -> None:
    """Without body weight a jump still has its flight: flight-time height and peak landing force."""
    a = _flight_at(view.total, view.rate_hz, p, cfg)
    if a is None:
        return
    ph = phases.segment_phases(view.total, view.rate_hz, None, None, max(0, a - 1),
                               flight_threshold_n=cfg.flight_threshold_n, min_flight_s=cfg.min_flight_s,
                               max_flight_s=cfg.max_flight_s)
    m = phases.jump_metrics(view.total, view.rate_hz, ph)
    out.fields["jump_height_flight_m"] = m.jump_height_flight_m
    out.fields["peak_landing_force_n"] = m.peak_landing_force_n


def _asymmetry_fields(asym: phases.Asymmetry, out: RepResult) -> None:
    for name, side in (("propulsive_impulse", asym.propulsive_impulse), ("braking_impulse", asym.braking_impulse),
                       ("peak_force", asym.peak_propulsive_force)):
        out.fields[f"asymmetry_{name}_pct"] = None if side is None else side.asymmetry_pct
    # The side named is the one that delivered more of the drive; its peak force where there is no impulse.
    lead = asym.propulsive_impulse or asym.peak_propulsive_force
    out.fields["asymmetry_side"] = None if lead is None else lead.stronger


def force_metrics(
    view: ForceView,
    peak_ns: int,
    emg: EmgView | None,
    cfg: RepConfig,
    out: RepResult,
    pec_active: bool | None = None,
    *,
    carried: StationWeighing | None = None,
    com_on_plate: bool = True,
) -> None:
    """Weighing, onset, phases and the phase metrics of ``kinesync.analysis.phases``, asymmetry per
    plate and the transfer index (``pec_active``: the pectoral activity test of ``emg``, when the
    caller has made it already; ``carried``: the station's last weighing; ``com_on_plate``: False when
    the plates carry only the feet, as under a bench press)."""
    if view.has_gap:
        out.flags.append("gap:force")
        return
    f = view.total
    rate = view.rate_hz
    if f.size < 3 or not np.isfinite(f).all():
        out.flags.append("non_finite_force" if f.size >= 3 else "no_body_weight")
        return
    p = min(max(view.index_of(peak_ns), 0), f.size - 1)
    weighed = _weigh(view, p, cfg, carried, out)
    if weighed is None:
        _flight_only(view, p, cfg, out)
        return
    bw_n, sd_n, start, loads = weighed
    out.fields["body_weight_n"] = bw_n
    ph = phases.segment_phases(
        f, rate, bw_n, sd_n, start, k_sd=cfg.onset_k_sd, backdate_s=cfg.onset_backdate_s,
        flight_threshold_n=cfg.flight_threshold_n, min_flight_s=cfg.min_flight_s, max_flight_s=cfg.max_flight_s,
        com_on_plate=com_on_plate,
    )
    if ph.onset_index is None or ph.onset_index > p:
        out.flags.append("no_force_onset")
        _flight_only(view, p, cfg, out)
        return
    # The movement after the weighing must be this rep's, not an earlier one the peak came after.
    last = ph.landing_end_index or ph.landing_index or ph.propulsion_end_index
    if last is not None and last < p - cfg.max_after_movement_s * rate:
        out.flags.append("movement_before_rep")
        return
    onset_ns = view.time_of(ph.onset_index)
    out.rep_start_ns = onset_ns
    out.fields["force_onset_ns"] = onset_ns
    metrics = phases.jump_metrics(f, rate, ph) if ph.is_jump else phases.lift_metrics(f, rate, ph)
    for name in PHASE_FIELDS:
        value = getattr(metrics, name, None)
        if value is not None:
            out.fields[name] = value
    out.flags.extend(x for x in metrics.flags if x not in _QUIET_PHASE_FLAGS and x not in out.flags)
    if loads is not None and view.left is not None and view.right is not None:
        _asymmetry_fields(phases.asymmetry(view.left, view.right, rate, ph, *loads), out)
    a, b = ph.propulsion_start_index, ph.propulsion_end_index
    if (
        a is not None and b is not None and emg is not None and not emg.has_gap
        and (pec_active if pec_active is not None else _active(emg.pec, cfg.activity_ratio))
    ):
        threshold = pec_active_threshold(emg.pec, emg.rate_hz, cfg.emg_onset_h)
        out.fields["transfer_index"] = force_transfer_index(
            f, rate, bw_n, emg.pec, emg.rate_hz, threshold,
            force_t0_s=(view.t0_ns - emg.t0_ns) / NS, emg_t0_s=0.0,
            start_s=(view.time_of(a) - emg.t0_ns) / NS, stop_s=(view.time_of(b) - emg.t0_ns) / NS,
        )


def drop_non_finite(fields: dict[str, object], flags: list[str]) -> None:
    """A metric that came out NaN or infinite (full-scale or overflowing input) becomes None, flagged
    ``non_finite:<field>``: storage and the wall never see a number that is not one."""
    for key, value in fields.items():
        if isinstance(value, float) and not math.isfinite(value):
            fields[key] = None
            flags.append(f"non_finite:{key}")


def analyze_rep(
    peak_ns: int,
    emg: EmgView | None,
    force: ForceView | None,
    cfg: RepConfig,
    low_ms: float,
    high_ms: float,
    *,
    carried: StationWeighing | None = None,
    com_on_plate: bool = True,
    lag_reference: ChannelReference | None = None,
) -> RepResult:
    """Every metric of the rep at ``peak_ns`` (``lag_reference``: the station's ``ChannelReference``,
    kept for the athlete's set; None: each rep normalises its channels by its own peaks)."""
    out = RepResult()
    # Both halves ask whether the pectoralis worked; a gap in the EMG means neither does.
    pec_active = emg is not None and not emg.has_gap and _active(emg.pec, cfg.activity_ratio)
    if emg is not None:
        emg_metrics(emg, cfg, low_ms, high_ms, out, pec_active, peak_ns=peak_ns, reference=lag_reference)
    emg_start = out.rep_start_ns
    if force is not None:
        force_metrics(force, peak_ns, emg, cfg, out, pec_active, carried=carried, com_on_plate=com_on_plate)
    if out.rep_start_ns is None:
        out.rep_start_ns = emg_start
    return out
