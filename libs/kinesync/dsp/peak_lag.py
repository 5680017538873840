"""Phase lag as defined: pectoral activation peak minus leg-drive activation peak (numbers in, numbers out).

The leg-drive activation is the mean of the leg channels' activations (quadriceps and gluteus, left
and right), each normalised to its own reference amplitude; the pectoral activation the mean of the
normalised pectoral channels. Muscles do not share one burst shape, so the delay that best aligns two
envelopes (``kinesync.dsp.lag``) is a different quantity; this module estimates the two peaks.

Per channel, within one rep's window (complete when it is analysed, so zero-phase processing is
allowed and no filter delay enters):

1. band-pass 30–450 Hz, 4th-order Butterworth, zero-phase. 30 Hz rather than 20 Hz because the QRS
   complex of the ECG on pectoral and trunk electrodes keeps much of its energy between 20 and 40 Hz;
2. squared and averaged over bins of ``bin_s`` (the mean power per bin: an unbiased estimate of the
   activation² × gain², whatever the carrier's spectrum);
3. smoothed with a Gaussian kernel of ``smooth_sd_s`` (zero-phase, no ringing, and its derivatives are
   known in closed form, which gives the standard error below); the square root is the RMS envelope;
4. divided by its reference amplitude (given, or the channel's maximum in the search span).

The role activations are the means of the normalised channels; each peak is the maximum within its
search span (the leg peak within the concentric drive, the pectoral peak from 0.2 s before to 0.8 s
after the leg peak), refined by a parabola through the maximum bin and its neighbours.

Standard error: the peak time t of a smoothed curve moves by δt = −δR'(t)/R''(t) when the binned power
is perturbed. Bin powers of a modulated Gaussian carrier have a relative variance κ (measured per
channel on the rep from the scatter of the bins around the smooth curve) and are nearly uncorrelated
between bins wider than the carrier's correlation time, so Var δR'(t) is a weighted sum over bins
(weights from the kernel's derivative). A floor (``se_floor_ms``) adds the part the linearisation
does not see: the smoothing's bias on asymmetric bursts and the normalisation by a measured amplitude.
"""

from __future__ import annotations

import functools
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, signal

from kinesync.dsp.filters import sosfilt_rows

BAND_LOW_HZ = 30.0
BAND_HIGH_HZ = 450.0
BAND_HIGH_SHARE_OF_RATE = 0.45  # the upper edge sits below Nyquist at low rates


@dataclass(frozen=True)
class PeakLagConfig:
    """Parameters of the peak-lag estimator (times in s, frequencies in Hz)."""

    band_low_hz: float = BAND_LOW_HZ
    band_high_hz: float = BAND_HIGH_HZ
    # One causal pass of the band-pass: every channel gets the same filter, so its delay cancels in
    # the lag (and it costs half a zero-phase pass). False: zero-phase (sosfiltfilt).
    causal_band: bool = True
    # Order of the per-channel linear-prediction whitening of the band-passed EMG (0: none). A
    # whitened carrier has more independent samples per bin, so the binned power scatters less.
    whiten_order: int = 4
    bin_s: float = 0.005
    smooth_sd_s: float = 0.050
    # Leg peak search relative to the rep's hint (the start of propulsion), s: heavy reps can put the
    # stronger drive burst half a second after it; the pectoral search relative to the leg peak.
    leg_search_s: tuple[float, float] = (-0.35, 0.65)
    pec_search_s: tuple[float, float] = (-0.2, 0.8)
    se_floor_ms: float = 16.0
    bias_correct: bool = False


@dataclass(frozen=True)
class PeakLag:
    """Peak times (s since the first sample), the lag and its standard error (ms).

    ``channel_peak_rms``: per row of the input, the maximum of its RMS envelope (V) within its role's
    search span (0 for rows of no role): what ``ChannelReference`` learns each channel's reference from.
    """

    leg_peak_s: float
    pec_peak_s: float
    lag_ms: float
    lag_se_ms: float
    leg_se_ms: float
    pec_se_ms: float
    channel_peak_rms: tuple[float, ...] = ()


