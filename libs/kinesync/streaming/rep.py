"""Metrics of one repetition from the station's buffered signals (numbers in, numbers out).

The station hands over what it holds around a rep it owns: the EMG of the owning window
(envelopes and raw role channels) and the force history up to the window end. Everything here is
the documented metric set of docs/metrics.md, computed with the pure functions of ``kinesync.dsp``
and ``kinesync.analysis``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from kinesync.analysis.jump import REST_S as JUMP_REST_S
from kinesync.analysis.jump import jump_heights
from kinesync.analysis.quality import channel_qualities
from kinesync.analysis.transfer import force_transfer_index
from kinesync.dsp.force import body_weights, force_onset, net_impulse, peak_rfd, rfds
from kinesync.dsp.lag import onset_lag, phase_lag
from kinesync.dsp.moments import mean_sd
from kinesync.dsp.onset import threshold_onset, window_counts
from kinesync.dsp.quantile import percentile_linear

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
    activity_ratio: float = 2.5  # burst peak / quiet envelope level that counts as activity
    onset_k_sd: float = 5.0  # force onset threshold, SD of quiet standing
    onset_backdate_s: float = 0.030
    emg_onset_h: float = 3.0  # Hodges–Bui threshold, SD of the baseline
    quiet_hold_s: float = 0.100  # force back within the quiet band this long ends the rep
    flight_threshold_n: float = 20.0
    # Plausibility of a weighing: the plate must carry at least this much on average, N. Below it the
    # plate is empty (or zeroed under the athlete); 50 N still admits a bench press's leg drive.
    min_load_n: float = 50.0
    # Above this a weighing is a saturated or mis-scaled channel, not a person (with bar and plates), N.
    max_load_n: float = 20_000.0
    short_quiet_s: float = 0.5  # fallback body-weight window, s
    max_rep_s: float = 3.0  # a rep starts at most this long before its peak, s
    short_quiet_sd_ratio: float = 2.0  # 1 s SD above this × the short window's SD: use the short window


@dataclass
class RepResult:
    fields: dict[str, object] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    rep_start_ns: int | None = None


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
    view: EmgView, cfg: RepConfig, low_ms: float, high_ms: float, out: RepResult, pec_active: bool | None = None
) -> None:
    """Lag, coupling, onset lags and the quality flags of the role channels (``pec_active``: the
    pectoral activity test, when the caller has made it already)."""
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
    if result is None:
        out.flags.append("no_lag_peak")
    else:
        lag_ms = result.lag_s * 1000.0
        out.fields.update(lag_ms=lag_ms, coupling=result.coupling, in_window=low_ms <= lag_ms <= high_ms)
    ol = onset_lag(view.leg, view.pec, view.rate_hz)
    if ol is not None:
        out.fields["onset_lag_ms"] = ol * 1000.0
    mean, sd = _quiet_baseline(view.leg, view.rate_hz)
    leg_on = threshold_onset(view.leg, view.rate_hz, mean, max(sd, 1e-3 * float(view.leg.max())), h=cfg.emg_onset_h)
    if leg_on is not None:
        pec_peak = leg_on + int(np.argmax(view.pec[leg_on:]))
        out.fields["leg_onset_to_pec_peak_ms"] = (pec_peak - leg_on) * 1000.0 / view.rate_hz
        out.rep_start_ns = view.t0_ns + round(leg_on * NS / view.rate_hz)


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


def _trapezoid(y: np.ndarray, dx: float) -> float:
    # np.trapezoid's own arithmetic for 1-D y and a scalar dx, without its argument handling.
    return float((dx * (y[1:] + y[:-1]) / 2.0).sum())


def _asymmetry_pct(left: float, right: float) -> float | None:
    total = left + right
    return None if abs(total) < 1e-9 else (left - right) / total * 100.0


def _jump_at(jumps: list, p: int, rate: float):
    """The jump this rep's peak belongs to: peak from 1 s before takeoff to 0.5 s after landing."""
    near = [j for j in jumps if j.takeoff_index - rate <= p <= j.landing_index + 0.5 * rate]
    return min(near, key=lambda j: abs((j.takeoff_index + j.landing_index) / 2 - p), default=None)


