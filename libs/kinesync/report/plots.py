"""Report figures as PNG bytes (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

import io
import statistics

import numpy as np

from kinesync.codec.frame import SensorKind
from kinesync.dsp.filters import emg_envelope
from kinesync.models import RepMetric
from kinesync.runtime.extras import require
from kinesync.sources.recording import Recording, Track
from kinesync.streaming.roles import LEG_ROLES, emg_role_rows, force_rows

# Before pyplot: reports are made on servers without a display.
require("matplotlib", "session reports and their plots").use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

NS = 1_000_000_000
OK, BAD, LEG, PEC, FORCE = "#16a34a", "#dc2626", "#2563eb", "#db2777", "#111827"


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def representative(reps: list[RepMetric]) -> RepMetric | None:
    """The rep whose lag is closest to the session median (the middle rep when none has a lag)."""
    with_lag = [r for r in reps if r.lag_ms is not None]
    if not with_lag:
        return reps[len(reps) // 2] if reps else None
    median = statistics.median(r.lag_ms for r in with_lag)  # type: ignore[misc]
    return min(with_lag, key=lambda r: abs(r.lag_ms - median))  # type: ignore[operator]


def lag_per_rep(reps: list[RepMetric], target_ms: tuple[float, float]) -> bytes:
    fig, ax = plt.subplots(figsize=(9, 3.6))
    low, high = target_ms
    ax.axhspan(low, high, color=OK, alpha=0.15, label=f"target {low:g}–{high:g} ms")
    xs = [i + 1 for i, r in enumerate(reps) if r.lag_ms is not None]
    ys = [r.lag_ms for r in reps if r.lag_ms is not None]
    colours = [OK if low <= y <= high else BAD for y in ys]  # type: ignore[operator]
    ax.plot(xs, ys, color="#9ca3af", lw=1, zorder=1)
    ax.scatter(xs, ys, c=colours, s=36, zorder=2)
    ax.set_xlabel("rep")
    ax.set_ylabel("phase lag, ms")
    ax.set_title("Pectoral lag behind leg drive, per rep")
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    return _png(fig)


def _quiet(env: np.ndarray, fs: float, span_s: float = 0.25) -> tuple[float, float]:
    # Mean and SD of the quietest stretch: the baseline for a Hodges–Bui onset.
    n = max(2, int(span_s * fs))
    if env.size <= n:
        return float(env.mean()), float(env.std())
    means = np.convolve(env, np.ones(n) / n, mode="valid")
    i = int(np.argmin(means))
    seg = env[i:i + n]
    return float(seg.mean()), float(seg.std())


def _burst_onset(env: np.ndarray, fs: float) -> int | None:
    """Start of the burst that holds the envelope's peak: where it last rose above the threshold.

    The threshold is 3 SD above the quietest 250 ms, but at least 10 % of the way to the peak, so
    a very clean baseline does not turn a ripple long before the burst into an onset.
    """
    mean, sd = _quiet(env, fs)
    peak = int(np.argmax(env))
    threshold = mean + max(3.0 * sd, 0.1 * (float(env[peak]) - mean))
    below = np.flatnonzero(env[: peak + 1] <= threshold)
    if below.size == 0:
        return None
    return int(below[-1]) + 1


def _segment(track: Track, start_ns: int, end_ns: int) -> tuple[int, int]:
    a = max(0, round((start_ns - track.t0_ns) * track.rate_hz / NS))
    b = min(track.samples.shape[1], round((end_ns - track.t0_ns) * track.rate_hz / NS))
    return a, b


def emg_envelopes(rec: Recording, rep: RepMetric, cutoff_hz: float = 6.0) -> bytes | None:
    """Leg-drive and pectoral envelopes around the rep (each scaled to its peak), onsets marked."""
    track = next((t for t in rec.tracks if t.kind == SensorKind.EMG), None)
    if track is None:
        return None
    rows = emg_role_rows(track.channels)
    leg_rows = [i for role in LEG_ROLES for i in rows.get(role, [])]
    if not leg_rows or "pec" not in rows:
        return None
    # Whole-track envelopes (causal filter, as live), then the ±1 s around the rep peak.
    env = emg_envelope(track.samples.astype(np.float64), track.rate_hz, cutoff_hz=cutoff_hz)
    a, b = _segment(track, rep.rep_peak_ns - NS, rep.rep_peak_ns + NS)
    if b - a < 10:
        return None
    leg = env[leg_rows, a:b].mean(axis=0)
    pec = env[rows["pec"], a:b].mean(axis=0)
    t_ms = (np.arange(a, b) / track.rate_hz * NS + track.t0_ns - rep.rep_peak_ns) / 1e6
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for sig, colour, label in ((leg, LEG, "leg drive (quad + glute)"), (pec, PEC, "pectoralis major")):
        scaled = sig / max(float(sig.max()), 1e-12)
        ax.plot(t_ms, scaled, color=colour, lw=1.8, label=label)
        on = _burst_onset(sig, track.rate_hz)
        if on is not None:
            ax.axvline(t_ms[on], color=colour, ls="--", lw=1)
            ax.annotate("onset", (t_ms[on], 1.02), color=colour, ha="center", fontsize=8)
    lag = f"{rep.lag_ms:.1f} ms" if rep.lag_ms is not None else "no lag"
    ax.set_title(f"EMG envelopes of a representative rep (lag {lag})")
    ax.set_xlabel("time from leg-drive peak, ms")
    ax.set_ylabel("envelope / its peak")
    ax.set_ylim(0, 1.1)
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)


def stored_envelopes(rep: RepMetric) -> bytes | None:
    """The downsampled envelopes a stored rep carries (no onsets: too coarse to place them)."""
    if not rep.envelopes_uv or rep.envelope_t0_ns is None or not rep.envelope_step_ns:
        return None
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for name, values in rep.envelopes_uv.items():
        t_ms = [(rep.envelope_t0_ns + i * rep.envelope_step_ns - rep.rep_peak_ns) / 1e6 for i in range(len(values))]
        ax.plot(t_ms, values, lw=1.6, label=name)
    ax.set_title("EMG envelopes of a representative rep (stored, downsampled)")
    ax.set_xlabel("time from leg-drive peak, ms")
    ax.set_ylabel("envelope, µV")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)


def force_curve(rec: Recording, rep: RepMetric) -> bytes | None:
    """Vertical force of the rep: body weight, onset and the 0–50/100/200 ms RFD windows."""
    track = next((t for t in rec.tracks if t.kind == SensorKind.FORCE), None)
    if track is None or rep.force_onset_ns is None:
        return None
    vertical, _, _ = force_rows(track.channels)
    if not vertical:
        return None
    a, b = _segment(track, rep.force_onset_ns - NS // 2, rep.rep_peak_ns + NS)
    fz = track.samples[vertical, a:b].astype(np.float64).sum(axis=0)
    t_ms = (np.arange(a, b) / track.rate_hz * NS + track.t0_ns - rep.force_onset_ns) / 1e6
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for span, alpha in ((200, 0.08), (100, 0.12), (50, 0.18)):
        ax.axvspan(0, span, color="#f59e0b", alpha=alpha, lw=0)
    ax.plot(t_ms, fz, color=FORCE, lw=1.4, label="vertical force")
    if rep.body_weight_n is not None:
        ax.axhline(rep.body_weight_n, color="#6b7280", ls=":", label=f"body weight {rep.body_weight_n:.0f} N")
    ax.axvline(0, color=BAD, ls="--", lw=1, label="force onset")
    parts = [f"RFD {w} ms: {v:.0f} N/s" for w, v in ((50, rep.rfd_0_50_n_per_s), (100, rep.rfd_0_100_n_per_s),
                                                  (200, rep.rfd_0_200_n_per_s)) if v is not None]
    ax.set_title("Force curve of the rep — RFD windows shaded (0–50, 0–100, 0–200 ms)\n" + ", ".join(parts),
                 fontsize=10)
    ax.set_xlabel("time from force onset, ms")
    ax.set_ylabel("N")
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)