@dataclass(frozen=True)
class RoleEnvelopes:
    """Binned, smoothed RMS envelopes per channel and what the standard error needs."""

    bin_s: float
    fs_hz: float
    power: np.ndarray  # (channels, bins) mean power per bin, V²
    smooth: np.ndarray  # (channels, bins) Gaussian-smoothed power, V²
    rel_var: np.ndarray  # (channels,) relative variance of a bin's power around the smooth curve

    def time_of(self, k: float) -> float:
        """Centre of bin ``k`` (fractional allowed), s since the first sample."""
        return (k + 0.5) * self.bin_s - 0.5 / self.fs_hz


@functools.lru_cache(maxsize=32)
def _bandpass_sos_cached(fs_hz: float, low_hz: float, high_hz: float) -> np.ndarray:
    high = min(high_hz, BAND_HIGH_SHARE_OF_RATE * fs_hz)
    sos = signal.butter(4, (low_hz, high), btype="bandpass", fs=fs_hz, output="sos")
    return sos


def bandpass_sos(fs_hz: float, cfg: PeakLagConfig = PeakLagConfig()) -> np.ndarray:
    # A copy: callers may not change the cached design.
    return _bandpass_sos_cached(float(fs_hz), float(cfg.band_low_hz), float(cfg.band_high_hz)).copy()


def gaussian_kernel(sd_bins: float, order: int = 0) -> np.ndarray:
    """Unit-area Gaussian kernel (order 0) or its first/second derivative per bin, ±4 SD."""
    half = max(1, math.ceil(4.0 * sd_bins))
    x = np.arange(-half, half + 1, dtype=np.float64)
    g = np.exp(-0.5 * (x / sd_bins) ** 2)
    g /= g.sum()
    if order == 0:
        return g
    if order == 1:
        return -x / sd_bins**2 * g
    return (x * x / sd_bins**4 - 1.0 / sd_bins**2) * g


@functools.lru_cache(maxsize=16)
def _reversed_kernels(sd_bins: float) -> tuple[np.ndarray, np.ndarray]:
    """``gaussian_kernel`` orders 0 and 1, reversed (read-only: shared by every rep of a given width).

    Reversed views, not copies: ``np.dot`` adds a negatively strided operand in plain order, a
    contiguous one through BLAS in another, and the standard error must keep its bits.
    """
    g0, g1 = gaussian_kernel(sd_bins, 0), gaussian_kernel(sd_bins, 1)
    g0.flags.writeable = False
    g1.flags.writeable = False
    return g0[::-1], g1[::-1]


@functools.lru_cache(maxsize=16)
def _smoothing_weights(sd_bins: float) -> np.ndarray:
    """The weights ``ndimage.gaussian_filter1d(·, sd_bins, truncate=4.0)`` hands to ``correlate1d``.

    Read off its response to a unit impulse, which is exact (each output is one weight times 1.0 plus
    zeros), so the design stays scipy's own. Read-only: shared by every rep of a given width.
    """
    radius = int(4.0 * sd_bins + 0.5)
    impulse = np.zeros(2 * radius + 1)
    impulse[radius] = 1.0
    # A correlation's impulse response is its weights reversed.
    w = ndimage.gaussian_filter1d(impulse, sd_bins, mode="constant", truncate=4.0)[::-1].copy()
    w.flags.writeable = False
    return w


def whiten(x: np.ndarray, order: int) -> np.ndarray:
    """Prediction error of each row of ``x`` under its own order-``order`` linear predictor.

    The predictor comes from the row's autocorrelation (Levinson–Durbin, all rows at once) and is
    applied as a causal FIR filter, so the output has a nearly flat spectrum: surface EMG is a
    coloured Gaussian carrier (most power at 50–150 Hz), and a flat one gives a power estimate with
    more independent samples per bin (Clancy & Hogan 1994). The filter is minimum phase, and each
    channel has its own, but it is short (``order`` samples), so it adds well under 1 ms of delay.
    """
    n = x.shape[1]
    if order <= 0 or n <= order + 1:
        return x
    lags = [np.einsum("ij,ij->i", x[:, : n - k], x[:, k:]) for k in range(order + 1)]
    # The recursion works on a handful of numbers per row: Python floats cost a fraction of the numpy
    # calls on (rows, order) arrays, and the arithmetic is the same IEEE double arithmetic.
    a = np.array([_levinson(r, order) for r in np.array(lags).T.tolist()]).reshape(x.shape[0], order + 1)
    out = x.copy()
    term = np.empty_like(x)  # one buffer for every tap's product instead of a new array per tap
    for k in range(1, order + 1):
        t = term[:, : n - k]
        np.multiply(a[:, k : k + 1], x[:, : n - k], out=t)
        out[:, k:] += t
    return out