def force_metrics(
    view: ForceView, peak_ns: int, emg: EmgView | None, cfg: RepConfig, out: RepResult, pec_active: bool | None = None
) -> None:
    """Body weight, onset, RFD, peak force, impulses, asymmetry, jump heights and transfer (``pec_active``:
    the pectoral activity test of ``emg``, when the caller has made it already)."""
    if view.has_gap:
        out.flags.append("gap:force")
        return
    f = view.total
    rate = view.rate_hz
    # One pass of running sums for every steadiness window: body weight (1 s), the short fallback,
    # and the quiet-standing SD the jump analysis would otherwise compute again.
    spans_s = tuple(dict.fromkeys((1.0, cfg.short_quiet_s, JUMP_REST_S)))
    steady = dict(zip(spans_s, body_weights(f, rate, spans_s, min_load_n=cfg.min_load_n,
                                            max_load_n=cfg.max_load_n,
                                            flight_threshold_n=cfg.flight_threshold_n), strict=True))
    bw = steady[1.0]
    if bw is None:
        out.flags.append(unweighable_reason(f, cfg.min_load_n, cfg.max_load_n))
        return
    bw_n, sd_n = bw
    short = steady[cfg.short_quiet_s]
    if short is not None and sd_n > cfg.short_quiet_sd_ratio * short[1]:
        # No steady full second (athletes who barely stand still between jumps): the 1 s window
        # straddles movement and misreads the weight, so the steadiest shorter stretch stands in.
        bw_n, sd_n = short
        out.flags.append("short_quiet_standing")
    out.fields["body_weight_n"] = bw_n
    p = min(max(view.index_of(peak_ns), 0), f.size - 1)
    band = cfg.onset_k_sd * sd_n
    hold = max(1, int(cfg.quiet_hold_s * rate))
    rest = steady[JUMP_REST_S]
    jumps = jump_heights(f, rate, bw_n, flight_threshold_n=cfg.flight_threshold_n,
                         rest_sd_n=rest[1] if rest is not None else float("nan"))
    jump = _jump_at(jumps, p, rate)
    if jump is not None:
        out.fields["jump_height_flight_m"] = jump.height_flight_m
        out.fields["jump_height_impulse_m"] = jump.height_impulse_m
        if jump.inconsistent:
            out.flags.append("jump_heights_disagree")
        if jump.height_impulse_m is None:
            out.flags.append("no_rest_before_jump")
    # The rep starts after the last rest within max_rep_s before its peak; rests further back
    # belong to earlier reps.
    lo = max(0, p - int(cfg.max_rep_s * rate))
    # held[i - lo]: force stays within the quiet band for the hold time from sample i on. A single
    # in-band sample is no rest: force passes through body weight on the way to every peak. Nothing
    # before lo is looked at, so nothing before it is computed.
    held = window_counts(np.abs(f[lo:] - bw_n) <= band, hold) == hold
    rests = lo + np.flatnonzero(held[: max(0, p - hold + 1 - lo)])
    if rests.size == 0:
        out.flags.append("no_quiet_before_rep")
        return
    onset = force_onset(f, rate, bw_n, sd_n, k_sd=cfg.onset_k_sd, backdate_s=cfg.onset_backdate_s,
                        start=int(rests[-1]) + hold - 1)
    if onset is None or onset > p:
        out.flags.append("no_force_onset")
        return
    # The rep ends where force has settled in the quiet band again (else at the data end).
    settled = np.flatnonzero(held[p - lo :])
    end = p + int(settled[0]) if settled.size else f.size - 1
    if not settled.size:
        out.flags.append("rep_end_after_window")
    i0 = int(np.ceil(onset))
    out.rep_start_ns = view.time_of(onset)
    out.fields["force_onset_ns"] = view.time_of(onset)
    spans_ms = (50, 100, 200)
    for span_ms, value in zip(spans_ms, rfds(f, rate, onset, tuple(ms / 1000.0 for ms in spans_ms)), strict=True):
        out.fields[f"rfd_0_{span_ms}_n_per_s"] = value
    out.fields["peak_rfd_n_per_s"] = peak_rfd(f, rate, onset)
    seg = f[i0 : end + 1]
    out.fields["peak_force_n"] = float(seg.max())
    # A jump's net impulse runs from onset to takeoff: it is what sets the takeoff velocity.
    impulse_end = jump.takeoff_index if jump is not None and i0 <= jump.takeoff_index <= end else end
    out.fields["net_impulse_n_s"] = net_impulse(f, rate, bw_n, i0, impulse_end)
    excess = np.maximum(f[i0 : impulse_end + 1] - bw_n, 0.0)  # clip(·, 0, None), without clip's wrapper
    out.fields["propulsive_impulse_n_s"] = _trapezoid(excess, 1.0 / rate)
    if view.left is not None and view.right is not None:
        left, right = view.left[i0 : end + 1], view.right[i0 : end + 1]
        out.fields["asymmetry_peak_pct"] = _asymmetry_pct(float(left.max()), float(right.max()))
        out.fields["asymmetry_impulse_pct"] = _asymmetry_pct(
            _trapezoid(left, 1.0 / rate), _trapezoid(right, 1.0 / rate)
        )
    if emg is not None and not emg.has_gap and (
        pec_active if pec_active is not None else _active(emg.pec, cfg.activity_ratio)
    ):
        threshold = pec_active_threshold(emg.pec, emg.rate_hz, cfg.emg_onset_h)
        out.fields["transfer_index"] = force_transfer_index(
            f, rate, bw_n, emg.pec, emg.rate_hz, threshold,
            force_t0_s=(view.t0_ns - emg.t0_ns) / NS, emg_t0_s=0.0,
            start_s=(view.time_of(onset) - emg.t0_ns) / NS, stop_s=(view.time_of(end) - emg.t0_ns) / NS,
        )


def drop_non_finite(fields: dict[str, object], flags: list[str]) -> None:
    """A metric that came out NaN or infinite (full-scale or overflowing input) becomes None, flagged
    ``non_finite:<field>``: storage and the wall never see a number that is not one."""
    for key, value in fields.items():
        if isinstance(value, float) and not math.isfinite(value):
            fields[key] = None
            flags.append(f"non_finite:{key}")


def analyze_rep(
    peak_ns: int, emg: EmgView | None, force: ForceView | None, cfg: RepConfig, low_ms: float, high_ms: float
) -> RepResult:
    out = RepResult()
    # Both halves ask whether the pectoralis worked; a gap in the EMG means neither does.
    pec_active = emg is not None and not emg.has_gap and _active(emg.pec, cfg.activity_ratio)
    if emg is not None:
        emg_metrics(emg, cfg, low_ms, high_ms, out, pec_active)
    emg_start = out.rep_start_ns
    if force is not None:
        force_metrics(force, peak_ns, emg, cfg, out, pec_active)
    if out.rep_start_ns is None:
        out.rep_start_ns = emg_start
    return out
