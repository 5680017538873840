"""A simulated training session whose truth does not share the lag estimator's assumptions.

Every muscle, every rep, has its own activation shape; legs work through the descent; heavy reps
drive twice; the pectoral channels carry the heart; neighbouring electrodes pick up each other;
force follows EMG by an electromechanical delay; the athlete sways on the plates. The truth is
computed from the noise-free activations by the definitions of docs/physiology-sim.md, never from
the parameters that placed the bursts.

``simulate_session(PhysiologySpec(...), n_reps=20)`` returns a :class:`PhysiologySession`: EMG
(channels ``EMG_CHANNELS``, V), vertical force per plate (``fz_left``, ``fz_right``, N), the
noise-free activations, and one :class:`PhysiologyRepTruth` per rep. ``session_recording`` and
``session_frames`` turn it into what the analyzer consumes.

Activation model (per channel, dimensionless, 1 = the channel's reference amplitude)::

    a(t) = tonic + Σ_reps [ eccentric plateau(t) + Σ_drive peaks burst(t) ]

A burst is two half generalised Gaussians joined at the peak t_p,

    burst(t) = h · exp(−(|t − t_p| / s)^p),  s, p = (s_rise, p_rise) before t_p, (s_fall, p_fall) after,

with s = T / (ln 10)^(1/p), so the burst rises from 10 % of h to h in the rise time T_rise and falls
back to 10 % in the fall time T_fall. p in 1.5–3 spans a gamma-like foot (p = 1.5) to a blunt burst
(p = 3). The family has a defined peak, independent rise and fall times and no compact-support
kinks that would hand a cross-correlation a free edge.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.signal import find_peaks

from kinesync.codec.frame import Frame, SensorKind
from kinesync.sim.athlete import AthleteSpec
from kinesync.sim.emg import band_noise, emg_carrier
from kinesync.sim.exercise import JUMP_DESCENT_S, STANDARD_GRAVITY_M_S2, ForceProfile, build_profile
from kinesync.sources.recording import Recording, Track, to_frames

__all__ = [
    "BURST_PEAK_PER_RMS",
    "EMG_CHANNELS",
    "EXERCISES",
    "FORCE_CHANNELS",
    "LEG_CHANNELS",
    "PEC_CHANNELS",
    "PhysiologyRepTruth",
    "PhysiologySession",
    "PhysiologySpec",
    "session_frames",
    "session_recording",
    "simulate_session",
]

EXERCISES = ("back_squat", "bench_press", "push_press", "squat_jump")

# (name, muscle, side, ECG gain). The heart sits left of the sternum: the left pectoral electrode
# sees the largest QRS, the trunk electrode a little less, the right pectoral the least.
_LAYOUT = (
    ("R Rect Fem", "quad", "R", 0.0),
    ("L Rect Fem", "quad", "L", 0.0),
    ("R Glut Max", "glute", "R", 0.0),
    ("L Glut Max", "glute", "L", 0.0),
    ("R Pect Maj", "pec", "R", 0.7),
    ("L Pect Maj", "pec", "L", 1.0),
    ("R Tric", "tric", "R", 0.0),
    ("L Ext Obl", "trunk", "L", 0.8),
)
EMG_CHANNELS = tuple(row[0] for row in _LAYOUT)
LEG_CHANNELS = tuple(row[0] for row in _LAYOUT if row[1] in ("quad", "glute"))
PEC_CHANNELS = tuple(row[0] for row in _LAYOUT if row[1] == "pec")
FORCE_CHANNELS = ("fz_left", "fz_right")
_MUSCLE = np.array([row[1] for row in _LAYOUT])
_SIDE = np.array([row[2] for row in _LAYOUT])
_ECG_GAIN = np.array([row[3] for row in _LAYOUT])
_LEG = np.flatnonzero(np.isin(_MUSCLE, ("quad", "glute")))
_PEC = np.flatnonzero(_MUSCLE == "pec")
_N_CH = len(_LAYOUT)
# Electrode pairs close enough to share signal by volume conduction: thigh and buttock of one side,
# the two pectorals across the sternum, the pectoral and the arm, the pectoral and the flank.
_NEIGHBOURS = (
    ("R Rect Fem", "R Glut Max"),
    ("L Rect Fem", "L Glut Max"),
    ("R Pect Maj", "L Pect Maj"),
    ("R Pect Maj", "R Tric"),
    ("L Pect Maj", "L Ext Obl"),
)

_LN10 = math.log(10.0)
# A burst's amplitude as seen on a trace: the Gaussian carrier's ±3 SD excursions (99.7 % of
# samples lie within), so the burst amplitude at full activation is 3 × its RMS.
BURST_PEAK_PER_RMS = 3.0
_NOISE_BAND_HZ = (10.0, 500.0)
_MIN_EMG_RATE_HZ = 200.0  # below this too little of the EMG spectrum is left (as in the analysis)
_SWAY_BAND_HZ = (0.1, 1.5)  # quiet-stance sway lies at low frequencies, mostly below 1 Hz
_PRESS_TRAVEL_M = 0.45  # push press: bar from the shoulders to lock-out
_TRUTH_STEP_S = 0.5e-3  # grid for the truth search; peaks are refined on the exact function
_MOVE_STEP_S = 1e-3  # grid for movement events (bottom, force peaks)
# ECG waveform: (offset from R s, amplitude relative to R, Gaussian SD s) of P, Q, R, S, T. A QRS
# of ~90 ms with a sharp R (SD 7 ms) puts 91 % of the complex's energy in 5–40 Hz and 29 % above
# 20 Hz: the R wave keeps ~40 % of its height through a 4th-order 20 Hz high-pass, as on real chest
# electrodes.
_ECG_WAVES = (
    (-0.160, 0.12, 0.025),
    (-0.024, -0.15, 0.006),
    (0.000, 1.00, 0.007),
    (0.024, -0.30, 0.007),
    (0.250, 0.30, 0.055),
)

# Random streams: every quantity has its own generator, so switching a feature on or off (ECG,
# eccentric activity, identical shapes) leaves every other draw of the session unchanged.
_S_SESSION, _S_MOVE, _S_SHAPE, _S_LAG = 0, 1, 2, 3
_S_CARRIER, _S_NOISE, _S_ECG, _S_FORCE, _S_SWAY, _S_REST = 4, 5, 6, 7, 8, 9


@dataclass(frozen=True)
class PhysiologySpec:
    """Parameters of a simulated session (units in the names; ranges are (low, high), drawn uniformly).

    Attributes:
        exercise: ``back_squat``, ``bench_press`` (plates under the feet, weak leg drive),
            ``push_press`` or ``squat_jump`` (flight phase).
        lag_ms: specified delay of the pectoral burst peak behind the main leg-drive burst peak, ms;
            the true lag (docs/physiology-sim.md) is measured on the activations and differs from it
            when shapes differ.
        lag_jitter_ms: SD of a per-rep Gaussian jitter of the specified lag (clipped at ±3 SD), ms.
        emg_rate_hz, force_rate_hz: sampling rates, Hz (any positive value, e.g. 1925.926).
        snr_db: 20·log10(emg_amplitude_v / sensor-noise RMS), dB: the noise relative to the EMG RMS of
            a channel of electrode gain 1 at full reference activation.
        emg_amplitude_v: EMG RMS at full reference activation (activation 1, electrode gain 1), V.
        seed: seed of every random draw (same seed, same session, at any rate).
        identical_shapes: one burst shape for every muscle and rep (``identical_rise_ms``,
            ``identical_fall_ms``, exponent 2), no offsets between muscles or sides, single drive
            peaks, one tonic level, the same amplitude on every channel (bench-press legs scaled by
            ``bench_leg_share``): the pectoral activation is a delayed copy of the leg drive. ECG,
            eccentric activity and crosstalk then default to off.
        ecg, eccentric: ECG on the pectoral and trunk channels; eccentric activity (legs through the
            descent, pectorals while the bar is lowered on the bench). None: on, off with identical shapes.
        crosstalk_share: share of each neighbour's signal an electrode picks up; None: 0.03, 0 with
            identical shapes.
        rise_ms, fall_ms: burst rise (10 % → peak) and fall (peak → 10 %) time ranges, ms, drawn
            independently per muscle, side, drive peak and rep.
        exponent: range of the generalised-Gaussian exponent p, drawn per half burst.
        quad_glute_offset_ms: the gluteal burst peaks up to ± this far from the quadriceps burst of
            the same side, ms (drawn per rep).
        side_offset_ms: each side's bursts shift by up to ± half this, ms (drawn per rep and muscle
            group), so left and right differ by up to this much.
        rep_amplitude: range of a channel's burst height per rep, of its reference amplitude.
        electrode_gain: range of a channel's volts per unit activation, of ``emg_amplitude_v``.
        tonic_share: range of a channel's resting activation, of its reference amplitude.
        eccentric_share: range of the eccentric plateau's height, of the reference amplitude.
        heavy_share, paused_share: share of reps with a double-peaked drive (bottom and sticking
            region) and with a pause at the bottom (back squat and bench press; none for the push
            press and the squat jump).
        second_peak_ratio: height of the weaker of the two drive peaks of a heavy rep, of the stronger.
        pause_s: range of the pause at the bottom of a paused rep, s.
        bench_leg_share: height of the leg bursts on the bench press, of their reference amplitude.
        emd_ms: range of the session's electromechanical delay (leg EMG peak → drive force peak), ms;
            each rep varies by a further ±5 ms within the range.
        heart_rate_bpm: heart rate; None: drawn from 60–180 bpm by the seed.
        heart_rate_variability: SD of the beat-to-beat interval, of the mean interval.
        ecg_share: R-wave amplitude on the left pectoral (other channels by their fixed ECG gain)
            relative to the burst amplitude at full reference activation, ``BURST_PEAK_PER_RMS`` ×
            ``emg_amplitude_v`` (the carrier's ±3 SD excursions); None: drawn from 0.05–0.30 by the seed.
        body_mass_kg: body mass, kg.
        bar_mass_kg: bar on the shoulders (on the plates), kg; None: 60 kg back squat, 50 kg push
            press, 0 otherwise (the bench carries the bench-press bar, the jump is unloaded).
        asymmetry: left share − right share of the vertical force (−1..1).
        sway_n: SD of the left↔right load shift of postural sway, N per plate (the total moves by a
            fifth of it), 0.1–1.5 Hz.
        plate_noise_n: SD of each plate's white sensor noise, N.
        foot_preload_n, leg_drive_n: bench press: force of the feet on the plates at rest, N, and the
            range of the leg drive's peak rise above it, N.
        lead_in_s: quiet standing before the first rep, s.
        rest_s: range of the quiet standing between one rep's end and the next rep's start, s.
        jump_height_m: squat jump height (centre of mass above takeoff), m.
    """

    exercise: str = "back_squat"
    lag_ms: float = 100.0
    lag_jitter_ms: float = 15.0
    emg_rate_hz: float = 2000.0
    force_rate_hz: float = 1000.0
    snr_db: float = 20.0
    emg_amplitude_v: float = 1e-3
    seed: int = 0
    identical_shapes: bool = False
    ecg: bool | None = None
    eccentric: bool | None = None
    crosstalk_share: float | None = None
    rise_ms: tuple[float, float] = (60.0, 250.0)
    fall_ms: tuple[float, float] = (100.0, 350.0)
    exponent: tuple[float, float] = (1.5, 3.0)
    identical_rise_ms: float = 100.0
    identical_fall_ms: float = 200.0
    quad_glute_offset_ms: float = 20.0
    side_offset_ms: float = 10.0
    rep_amplitude: tuple[float, float] = (0.8, 1.0)
    electrode_gain: tuple[float, float] = (0.6, 1.4)
    tonic_share: tuple[float, float] = (0.01, 0.05)
    eccentric_share: tuple[float, float] = (0.15, 0.35)
    heavy_share: float = 0.25
    paused_share: float = 0.2
    second_peak_ratio: tuple[float, float] = (0.6, 0.9)
    pause_s: tuple[float, float] = (0.4, 1.0)
    bench_leg_share: float = 0.3
    emd_ms: tuple[float, float] = (30.0, 100.0)
    heart_rate_bpm: float | None = None
    heart_rate_variability: float = 0.03
    ecg_share: float | None = None
    body_mass_kg: float = 80.0
    bar_mass_kg: float | None = None
    asymmetry: float = 0.0
    sway_n: float = 5.0
    plate_noise_n: float = 1.5
    foot_preload_n: float = 150.0
    leg_drive_n: tuple[float, float] = (150.0, 300.0)
    lead_in_s: float = 2.5
    rest_s: tuple[float, float] = (1.6, 2.4)
    jump_height_m: float = 0.25

    def __post_init__(self) -> None:
        if self.exercise not in EXERCISES:
            raise ValueError(f"exercise must be one of {EXERCISES}, got {self.exercise!r}")
        if not (self.emg_rate_hz > 0 and self.force_rate_hz > 0):
            raise ValueError("sampling rates must be positive")
        if self.emg_rate_hz < _MIN_EMG_RATE_HZ:
            raise ValueError(f"emg_rate_hz must be at least {_MIN_EMG_RATE_HZ:g} Hz, got {self.emg_rate_hz}")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        if not 0.0 <= self.lag_jitter_ms:
            raise ValueError("lag_jitter_ms must be >= 0")
        for name in ("rise_ms", "fall_ms", "exponent", "rep_amplitude", "electrode_gain", "tonic_share",
                     "eccentric_share", "second_peak_ratio", "pause_s", "emd_ms", "leg_drive_n", "rest_s"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi:
                raise ValueError(f"{name} must be a range (low, high) with 0 <= low <= high, got {(lo, hi)}")
        if self.exponent[0] <= 1.0:
            raise ValueError("exponent must be > 1 (a burst needs a smooth peak)")
        if self.rise_ms[0] <= 0 or self.fall_ms[0] <= 0:
            raise ValueError("rise and fall times must be positive")
        if self.rest_s[0] < 1.2 or self.lead_in_s < 1.5:
            raise ValueError("rest_s must start at >= 1.2 s and lead_in_s be >= 1.5 s (quiet standing to weigh)")
        for name in ("heavy_share", "paused_share", "bench_leg_share", "heart_rate_variability"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1]")
        if self.tonic_share[1] >= 0.5:
            raise ValueError("tonic_share must stay below 0.5 of the reference amplitude")
        if self.heart_rate_bpm is not None and not 30.0 <= self.heart_rate_bpm <= 240.0:
            raise ValueError("heart_rate_bpm must lie in 30–240")
        if self.ecg_share is not None and self.ecg_share < 0:
            raise ValueError("ecg_share must be >= 0")
        if self.crosstalk_share is not None and not 0.0 <= self.crosstalk_share < 0.5:
            raise ValueError("crosstalk_share must lie in [0, 0.5)")
        if not -1.0 <= self.asymmetry <= 1.0:
            raise ValueError("asymmetry must lie in [-1, 1]")
        if self.sway_n < 0 or self.plate_noise_n < 0 or self.body_mass_kg <= 0 or self.jump_height_m <= 0:
            raise ValueError("sway_n and plate_noise_n must be >= 0, body_mass_kg and jump_height_m > 0")

    @property
    def ecg_on(self) -> bool:
        return (not self.identical_shapes) if self.ecg is None else self.ecg

    @property
    def eccentric_on(self) -> bool:
        return (not self.identical_shapes) if self.eccentric is None else self.eccentric

    @property
    def crosstalk(self) -> float:
        if self.crosstalk_share is not None:
            return self.crosstalk_share
        return 0.0 if self.identical_shapes else 0.03

    @property
    def system_mass_kg(self) -> float:
        """Mass whose weight the plates carry standing (body plus a bar on the shoulders), kg."""
        if self.bar_mass_kg is not None:
            bar = 0.0 if self.exercise == "bench_press" else self.bar_mass_kg
        else:
            bar = {"back_squat": 60.0, "push_press": 50.0}.get(self.exercise, 0.0)
        return self.body_mass_kg + bar


@dataclass(frozen=True)
class PhysiologyRepTruth:
    """Exact truth of one rep (times in s since the session start; definitions in docs/physiology-sim.md).

    Movement: ``descent_start_s`` (the centre of mass or, on the bench, the bar starts down),
    ``bottom_s`` (lowest point; the start of a pause), ``ascent_start_s`` (the end of a pause; equal to
    the bottom without one), ``ascent_end_s`` (standing again, lock-out, or takeoff of a jump),
    ``rep_end_s`` (all motion over: after the press is lowered, after a jump's landing). One rep is one
    descent plus one ascent: [``descent_start_s``, ``rep_end_s``].

    EMG: ``leg_peak_s`` = argmax of the leg-drive activation (mean of the leg channels' activations,
    each normalised to its reference amplitude) within the concentric drive; ``pec_peak_s`` = argmax
    of the mean pectoral activation after it; ``lag_ms`` = their difference. ``leg_onset_s`` /
    ``pec_onset_s``: the last time before the peak at which that activation is below 10 % of its
    peak (eccentric activity above 10 % carries it back into the descent); ``leg_burst_onset_s`` /
    ``pec_burst_onset_s``: the same on the concentric bursts alone (no tonic or eccentric part).
    ``specified_lag_ms`` is the simulator's input for the rep (burst placement), not the truth.
    ``heavy``: the drive force has two peaks (bottom and after the sticking region);
    ``double_peak``: the leg activation has two drive bursts too (a heavy rep, shapes not identical).
    """

    index: int
    exercise: str
    paused: bool
    heavy: bool
    double_peak: bool
    descent_start_s: float
    bottom_s: float
    ascent_start_s: float
    ascent_end_s: float
    rep_end_s: float
    drive_force_peaks_s: tuple[float, ...]
    emd_ms: float
    specified_lag_ms: float
    leg_peak_s: float
    pec_peak_s: float
    lag_ms: float
    leg_onset_s: float
    pec_onset_s: float
    onset_lag_ms: float
    leg_onset_to_pec_peak_ms: float
    leg_burst_onset_s: float
    pec_burst_onset_s: float
    burst_onset_lag_ms: float
    channel_peaks_s: tuple[tuple[str, float], ...] = field(default=())


@dataclass(frozen=True, eq=False)
class PhysiologySession:
    """A simulated session: EMG (channels × samples, V), force (plates × samples, N), truth per rep.

    ``activation`` is the noise-free activation of every channel at the EMG rate (1 = the channel's
    reference amplitude; before crosstalk, ECG and noise). Sample i of a signal is at i / rate s.
    """

    spec: PhysiologySpec
    emg_channels: tuple[str, ...]
    emg: np.ndarray
    activation: np.ndarray
    emg_rate_hz: float
    force_channels: tuple[str, ...]
    force: np.ndarray
    force_rate_hz: float
    reps: list[PhysiologyRepTruth]
    body_weight_n: float
    heart_rate_bpm: float
    ecg_share: float
    r_peaks_s: np.ndarray
    electrode_gain: np.ndarray
    noise_rms_v: float

    @property
    def duration_s(self) -> float:
        return self.emg.shape[1] / self.emg_rate_hz

    def rows(self, names: tuple[str, ...]) -> list[int]:
        return [self.emg_channels.index(n) for n in names]


# ---- one rep's plan ------------------------------------------------------------------------


@dataclass
class _Rep:
    index: int
    paused: bool
    double: bool
    start: float
    bottom: float
    ascent_start: float
    ascent_end: float
    end: float
    steps: list[tuple[float, float, float]] = field(default_factory=list)  # (t0, dur, dy): smooth CoM steps
    bumps: list[tuple[float, float, float]] = field(default_factory=list)  # (start, width, N): bench leg drive
    jump_t0: float | None = None  # squat jump: session time of the profile's onset
    drive_peaks: tuple[float, ...] = ()
    emd_s: float = 0.0
    lag_s: float = 0.0
    # Activation components: bursts (channel, t_peak, height, s_rise, s_fall, p_rise, p_fall, drive)
    # and plateaus (channel, t_up, ramp_up, t_down, ramp_down, height).
    bursts: np.ndarray = field(default_factory=lambda: np.zeros((0, 8)))
    plateaus: np.ndarray = field(default_factory=lambda: np.zeros((0, 6)))


def _step_pos(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u**4 * (35.0 - 84.0 * u + 70.0 * u * u - 20.0 * u**3)


def _step_acc(u: np.ndarray) -> np.ndarray:
    # A rest-to-rest step whose velocity, acceleration and jerk are zero at both ends: steps that
    # join or overlap give a force curve without kinks (peak |acceleration| 7.51·Δy/T²).
    u = np.clip(u, 0.0, 1.0)
    return u * u * (420.0 - 1680.0 * u + 2100.0 * u * u - 840.0 * u**3)


def _bursts_eval(t: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(len(rows), len(t)) burst values."""
    if rows.size == 0:
        return np.zeros((0, t.size))
    x = t[None, :] - rows[:, 1:2]
    before = x < 0.0
    s = np.where(before, rows[:, 3:4], rows[:, 4:5])
    p = np.where(before, rows[:, 5:6], rows[:, 6:7])
    z = np.abs(x) / s
    # Far tails underflow harmlessly; capping z keeps the power finite.
    return rows[:, 2:3] * np.exp(-np.power(np.minimum(z, 50.0), p))


def _plateaus_eval(t: np.ndarray, rows: np.ndarray) -> np.ndarray:
    if rows.size == 0:
        return np.zeros((0, t.size))
    up = np.clip((t[None, :] - rows[:, 1:2]) / rows[:, 2:3], 0.0, 1.0)
    down = np.clip((t[None, :] - rows[:, 3:4]) / rows[:, 4:5], 0.0, 1.0)
    return rows[:, 5:6] * 0.25 * (1.0 - np.cos(np.pi * up)) * (1.0 + np.cos(np.pi * down))


def _rep_activation(t: np.ndarray, rep: _Rep, *, drive_only: bool = False) -> np.ndarray:
    """(channels, len(t)) activation of this rep's components (no tonic)."""
    out = np.zeros((_N_CH, t.size))
    rows = rep.bursts[rep.bursts[:, 7] > 0.5] if drive_only else rep.bursts
    np.add.at(out, rows[:, 0].astype(int), _bursts_eval(t, rows))
    if not drive_only:
        np.add.at(out, rep.plateaus[:, 0].astype(int), _plateaus_eval(t, rep.plateaus))
    return out


class _Planner:
    """Draws the session's reps: movement, force events, activation components."""

    def __init__(self, spec: PhysiologySpec) -> None:
        self.spec = spec
        s = spec
        rng = np.random.default_rng([s.seed, _S_SESSION])
        # Session-level draws in a fixed order, whatever the mode.
        self.gain = rng.uniform(*s.electrode_gain, _N_CH)
        self.tonic = rng.uniform(*s.tonic_share, _N_CH)
        self.emd_s = rng.uniform(*s.emd_ms) / 1000.0
        hr = rng.uniform(60.0, 180.0)
        ecg_share = rng.uniform(0.05, 0.30)
        self.heart_rate_bpm = s.heart_rate_bpm if s.heart_rate_bpm is not None else hr
        self.ecg_share = s.ecg_share if s.ecg_share is not None else ecg_share
        if s.identical_shapes:
            self.gain = np.ones(_N_CH)
            self.tonic = np.full(_N_CH, 0.02)
        self.mass = s.system_mass_kg
        self.g = STANDARD_GRAVITY_M_S2
        self.body_weight_n = s.foot_preload_n if s.exercise == "bench_press" else self.mass * self.g
        self._jump = _jump_profile(self.mass, s.jump_height_m) if s.exercise == "squat_jump" else None

    # -- movement --------------------------------------------------------------------------

    def movement(self, k: int, start: float) -> _Rep:
        s = self.spec
        r = np.random.default_rng([s.seed, _S_MOVE, k])
        u = r.random(16)  # fixed count: each draw keeps its meaning whatever the exercise
        variant_ok = s.exercise in ("back_squat", "bench_press")
        paused = variant_ok and u[0] < s.paused_share
        double = variant_ok and u[1] < s.heavy_share
        pause = s.pause_s[0] + u[2] * (s.pause_s[1] - s.pause_s[0]) if paused else 0.0
        rep = _Rep(k, paused, double, start, start, start, start, start)
        if s.exercise == "back_squat":
            depth = 0.35 + 0.10 * u[3]
            t_d = 0.7 + 0.3 * u[4]
            overlap = 0.0 if paused else (0.25 + 0.15 * u[5]) * t_d
            t_up = start + t_d + pause - overlap
            rep.steps.append((start, t_d, -depth))
            if double:
                # Out of the hole, then a sticking region where the bar slows, then a second push.
                w = 0.45 + 0.15 * u[6]
                t1, t2 = 0.5 + 0.2 * u[7], 0.55 + 0.25 * u[8]
                gap = (0.5 + 0.15 * u[9]) * t1
                rep.steps += [(t_up, t1, w * depth), (t_up + gap, t2, (1.0 - w) * depth)]
                rep.ascent_end = max(t_up + t1, t_up + gap + t2)
            else:
                t_a = 0.7 + 0.3 * u[6]
                rep.steps.append((t_up, t_a, depth))
                rep.ascent_end = t_up + t_a
            rep.end = rep.ascent_end
            self._standing_events(rep, start + t_d, pause)
        elif s.exercise == "push_press":
            dip = 0.08 + 0.04 * u[3]
            t_d = 0.35 + 0.1 * u[4]
            t_a = 0.35 + 0.1 * u[5]
            t_up = start + t_d - (0.3 + 0.1 * u[6]) * t_d
            rise = (self.mass - s.body_mass_kg) / self.mass * _PRESS_TRAVEL_M
            press_t0, press_dur = t_up + 0.6 * t_a, 0.45 + 0.1 * u[7]
            lower_t0 = press_t0 + press_dur + 0.3 + 0.3 * u[8]
            lower_dur = 0.6 + 0.2 * u[9]
            rep.steps += [(start, t_d, -dip), (t_up, t_a, dip), (press_t0, press_dur, rise),
                          (lower_t0, lower_dur, -rise)]
            rep.ascent_end = press_t0 + press_dur
            rep.end = lower_t0 + lower_dur
            self._standing_events(rep, start + t_d, 0.0, drive_end=t_up + t_a)
        elif s.exercise == "bench_press":
            t_d = 0.8 + 0.4 * u[3]
            t_a = (1.0 + 0.4 * u[4]) if double else (0.6 + 0.3 * u[4])
            rep.bottom = start + t_d
            rep.ascent_start = rep.bottom + pause
            rep.ascent_end = rep.end = rep.ascent_start + t_a
            drive = s.leg_drive_n[0] + u[5] * (s.leg_drive_n[1] - s.leg_drive_n[0])
            width = 0.3 + 0.2 * u[6]
            # The feet drive as the bar leaves the chest.
            rep.bumps.append((rep.ascent_start + 0.12 - width / 2.0, width, drive))
            if double:
                ratio = 0.6 + 0.3 * u[7]
                rep.bumps.append((rep.ascent_start + 0.5 * t_a - 0.15, 0.3, ratio * drive))
            rep.drive_peaks = self._force_peaks(rep, rep.ascent_start - 0.3, rep.ascent_end, 2 if double else 1)
        else:  # squat_jump
            prof = self._jump
            rep.jump_t0 = start

            def at(tau_s: float) -> float:  # the profile's time to session time
                return start + (tau_s - prof.onset)

            rep.bottom = start + JUMP_DESCENT_S
            rep.ascent_start = at(prof.propulsion_onset)
            rep.ascent_end = at(prof.takeoff_tau_s)
            rep.end = at(prof.end)
            rep.drive_peaks = self._force_peaks(rep, rep.ascent_start, rep.ascent_end, 1)
        return rep

    def _standing_events(self, rep: _Rep, descent_end: float, pause: float, drive_end: float | None = None) -> None:
        grid = np.arange(rep.start, rep.end + _MOVE_STEP_S / 2, _MOVE_STEP_S)
        y = self._displacement(grid, rep)
        if pause > 0.0:
            rep.bottom, rep.ascent_start = descent_end, descent_end + pause
        else:
            lo = descent_end - 0.5
            sel = grid >= lo
            if drive_end is not None:
                sel &= grid <= drive_end
            i = int(np.argmin(np.where(sel, y, np.inf)))
            rep.bottom = rep.ascent_start = float(grid[i])
        hi = rep.ascent_end if drive_end is None else drive_end
        # The drive gets out of the hole: after a pause the descent's braking peak is no drive peak.
        rep.drive_peaks = self._force_peaks(rep, rep.ascent_start - 0.3, hi, 2 if rep.double else 1)

    def _displacement(self, t: np.ndarray, rep: _Rep) -> np.ndarray:
        y = np.zeros_like(t)
        for t0, dur, dy in rep.steps:
            y += dy * _step_pos((t - t0) / dur)
        return y

    def excess_force(self, t: np.ndarray, rep: _Rep) -> np.ndarray:
        """Force above (below) body weight of this rep at times ``t``, N."""
        if rep.jump_t0 is not None:
            prof = self._jump
            return prof.force_n(t - rep.jump_t0 + prof.onset) - prof.baseline_n
        out = np.zeros_like(t)
        for start, width, amp in rep.bumps:
            out += amp * np.square(np.sin(np.pi * np.clip((t - start) / width, 0.0, 1.0)))
        for t0, dur, dy in rep.steps:
            out += self.mass * dy / dur**2 * _step_acc((t - t0) / dur)
        return out

    def _force_peaks(self, rep: _Rep, lo: float, hi: float, count: int) -> tuple[float, ...]:
        grid = np.arange(lo, hi, _MOVE_STEP_S)
        f = self.excess_force(grid, rep)
        if count == 1:
            return (float(grid[int(np.argmax(f))]),)
        peaks, props = find_peaks(f, prominence=0.02 * max(float(f.max()), 1e-9))
        if peaks.size < 2:
            rep.double = False
            return (float(grid[int(np.argmax(f))]),)
        best = np.sort(peaks[np.argsort(props["prominences"])[-2:]])
        return tuple(float(grid[i]) for i in best)

    # -- activation ------------------------------------------------------------------------

    def activation_plan(self, rep: _Rep) -> None:
        s = self.spec
        k = rep.index
        r = np.random.default_rng([s.seed, _S_SHAPE, k])
        # Fixed-size draws: (channel, drive peak) shape parameters, offsets, amplitudes.
        rise = r.uniform(*s.rise_ms, (_N_CH, 2)) / 1000.0
        fall = r.uniform(*s.fall_ms, (_N_CH, 2)) / 1000.0
        p_rise = r.uniform(*s.exponent, (_N_CH, 2))
        p_fall = r.uniform(*s.exponent, (_N_CH, 2))
        qg = r.uniform(-1.0, 1.0) * s.quad_glute_offset_ms / 1000.0
        side = r.uniform(-0.5, 0.5, (2, 2)) * s.side_offset_ms / 1000.0  # (legs, pecs) × (R, L)
        amp = r.uniform(*s.rep_amplitude, _N_CH)
        ecc = r.uniform(*s.eccentric_share, _N_CH)
        ratio = r.uniform(*s.second_peak_ratio)
        weaker_first = r.random() < 0.5
        emd_jitter = r.uniform(-0.005, 0.005)
        ramp_out = r.uniform(0.15, 0.25, _N_CH)
        tric_delay = r.uniform(0.0, 0.06)
        brace = r.uniform(0.2, 0.4)
        lr = np.random.default_rng([s.seed, _S_LAG, k])
        z = float(np.clip(lr.standard_normal(), -3.0, 3.0))
        rep.lag_s = (s.lag_ms + s.lag_jitter_ms * z) / 1000.0
        lo_emd, hi_emd = s.emd_ms[0] / 1000.0, s.emd_ms[1] / 1000.0
        rep.emd_s = float(np.clip(self.emd_s + emd_jitter, lo_emd, hi_emd))

        identical = s.identical_shapes
        if identical:
            rise[:] = s.identical_rise_ms / 1000.0
            fall[:] = s.identical_fall_ms / 1000.0
            p_rise[:] = p_fall[:] = 2.0
            qg, side[:] = 0.0, 0.0
            amp[:] = amp[0]
            tric_delay = 0.0
        # EMG leads force: each leg burst peaks one electromechanical delay before its force peak.
        leg_nominal = [t - rep.emd_s for t in rep.drive_peaks]
        heights = [1.0]
        if len(leg_nominal) == 2:
            heights = [ratio, 1.0] if weaker_first else [1.0, ratio]
            if identical:
                leg_nominal, heights = [leg_nominal[heights.index(1.0)]], [1.0]
        leg_scale = s.bench_leg_share if s.exercise == "bench_press" else 1.0
        tric_scale = 0.7 if s.exercise in ("bench_press", "push_press") else 0.15

        def shape(c: int, j: int) -> tuple[float, float, float, float]:
            return (rise[c, j] / _LN10 ** (1.0 / p_rise[c, j]), fall[c, j] / _LN10 ** (1.0 / p_fall[c, j]),
                    p_rise[c, j], p_fall[c, j])

        bursts, plateaus = [], []
        for c in _LEG:
            sd = 0 if _SIDE[c] == "R" else 1
            offset = (-qg / 2.0 if _MUSCLE[c] == "quad" else qg / 2.0) + side[0, sd]
            for j, (tn, h) in enumerate(zip(leg_nominal, heights, strict=True)):
                bursts.append((c, tn + offset, leg_scale * amp[c] * h, *shape(c, j), 1.0))
        if s.eccentric_on:
            # Legs brake the descent (and hold a squat jump's bottom); on the bench the pectorals
            # lower the bar. The plateau starts with the descent and hands over to the drive.
            ecc_rows = _PEC if s.exercise == "bench_press" else _LEG
            d = rep.bottom - rep.start
            for c in ecc_rows:
                plateaus.append((c, rep.start, 0.4 * d, rep.ascent_start, ramp_out[c], ecc[c]))
        trunk = int(np.flatnonzero(_MUSCLE == "trunk")[0])
        plateaus.append((trunk, rep.start - 0.3, 0.3, rep.end, 0.3, brace))  # bracing through the lift
        rep.bursts = np.array(bursts, dtype=np.float64).reshape(-1, 8)
        rep.plateaus = np.array(plateaus, dtype=np.float64).reshape(-1, 6)
        # The pectoral lag is specified against the leg drive as it is (its argmax, eccentric activity
        # and a double drive included), so true lags stay near the specified ones.
        pec_peak = self.leg_drive_peak(rep) + rep.lag_s
        for c in _PEC:
            sd = 0 if _SIDE[c] == "R" else 1
            bursts.append((c, pec_peak + side[1, sd], amp[c], *shape(c, 0), 1.0))
        tric = int(np.flatnonzero(_MUSCLE == "tric")[0])
        bursts.append((tric, pec_peak + tric_delay, tric_scale * amp[tric], *shape(tric, 0), 0.0))
        rep.bursts = np.array(bursts, dtype=np.float64).reshape(-1, 8)

    def _combined(self, t: np.ndarray, rep: _Rep, rows: np.ndarray, drive_only: bool = False) -> np.ndarray:
        """Mean over ``rows`` of the normalised activations (with tonic unless ``drive_only``)."""
        a = _rep_activation(np.atleast_1d(np.asarray(t, dtype=np.float64)), rep, drive_only=drive_only)[rows]
        return a.mean(axis=0) + (0.0 if drive_only else float(self.tonic[rows].mean()))

    def _drive_window(self, rep: _Rep) -> tuple[float, float]:
        # The concentric drive: from just before the bottom (EMG leads force) to the ascent's end.
        return min(rep.bottom, rep.drive_peaks[0] - rep.emd_s) - 0.3, rep.ascent_end

    def _grid(self, rep: _Rep) -> np.ndarray:
        return np.arange(rep.start - 0.3, rep.end + 1.2, _TRUTH_STEP_S)

    def leg_drive_peak(self, rep: _Rep) -> float:
        grid = self._grid(rep)
        leg = self._combined(grid, rep, _LEG)
        lo, hi = self._drive_window(rep)
        return _refined_argmax(grid, leg, lo, hi, lambda x: self._combined(x, rep, _LEG))

    def peaks(self, rep: _Rep) -> tuple[float, float]:
        """(leg-drive peak, pectoral peak), s: the argmaxes that define the true lag."""
        grid = self._grid(rep)
        every = _rep_activation(grid, rep)
        leg = every[_LEG].mean(axis=0) + self.tonic[_LEG].mean()
        pec = every[_PEC].mean(axis=0) + self.tonic[_PEC].mean()
        lo, hi = self._drive_window(rep)
        leg_peak = _refined_argmax(grid, leg, lo, hi, lambda x: self._combined(x, rep, _LEG))
        pec_peak = _refined_argmax(grid, pec, leg_peak - 0.2, leg_peak + 0.8, lambda x: self._combined(x, rep, _PEC))
        return leg_peak, pec_peak

    def truth(self, rep: _Rep) -> PhysiologyRepTruth:
        grid = self._grid(rep)
        every = _rep_activation(grid, rep)
        leg = every[_LEG].mean(axis=0) + self.tonic[_LEG].mean()
        pec = every[_PEC].mean(axis=0) + self.tonic[_PEC].mean()
        lo, hi = self._drive_window(rep)
        leg_peak, pec_peak = self.peaks(rep)
        leg_on = _onset(grid, leg, leg_peak, float(self._combined(leg_peak, rep, _LEG)[0]), self.tonic[_LEG].mean())
        pec_on = _onset(grid, pec, pec_peak, float(self._combined(pec_peak, rep, _PEC)[0]), self.tonic[_PEC].mean())
        leg_b = self._combined(grid, rep, _LEG, True)
        pec_b = self._combined(grid, rep, _PEC, True)
        lb_peak = _grid_argmax(grid, leg_b, lo, hi)
        pb_peak = _grid_argmax(grid, pec_b, leg_peak - 0.2, leg_peak + 0.8)
        leg_b_on = _onset(grid, leg_b, lb_peak, float(np.interp(lb_peak, grid, leg_b)), 0.0)
        pec_b_on = _onset(grid, pec_b, pb_peak, float(np.interp(pb_peak, grid, pec_b)), 0.0)
        chan_peaks = [(EMG_CHANNELS[c], float(grid[int(np.argmax(every[c]))])) for c in np.concatenate([_LEG, _PEC])]
        return PhysiologyRepTruth(
            index=rep.index, exercise=self.spec.exercise, paused=rep.paused, heavy=rep.double,
            double_peak=rep.double and not self.spec.identical_shapes,
            descent_start_s=rep.start, bottom_s=rep.bottom, ascent_start_s=rep.ascent_start,
            ascent_end_s=rep.ascent_end, rep_end_s=rep.end, drive_force_peaks_s=rep.drive_peaks,
            emd_ms=rep.emd_s * 1000.0, specified_lag_ms=rep.lag_s * 1000.0,
            leg_peak_s=leg_peak, pec_peak_s=pec_peak, lag_ms=(pec_peak - leg_peak) * 1000.0,
            leg_onset_s=leg_on, pec_onset_s=pec_on, onset_lag_ms=(pec_on - leg_on) * 1000.0,
            leg_onset_to_pec_peak_ms=(pec_peak - leg_on) * 1000.0,
            leg_burst_onset_s=leg_b_on, pec_burst_onset_s=pec_b_on,
            burst_onset_lag_ms=(pec_b_on - leg_b_on) * 1000.0,
            channel_peaks_s=tuple(chan_peaks),
        )


def _grid_argmax(grid: np.ndarray, y: np.ndarray, lo: float, hi: float) -> float:
    sel = (grid >= lo) & (grid <= hi)
    return float(grid[int(np.argmax(np.where(sel, y, -np.inf)))])


def _refined_argmax(grid: np.ndarray, y: np.ndarray, lo: float, hi: float, fn) -> float:
    """Argmax of the exact function ``fn`` near the grid maximum of ``y`` within [lo, hi]."""
    t0 = _grid_argmax(grid, y, lo, hi)
    res = minimize_scalar(lambda x: -float(fn(np.array([x]))[0]),
                          bounds=(t0 - _TRUTH_STEP_S, t0 + _TRUTH_STEP_S), method="bounded",
                          options={"xatol": 1e-8})
    return float(res.x)


def _onset(grid: np.ndarray, y: np.ndarray, peak_s: float, peak_value: float, base: float) -> float:
    """Last time before ``peak_s`` at which ``y`` is below ``base`` + 10 % of the rise from ``base`` to
    ``peak_value`` (linear between grid points)."""
    level = base + 0.1 * (peak_value - base)
    i_peak = int(np.searchsorted(grid, peak_s))
    below = np.flatnonzero(y[:i_peak] < level)
    if below.size == 0:
        return float(grid[0])
    i = int(below[-1])
    if i + 1 >= grid.size:
        return float(grid[i])
    y0, y1 = y[i], y[i + 1]
    return float(grid[i] + _TRUTH_STEP_S * (level - y0) / (y1 - y0)) if y1 != y0 else float(grid[i])


# ---- squat jump force (the exercise module's physics) ---------------------------------------


@functools.lru_cache(maxsize=16)
def _jump_profile(system_mass_kg: float, jump_height_m: float) -> ForceProfile:
    # The jump's force curve (descent, hold, propulsion to an exact takeoff velocity, flight,
    # landing) is the one the force metrics are checked against; reused, not re-derived.
    spec = AthleteSpec.for_exercise("squat_jump", body_mass_kg=system_mass_kg, jump_height_m=jump_height_m)
    return build_profile(spec, spec.quiet_s)


# ---- session ---------------------------------------------------------------------------------


def simulate_session(spec: PhysiologySpec, *, n_reps: int | None = None, duration_s: float | None = None
                     ) -> PhysiologySession:
    """Simulate ``n_reps`` reps (the session ends 2 s after the last), or as many as fit in ``duration_s``.

    Deterministic by ``spec.seed``: the same seed gives the same movements, shapes and lags at any
    sampling rate and whatever ECG, eccentric or shape mode is chosen.
    """
    if (n_reps is None) == (duration_s is None):
        raise ValueError("give exactly one of n_reps and duration_s")
    s = spec
    plan, reps = _plan_reps(s, n_reps, duration_s)
    if duration_s is None:
        duration_s = (reps[-1].end if reps else s.lead_in_s) + 2.0

    fs = s.emg_rate_hz
    n = math.floor(duration_s * fs)
    t_emg = np.arange(n) / fs
    act = np.repeat(plan.tonic[:, None], n, axis=1)
    for rep in reps:
        i0, i1 = _span(rep.start - 1.0, rep.end + 1.5, fs, n)
        act[:, i0:i1] += _rep_activation(t_emg[i0:i1], rep)

    volts = s.emg_amplitude_v * plan.gain
    src = np.empty((_N_CH, n))
    for c in range(_N_CH):
        src[c] = volts[c] * act[c] * emg_carrier(n, fs, np.random.default_rng([s.seed, _S_CARRIER, c]))
    mix = np.eye(_N_CH)
    for a, b in _NEIGHBOURS:
        i, j = EMG_CHANNELS.index(a), EMG_CHANNELS.index(b)
        mix[i, j] = mix[j, i] = s.crosstalk
    emg = mix @ src if s.crosstalk > 0.0 else src
    r_peaks = np.zeros(0)
    if s.ecg_on:
        ecg, r_peaks = _ecg(t_emg, plan.heart_rate_bpm, s.heart_rate_variability,
                            np.random.default_rng([s.seed, _S_ECG]))
        r_wave_v = plan.ecg_share * BURST_PEAK_PER_RMS * s.emg_amplitude_v
        emg += (r_wave_v * _ECG_GAIN)[:, None] * ecg[None, :]
    noise_rms = s.emg_amplitude_v / 10.0 ** (s.snr_db / 20.0)
    for c in range(_N_CH):
        emg[c] += noise_rms * band_noise(n, fs, np.random.default_rng([s.seed, _S_NOISE, c]), _NOISE_BAND_HZ)

    force = _force(plan, reps, duration_s)
    return PhysiologySession(
        spec=s, emg_channels=EMG_CHANNELS, emg=emg, activation=act, emg_rate_hz=fs,
        force_channels=FORCE_CHANNELS, force=force, force_rate_hz=s.force_rate_hz,
        reps=[plan.truth(rep) for rep in reps], body_weight_n=plan.body_weight_n,
        heart_rate_bpm=plan.heart_rate_bpm, ecg_share=plan.ecg_share if s.ecg_on else 0.0, r_peaks_s=r_peaks,
        electrode_gain=plan.gain, noise_rms_v=noise_rms,
    )


def _plan_reps(s: PhysiologySpec, n_reps: int | None, duration_s: float | None) -> tuple[_Planner, list[_Rep]]:
    """The session's planner and its reps (movement and activation components), before any signal."""
    plan = _Planner(s)
    reps: list[_Rep] = []
    t = s.lead_in_s
    rest = np.random.default_rng([s.seed, _S_REST])
    while n_reps is None or len(reps) < n_reps:
        rep = plan.movement(len(reps), t)
        if duration_s is not None and rep.end + 1.5 > duration_s:
            break
        plan.activation_plan(rep)
        reps.append(rep)
        t = rep.end + rest.uniform(*s.rest_s)
    return plan, reps


def _span(lo_s: float, hi_s: float, fs: float, n: int) -> tuple[int, int]:
    return max(0, math.floor(lo_s * fs)), min(n, math.ceil(hi_s * fs) + 1)


def _ecg(t: np.ndarray, bpm: float, hrv: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Unit-R-wave ECG at times ``t`` and its R-peak times."""
    rr = 60.0 / bpm
    count = int(t[-1] / rr) + 3 if t.size else 0
    intervals = rr * (1.0 + hrv * np.clip(rng.standard_normal(count), -3.0, 3.0))
    beats = rng.uniform(0.0, rr) + np.concatenate([[0.0], np.cumsum(intervals[:-1])])
    beats = beats[beats < (t[-1] if t.size else 0.0) + 0.5]
    out = np.zeros_like(t)
    if t.size < 2:
        return out, beats
    fs = 1.0 / (t[1] - t[0])
    half = math.ceil(0.45 * fs)
    offsets = np.arange(-half, half + 1)
    centre = np.round(beats * fs).astype(int)
    idx = centre[:, None] + offsets[None, :]
    dt = idx / fs - beats[:, None]
    wave = np.zeros(idx.shape)
    for off, a, sd in _ECG_WAVES:
        wave += a * np.exp(-0.5 * np.square((dt - off) / sd))
    keep = (idx >= 0) & (idx < t.size)
    np.add.at(out, idx[keep], wave[keep])
    return out, beats


def _force(plan: _Planner, reps: list[_Rep], duration_s: float) -> np.ndarray:
    s = plan.spec
    fs = s.force_rate_hz
    m = math.floor(duration_s * fs)
    t = np.arange(m) / fs
    total = np.full(m, plan.body_weight_n)
    for rep in reps:
        j0, j1 = _span(rep.start - 0.05, rep.end + 0.05, fs, m)
        total[j0:j1] += plan.excess_force(t[j0:j1], rep)
    share_left = (1.0 + s.asymmetry) / 2.0
    out = np.empty((2, m))
    out[0] = share_left * total
    out[1] = (1.0 - share_left) * total
    if s.sway_n > 0.0 and m > 0:
        sway = band_noise(m, fs, np.random.default_rng([s.seed, _S_SWAY, 0]), _SWAY_BAND_HZ)
        bob = band_noise(m, fs, np.random.default_rng([s.seed, _S_SWAY, 1]), _SWAY_BAND_HZ)
        # Weight shifts from foot to foot (left gains what right loses) and the body bobs a little;
        # nobody sways on an empty plate (a jump's flight).
        on_plate = total > 0.0
        out[0] += on_plate * (s.sway_n * sway + 0.1 * s.sway_n * bob)
        out[1] += on_plate * (-s.sway_n * sway + 0.1 * s.sway_n * bob)
    if s.plate_noise_n > 0.0:
        out += s.plate_noise_n * np.random.default_rng([s.seed, _S_FORCE]).standard_normal((2, m))
    return out


# ---- to the analyzer -----------------------------------------------------------------------


def session_recording(session: PhysiologySession, station: str = "sim-physiology", t0_ns: int = 0) -> Recording:
    """The session as a recording (one EMG track, one force track) for ``kinesync.streaming.offline``."""
    tracks = [
        Track(SensorKind.EMG, f"{station}-emg", session.emg_channels, ("V",), session.emg_rate_hz,
              session.emg.astype(np.float32), t0_ns),
        Track(SensorKind.FORCE, f"{station}-force", session.force_channels, ("N",), session.force_rate_hz,
              session.force.astype(np.float32), t0_ns),
    ]
    return Recording(station, tracks, source="physiology simulator")


def session_frames(session: PhysiologySession, station: str = "sim-physiology", *, frame_s: float = 0.05,
                   t0_ns: int = 0) -> list[Frame]:
    """The session as KineSync frames of ``frame_s``, interleaved in time as devices send them."""
    return to_frames(session_recording(session, station, t0_ns), frame_s)