def _levinson(r: list[float], order: int) -> list[float]:
    """Prediction-error filter (1, a_1 … a_order) of one row from its autocorrelation ``r``."""
    a = [1.0] + [0.0] * order
    err = r[0] * (1.0 + 1e-9) + 1e-300
    for k in range(1, order + 1):
        # Σ a_j r_(k−j) in the order, and from the 0.0, that the (rows, order) einsum adds in.
        dot = 0.0
        for j in range(1, k):
            dot += a[j] * r[k - j]
        refl = -(r[k] + dot) / err
        a[1:k] = [a[j] + refl * a[k - j] for j in range(1, k)]
        a[k] = refl
        err = err * max(1.0 - refl * refl, 1e-12)
    return a


def role_envelopes(raw: np.ndarray, fs_hz: float, cfg: PeakLagConfig = PeakLagConfig()) -> RoleEnvelopes:
    """Binned power and Gaussian-smoothed power of every row of ``raw`` (rows × samples at ``fs_hz``)."""
    x = np.atleast_2d(np.asarray(raw, dtype=np.float64))
    # Bins hold a whole number of samples; the bin width is therefore a multiple of the sample period.
    q = max(1, round(cfg.bin_s * fs_hz))
    bin_s = q / fs_hz
    n_bins = x.shape[1] // q
    # The cached design itself: neither filter call writes to it.
    sos = _bandpass_sos_cached(float(fs_hz), float(cfg.band_low_hz), float(cfg.band_high_hz))
    filtered = sosfilt_rows(sos, x) if cfg.causal_band else signal.sosfiltfilt(sos, x, axis=-1)
    filtered = whiten(filtered, cfg.whiten_order)
    blocks = filtered[:, : n_bins * q].reshape(x.shape[0], n_bins, q)
    power = np.einsum("cnq,cnq->cn", blocks, blocks) / q
    # ndimage.gaussian_filter1d(power, sd, axis=1, mode="mirror", truncate=4.0), without designing its kernel
    smooth = ndimage.correlate1d(power, _smoothing_weights(cfg.smooth_sd_s / bin_s), axis=1, mode="mirror")
    # Relative scatter of the bins around the smooth curve where the channel is active (its upper half):
    # the carrier's own randomness plus noise, which is what moves the peak.
    top = smooth.max(axis=1, keepdims=True)
    active = smooth > 0.5 * top
    r = np.where(active, power / np.maximum(smooth, 1e-300) - 1.0, 0.0)
    count = active.sum(axis=1)
    rel_var = np.where(count > 0, (r * r).sum(axis=1) / np.maximum(count, 1), 1.0)
    return RoleEnvelopes(bin_s=bin_s, fs_hz=fs_hz, power=power, smooth=smooth, rel_var=rel_var)


def _parabola(y_m: float, y_0: float, y_p: float) -> float:
    den = y_m - 2.0 * y_0 + y_p
    # min/max on floats: np.clip's numbers (NaN included) without its per-call cost.
    return 0.0 if den >= 0.0 else min(max(0.5 * (y_m - y_p) / den, -0.5), 0.5)


def _rms(env: RoleEnvelopes) -> np.ndarray:
    """RMS envelope of every row, V (the square root of the smoothed power)."""
    return np.sqrt(np.maximum(env.smooth, 0.0))


