"""How precisely the simulated EMG can tell the true lag at all: a Cramér–Rao bound (docs/metrics.md,
"Information limit").

The simulator's channel c is ``V·g_c·a_c(t)·carrier(t) + noise(t)``: a unit-variance Gaussian carrier
with the Shwedyk spectrum, modulated by the activation, plus sensor noise flat over 10–500 Hz. For an
activation that changes slowly against the carrier, the information the raw samples hold about a
parameter θ of a_c is (Whittle's approximation of the Gaussian likelihood)::

    I_ij = ∫ dt ∂_i(a²) ∂_j(a²) J(t),   J(t) = ∫ df (V²g²P_c(f))² / (V²g²a(t)²P_c(f) + N²P_n(f))²

with P_c, P_n the one-sided carrier and noise spectra, each of unit area. Without noise J = B/a⁴
(B the band width) whatever the carrier's spectrum: every frequency bin of the band is one more
look at the power. The true lag is a function of the bursts' parameters (the argmaxes of the role
means, ``_Planner.peaks``); its variance under any unbiased estimator is at least ∇lagᵀ I⁻¹ ∇lag,
channel by channel (their carriers are independent).

What the bound assumes known, so that it stays a lower bound on the real problem: tonic activity,
eccentric plateaus, electrode gains, the noise level, crosstalk and ECG (left out), and every
parameter not named in ``free``. Free by default: each burst's peak time, height, rise and fall
widths (the exponents known). An estimator that is biased (every smoothing estimator is) can go
below the bound on some reps only by leaning on what it assumes about the shapes.
"""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kinesync.sim import physiology as phys
from kinesync.sim.emg import shwedyk_psd

# Burst parameters by name: columns of the simulator's burst rows (channel, t_peak, height, s_rise,
# s_fall, p_rise, p_fall, drive).
PARAMETERS = {"peak": 1, "height": 2, "rise": 3, "fall": 4, "rise_exponent": 5, "fall_exponent": 6}
EXPONENTS_KNOWN = ("peak", "height", "rise", "fall")
BAND_HZ = (10.0, 500.0)  # the simulator's carrier and noise band (kinesync.sim.emg)
_STEP_S = 0.5e-3  # time grid of the information integral
_REL_STEP = 1e-4  # finite-difference step, relative (times: absolute, s)


@dataclass(frozen=True)
class LagBound:
    """The bound of one rep: the true lag and the smallest SD (ms) an unbiased estimator can reach."""

    rep: int
    lag_ms: float
    leg_sd_ms: float
    pec_sd_ms: float
    lag_sd_ms: float


@functools.lru_cache(maxsize=4)
def _spectra(n_freq: int = 2000) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    df = (BAND_HZ[1] - BAND_HZ[0]) / n_freq
    f = BAND_HZ[0] + (np.arange(n_freq) + 0.5) * df  # bin centres: the bins add up to the band exactly
    carrier = shwedyk_psd(f)
    carrier /= carrier.sum() * df
    noise = np.full_like(f, 1.0 / (BAND_HZ[1] - BAND_HZ[0]))
    return f, df, carrier, noise


def whittle_information(
    d_power: np.ndarray, activation: np.ndarray, dt_s: float, signal_v: float, noise_v: float,
    carrier_psd: np.ndarray, noise_psd: np.ndarray, df_hz: float,
) -> np.ndarray:
    """Fisher information matrix (k × k) of k parameters of one channel's activation.

    Args:
        d_power: (k, T) ∂(a²)/∂θ_i on a time grid of step ``dt_s`` (s).
        activation: (T,) the activation a(t) (dimensionless) on the same grid.
        signal_v: carrier RMS at activation 1 (V·g, V); noise_v: sensor-noise RMS, V.
        carrier_psd, noise_psd: one-sided spectra (1/Hz, unit area) on a frequency grid of step ``df_hz``.
    """
    s2 = signal_v * signal_v
    num = (s2 * carrier_psd) ** 2
    den = (s2 * np.square(activation)[:, None] * carrier_psd[None, :] + noise_v * noise_v * noise_psd[None, :]) ** 2
    j = (num[None, :] / den).sum(axis=1) * df_hz
    return np.einsum("it,jt,t->ij", d_power, d_power, j) * dt_s


def lag_bounds(spec: phys.PhysiologySpec, n_reps: int, free: Sequence[str] = EXPONENTS_KNOWN) -> list[LagBound]:
    """The bound of each of the session's first ``n_reps`` reps (the same reps ``simulate_session`` draws)."""
    cols = [PARAMETERS[name] for name in free]
    plan, reps = phys._plan_reps(spec, n_reps, None)
    _, df, carrier, noise = _spectra()
    noise_v = spec.emg_amplitude_v / 10.0 ** (spec.snr_db / 20.0)
    out = []
    for rep in reps:
        leg0, pec0 = plan.peaks(rep)
        t = np.arange(rep.start - 1.0, rep.end + 1.5, _STEP_S)
        act = phys._rep_activation(t, rep) + plan.tonic[:, None]
        var = {}
        for role, rows in (("leg", phys._LEG), ("pec", phys._PEC)):
            total = 0.0
            for c in rows:
                d_power, d_lag = [], []
                for b in np.flatnonzero(rep.bursts[:, 0] == c):
                    for col in cols:
                        value = rep.bursts[b, col]
                        eps = _REL_STEP if col == 1 else _REL_STEP * max(abs(value), 1e-3)
                        sides = []
                        for sign in (1.0, -1.0):
                            moved = copy.copy(rep)
                            moved.bursts = rep.bursts.copy()
                            moved.bursts[b, col] = value + sign * eps
                            leg, pec = plan.peaks(moved)
                            sides.append((phys._rep_activation(t, moved)[c] + plan.tonic[c], pec - leg))
                        (a_hi, lag_hi), (a_lo, lag_lo) = sides
                        d_power.append((a_hi * a_hi - a_lo * a_lo) / (2.0 * eps))
                        d_lag.append((lag_hi - lag_lo) / (2.0 * eps))
                if not d_power:
                    continue
                info = whittle_information(np.array(d_power), act[c], _STEP_S, spec.emg_amplitude_v * plan.gain[c],
                                           noise_v, carrier, noise, df)
                g = np.array(d_lag)
                try:
                    total += float(g @ np.linalg.solve(info, g))
                except np.linalg.LinAlgError:
                    total = math.inf
            var[role] = total
        out.append(LagBound(rep=rep.index, lag_ms=(pec0 - leg0) * 1000.0, leg_sd_ms=math.sqrt(var["leg"]) * 1000.0,
                            pec_sd_ms=math.sqrt(var["pec"]) * 1000.0,
                            lag_sd_ms=math.sqrt(var["leg"] + var["pec"]) * 1000.0))
    return out


def set_share_bound(lag_sd_ms: Sequence[float], set_reps: int, tolerance_ms: float) -> float:
    """The largest share of ``set_reps``-rep means within ±``tolerance_ms`` of the truth an unbiased
    estimator can reach, with per-rep SDs at their bound (errors of different reps independent)."""
    sd = math.sqrt(float(np.mean(np.square(lag_sd_ms))) / set_reps)
    return math.erf(tolerance_ms / (sd * math.sqrt(2.0))) if sd > 0 else 1.0