def _role_peak(
    env: RoleEnvelopes, rows: list[int], ref: np.ndarray, lo: int, hi: int, sd_bins: float, bias_correct: bool,
    with_se: bool = True, rms: np.ndarray | None = None,
) -> tuple[float, float] | None:
    """(peak bin, fractional; SE in bins) of the mean of the normalised RMS envelopes of ``rows`` in [lo, hi)
    (``with_se`` False: the SE is left NaN, for a pass that only needs where the peak is; ``rms``:
    ``_rms(env)`` when the caller has it already)."""
    n_bins = env.smooth.shape[1]
    lo, hi = max(lo, 1), min(hi, n_bins - 1)
    if hi - lo < 3:
        return None
    # The mean curve is made column by column, so only the span and a neighbour either side (bins lo − 1
    # … hi, all that is read below) are computed: curve[j] is bin c0 + j.
    c0 = lo - 1
    amp = (_rms(env) if rms is None else rms)[rows, c0 : hi + 1]  # (k, bins) RMS envelope, V
    w = 1.0 / (len(rows) * ref[rows])
    curve = (w[:, None] * amp).sum(axis=0)
    i = lo + int(curve[1 : hi - c0].argmax())
    if i in (lo, hi - 1):
        return None  # the maximum sits on the edge of the span: no peak inside it
    y_m, y_0, y_p = curve[i - 1 - c0 : i + 2 - c0].tolist()
    frac = _parabola(y_m, y_0, y_p)
    curvature = y_m - 2.0 * y_0 + y_p  # per bin²
    if not curvature < 0.0:
        return i + frac, float("inf")
    if bias_correct and 2 <= i < n_bins - 2:
        # Smoothing moves the peak of an asymmetric burst towards its slower side by about
        # s_eff^2/2 * R3/R2 (s_eff^2 = 2 sd^2 for the square root of smoothed power); the smoothed
        # curve's own third derivative R3 estimates it.
        j = i - c0
        third = (curve[j + 2] - 2.0 * curve[j + 1] + 2.0 * curve[j - 1] - curve[j - 2]) / 2.0
        frac += float(np.clip(sd_bins**2 * third / curvature, -2.0 * sd_bins, 2.0 * sd_bins))
    if not with_se:
        return i + frac, math.nan
    # d curve / d power_j at the peak: Σ_c w_c · d sqrt(S_c)'/dP_j, S' = g' * P, S = g * P.
    g0_rev, g1_rev = _reversed_kernels(sd_bins)
    half = g0_rev.size // 2
    j0, j1 = max(0, i - half), min(env.power.shape[1], i + half + 1)
    k0, k1 = j0 - (i - half), j1 - (i - half)
    g0_win, g1_win = g0_rev[k0:k1], g1_rev[k0:k1]
    in_span = 1.0 if j1 > j0 else 0.0
    var = 0.0
    for n, c in enumerate(rows):
        s = max(float(env.smooth[c, i]), 1e-300)
        ds = float(np.dot(g1_win, env.power[c, j0:j1]))  # S'(i), per bin
        # A'(i) = S'/(2√S); its sensitivity to bin j: g1/(2√S) − S'·g0/(4 S^1.5).
        sens = w[n] * (g1_win / (2.0 * math.sqrt(s)) - ds * g0_win / (4.0 * s**1.5))
        sm = env.smooth[c, j0:j1]
        var += env.rel_var[c] * float(np.dot(sens * sens, sm * sm)) * in_span
    return i + frac, math.sqrt(var) / -curvature


def peak_lag(
    raw: np.ndarray,
    fs_hz: float,
    leg_rows: list[int],
    pec_rows: list[int],
    *,
    drive_s: tuple[float, float] | None = None,
    hint_s: float | None = None,
    reference: np.ndarray | None = None,
    cfg: PeakLagConfig = PeakLagConfig(),
) -> PeakLag | None:
    """Pectoral activation peak minus leg-drive activation peak of one rep.

    Args:
        raw: EMG of the rep's window, (channels × samples) at ``fs_hz`` Hz, V; sample 0 is time 0.
        leg_rows, pec_rows: rows of ``raw`` that are leg (quadriceps, gluteus) and pectoral channels.
        drive_s: the concentric drive (start, end), s since the first sample: the leg peak is searched
            there. Without it: ``hint_s`` + ``cfg.leg_search_s`` (the rep's burst), else the whole window.
        reference: per row, the channel's reference amplitude (RMS, V; e.g. from ``ChannelReference``);
            a row whose entry is not positive and finite uses its maximum RMS envelope within its
            role's search span in this window.
        cfg: bands, whitening, bin width, smoothing and the SE floor.

    Returns:
        PeakLag, or None when a role has no channel or a peak lies on the edge of its search span.
    """
    if not leg_rows or not pec_rows:
        return None
    env = role_envelopes(raw, fs_hz, cfg)
    return _peak_lag_from(env, leg_rows, pec_rows, drive_s, hint_s, reference, cfg)


def _peak_lag_from(
    env: RoleEnvelopes,
    leg_rows: list[int],
    pec_rows: list[int],
    drive_s: tuple[float, float] | None,
    hint_s: float | None,
    reference: np.ndarray | None,
    cfg: PeakLagConfig,
    with_se: bool = True,
    rms: np.ndarray | None = None,
) -> PeakLag | None:
    n_bins = env.smooth.shape[1]
    sd_bins = cfg.smooth_sd_s / env.bin_s
    if drive_s is not None:
        lo_s, hi_s = drive_s
    elif hint_s is not None:
        lo_s, hi_s = hint_s + cfg.leg_search_s[0], hint_s + cfg.leg_search_s[1]
    else:
        lo_s, hi_s = 0.0, n_bins * env.bin_s
    lo, hi = math.floor(lo_s / env.bin_s), math.ceil(hi_s / env.bin_s)
    amp = _rms(env) if rms is None else rms
    peaks = np.zeros(env.smooth.shape[0])
    given = None
    if reference is not None:
        given = np.asarray(reference, dtype=np.float64)
        usable = np.isfinite(given) & (given > 0.0)
    a, b = max(lo, 0), min(max(hi, 1), n_bins)
    peaks[leg_rows] = amp[leg_rows, a:b].max(axis=1) if b > a else amp[leg_rows].max(axis=1)
    ref = peaks if given is None else np.where(usable, given, peaks)
    ref = np.where(ref > 0.0, ref, 1.0)
    leg = _role_peak(env, leg_rows, ref, lo, hi, sd_bins, cfg.bias_correct, with_se, amp)
    if leg is None:
        return None
    leg_k, leg_se = leg
    p_lo = math.floor(leg_k + cfg.pec_search_s[0] / env.bin_s)
    p_hi = math.ceil(leg_k + cfg.pec_search_s[1] / env.bin_s)
    a, b = max(p_lo, 0), min(max(p_hi, 1), n_bins)
    peaks[pec_rows] = amp[pec_rows, a:b].max(axis=1) if b > a else amp[pec_rows].max(axis=1)
    ref = peaks if given is None else np.where(usable, given, peaks)
    ref = np.where(ref > 0.0, ref, 1.0)
    pec = _role_peak(env, pec_rows, ref, p_lo, p_hi, sd_bins, cfg.bias_correct, with_se, amp)
    if pec is None:
        return None
    pec_k, pec_se = pec
    leg_se_ms = leg_se * env.bin_s * 1000.0
    pec_se_ms = pec_se * env.bin_s * 1000.0
    se = math.sqrt(leg_se_ms**2 + pec_se_ms**2 + cfg.se_floor_ms**2)
    leg_t, pec_t = env.time_of(leg_k), env.time_of(pec_k)
    return PeakLag(leg_peak_s=leg_t, pec_peak_s=pec_t, lag_ms=(pec_t - leg_t) * 1000.0, lag_se_ms=se,
                   leg_se_ms=leg_se_ms, pec_se_ms=pec_se_ms, channel_peak_rms=tuple(peaks.tolist()))


@dataclass
class ChannelReference:
    """Each channel's reference amplitude learned over an athlete's recent reps (per station).

    The phase lag's activations are each channel's EMG in units of its reference amplitude, a
    per-channel constant (electrode gain and tissue), not the rep's own peak: a weaker rep stays
    weaker. The reference is the median of the channel's peak RMS envelope over its last ``reps``
    reps (channels by name, so a re-plugged kit with other rows still matches); the median is
    robust to a rep with a loose electrode or a double drive.
    """

    reps: int = 10
    _peaks: dict[str, deque] = field(default_factory=dict)

    def reference(self, names: tuple[str, ...] | list[str]) -> np.ndarray:
        """Per name, the current reference (RMS, V), 0 where the channel has no history yet."""
        return np.array([_median(self._peaks[n]) if self._peaks.get(n) else 0.0 for n in names])

    def observe(self, names: tuple[str, ...] | list[str], peak_rms: tuple[float, ...] | np.ndarray) -> None:
        for n, v in zip(names, peak_rms, strict=True):
            if math.isfinite(v) and v > 0.0:
                self._peaks.setdefault(n, deque(maxlen=self.reps)).append(float(v))

    def reset(self) -> None:
        """Forget every channel (a new athlete or a new electrode placement)."""
        self._peaks.clear()

    def copy(self) -> ChannelReference:
        """An independent copy: an analysis that may be thrown away learns into it, not into this one."""
        return ChannelReference(self.reps, {n: deque(p, maxlen=p.maxlen) for n, p in self._peaks.items()})


def _median(values: deque) -> float:
    """np.median's number for the few finite values a channel holds, without its per-call cost (the
    middle value, or the mean of the middle two: their sum halved, as np.mean computes it)."""
    s = sorted(values)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2.0


def peak_lag_learned(
    raw: np.ndarray,
    fs_hz: float,
    names: tuple[str, ...] | list[str],
    leg_rows: list[int],
    pec_rows: list[int],
    state: ChannelReference | None,
    *,
    hint_s: float | None = None,
    cfg: PeakLagConfig = PeakLagConfig(),
) -> PeakLag | None:
    """``peak_lag`` with each channel's reference from ``state`` (which learns this rep's peaks first,
    so the first rep of a set uses its own peaks); ``state`` None: the rep's own peaks."""
    if not leg_rows or not pec_rows:
        return None
    env = role_envelopes(raw, fs_hz, cfg)
    rms = _rms(env)  # both passes read the same envelopes
    # With a state this first pass only finds the channels' peaks to learn from: no SE needed.
    first = _peak_lag_from(env, leg_rows, pec_rows, None, hint_s, None, cfg, with_se=state is None, rms=rms)
    if first is None or state is None:
        return first
    rows = sorted(set(leg_rows) | set(pec_rows))
    state.observe([names[i] for i in rows], [first.channel_peak_rms[i] for i in rows])
    return _peak_lag_from(env, leg_rows, pec_rows, None, hint_s, state.reference(names), cfg, rms=rms)


def near_copy_lag(peak: PeakLag, delay_ms: float | None, coupling: float | None, min_coupling: float,
                  agree_se: float, agree_min_ms: float = 0.0) -> tuple[float, bool]:
    """The rep's lag (ms) and whether it is the envelope delay rather than the peak lag.

    Where the two role envelopes are delayed copies (``coupling`` ≥ ``min_coupling``), the delay that
    aligns them is the peak-to-peak lag, measured on every sample of the bursts. A high coupling alone
    also admits bursts of different shapes that merely look alike, whose delay is not the peak lag; so
    the delay is taken only where it agrees with the peak lag within ``agree_se`` of the peak lag's
    noise SE (√(leg SE² + pec SE²), the floor excluded: on true copies the two peaks' smoothing biases
    cancel and only the noise separates the two estimates), but never less than ``agree_min_ms`` (at
    high SNR the linearised SE understates what moves a flat-topped peak).
    """
    if delay_ms is None or coupling is None or not math.isfinite(delay_ms) or not coupling >= min_coupling:
        return peak.lag_ms, False
    noise = math.hypot(peak.leg_se_ms, peak.pec_se_ms)
    if not abs(delay_ms - peak.lag_ms) <= max(agree_se * noise, agree_min_ms):
        return peak.lag_ms, False
    return delay_ms, True


def p_in_window(lag_ms: float, se_ms: float, low_ms: float, high_ms: float) -> float:
    """Probability that the true lag lies in [low_ms, high_ms] for an estimate ~ N(lag_ms, se_ms²)."""
    if not se_ms > 0.0 or not math.isfinite(se_ms):
        return float(low_ms <= lag_ms <= high_ms)
    z = 1.0 / (se_ms * math.sqrt(2.0))
    return max(0.0, 0.5 * (math.erf((high_ms - lag_ms) * z) - math.erf((low_ms - lag_ms) * z)))
