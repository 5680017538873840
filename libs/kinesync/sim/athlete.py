"""A simulated athlete: four EMG channels and a dual force plate with exact per-rep ground truth.

Time is cut into rep periods of ``rep_period_s``. Period k covers [k·P, (k+1)·P) seconds since the
athlete's session start and is generated on its own from random generators seeded by
(seed, k, stream, channel), so any sample can be produced without the ones before it: the output
does not depend on how a caller chunks its requests.

Inside a period (τ = time since the period start)::

    0 ............ quiet standing ............ movement start ... leg peak ... movement end .. P
                                               (force onset)      (bottom, peak drive force)

The vertical displacement of the centre of mass is y(τ) = −D·sin⁴(π·u), u = (τ − τ0)/T ∈ [0, 1],
so velocity and acceleration are zero at both ends and the vertical force obeys impulse–momentum
exactly: F = m·(g + y''), below body weight on the way down, above it on the drive, net impulse 0.
Leg muscles (quadriceps, gluteus) fire a burst peaking at the bottom of the squat; the pectoralis
fires the same burst shape shifted by the rep's lag. Every muscle has its own independent random
carrier, so the envelopes differ by carrier fluctuations as real ones do.

Other exercises (``AthleteSpec.exercise``: push press, squat jump with a flight phase, bench press
with leg drive) and their force curves are described in ``kinesync.sim.exercise``; the leg burst
always peaks at the drive's peak force. Artefacts (mains hum at ``mains_hz``, low-frequency motion
artefact, channel dropouts, clipping) are spec fields, all off by default.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from kinesync.sim.bar import BarProfile, build_bar
from kinesync.sim.emg import band_noise, emg_carrier
from kinesync.sim.exercise import (
    EXERCISES,
    RFD_SPANS_S,
    STANDARD_GRAVITY_M_S2,
    ForceProfile,
    build_profile,
    descent_s,
    movement_duration_s,
)
from kinesync.sim.outcome import UNCOUPLED_EXERCISES, LagOutcome, couple_force, couple_truth

__all__ = ["EXERCISES", "MIN_QUIET_S", "STANDARD_GRAVITY_M_S2", "AthleteSpec", "RepTruth", "SimAthlete"]

MIN_QUIET_S = 1.3
_NOISE_BAND_HZ = (10.0, 500.0)
_MOTION_BAND_HZ = (1.0, 20.0)
EMG_CHANNEL_NAMES = ("quad", "glute", "pec", "spare")
FORCE_CHANNEL_NAMES = (
    "fz_left_1", "fz_left_2", "fz_left_3", "fz_left_4",
    "fz_right_1", "fz_right_2", "fz_right_3", "fz_right_4",
)  # fmt: skip
# Share of each plate's vertical load carried by each of its four load cells (a stance slightly
# off the plate centre); any split summing to 1 leaves the plate total unchanged.
_CELL_SHARES = np.array([0.27, 0.24, 0.26, 0.23])
BAR_CHANNEL_NAMES = ("bar_z",)  # LPT: bar height above the floor unit, m
IMU_CHANNEL_NAMES = ("bar_az",)  # bar IMU: vertical acceleration, m/s², +g at rest
_STREAM_EMG_CARRIER, _STREAM_EMG_NOISE, _STREAM_FORCE, _STREAM_REP, _STREAM_MOTION = 1, 2, 3, 4, 5
_STREAM_BAR, _STREAM_IMU = 6, 7
_ALL_CHANNEL_NAMES = EMG_CHANNEL_NAMES + FORCE_CHANNEL_NAMES + BAR_CHANNEL_NAMES + IMU_CHANNEL_NAMES


@dataclass(frozen=True)
class AthleteSpec:
    """Parameters of a simulated athlete (units in the names).

    Attributes:
        lag_ms: true delay of the pectoral burst behind the leg-drive burst, ms.
        lag_jitter_ms: SD of a per-rep Gaussian jitter added to ``lag_ms`` (clipped at ±3 SD), ms.
        lag_schedule_ms: (first rep index, lag ms) pairs in rising rep order: from that rep on, the
            true lag is that value instead of ``lag_ms`` (blocks of a session plan, e.g. timing that
            improves after a priming block); jitter applies as before.
        rep_period_s: one rep every this many seconds; quiet standing fills the start of each period.
        body_mass_kg: body mass, kg (body weight = m·g).
        emg_rate_hz, force_rate_hz: sampling rates, Hz (any positive value, e.g. 1925.926).
        snr_db: 20·log10(burst RMS / sensor-noise RMS) per EMG channel, dB.
        emg_amplitude_v: burst RMS (over the burst's full width at half maximum), V.
        asymmetry: left share − right share of vertical force (−1..1).
        hum_share: RMS of a 50 Hz mains hum relative to the burst RMS (0 = none).
        seed: seed of every random draw.
        movement_s: duration of the squat movement (standing → bottom → standing), s.
        depth_m: squat depth (centre-of-mass excursion), m.
        rise_s, fall_s: burst rise (onset → peak) and fall (peak → end) times, s. The defaults
            describe a ballistic drive (EMG reaches its peak about 100 ms after onset); slower
            bursts carry less timing information (see docs/metrics.md, "Simulator").
        tonic_share: resting muscle activity relative to the burst peak.
        plate_noise_n: SD of the load-cell noise of one plate (sum of its four cells), N.
        tail_s: quiet time after the movement before the next period, s.
        exercise: one of ``back_squat`` (default), ``bench_press``, ``push_press``, ``squat_jump``
            (force curves: ``kinesync.sim.exercise``).
        bar_mass_kg: barbell mass carried by the standing athlete, kg: it moves with the system and
            its weight is on the plates (ignored for ``bench_press``: the bench carries it).
        dip_m: push-press dip depth (centre-of-mass excursion), m.
        jump_height_m: squat-jump height of the centre of mass above takeoff, m; the takeoff
            velocity is v0 = √(2·g·h) and the flight lasts exactly 2·v0/g.
        squat_hold_s: squat-jump hold at the bottom before the propulsion, s (0 = none).
        foot_preload_n: bench press: vertical force of the feet on the plates at rest, N.
        leg_drive_n: bench press: peak rise of the foot force during the leg drive, N.
        mains_hz: mains frequency of the hum, Hz (50 or 60).
        motion_artefact_share: RMS of a 1–20 Hz motion artefact on every EMG channel during the
            movement, relative to the burst RMS (0 = none).
        dropouts: (channel, start_s, duration_s) triples: the named EMG or load-cell channel reads
            exactly 0 over [start_s, start_s + duration_s) since the session start.
        clip_v: EMG clipping level, V (samples beyond ±clip_v read ±clip_v); None = no clipping.
        bar_rate_hz: sampling rate of the linear position transducer on the bar, Hz.
        bar_noise_m: SD of the transducer's white position noise, m.
        bar_height_m: bar height above the transducer at rest (standing, or lock-out on the bench), m.
        bench_travel_m: bench press: bar travel from lock-out to the chest, m (bar model:
            ``kinesync.sim.bar``).
        concentric_share: back squat and bench press: share of ``movement_s`` spent rising from the
            bottom (0.5: as long as the descent; more: a slow ascent, a grind with a sticking region).
        imu_rate_hz, imu_noise_m_s2, imu_bias_m_s2: a bar-mounted accelerometer's rate (Hz), white
            noise SD and constant bias of its vertical axis (m/s²).
        outcome: lag–outcome coupling (``kinesync.sim.outcome``): the drive, and so RFD, peak force
            and impulses, scale with a gain that is 1 inside the athlete's best lag band; None = none.
    """

    lag_ms: float = 100.0
    lag_jitter_ms: float = 0.0
    lag_schedule_ms: tuple[tuple[int, float], ...] = ()
    rep_period_s: float = 3.0
    body_mass_kg: float = 80.0
    emg_rate_hz: float = 2000.0
    force_rate_hz: float = 1000.0
    snr_db: float = 20.0
    emg_amplitude_v: float = 1e-3
    asymmetry: float = 0.0
    hum_share: float = 0.0
    seed: int = 0
    movement_s: float = 1.4
    depth_m: float = 0.4
    concentric_share: float = 0.5
    rise_s: float = 0.1
    fall_s: float = 0.2
    tonic_share: float = 0.02
    plate_noise_n: float = 1.5
    tail_s: float = 0.2
    exercise: str = "back_squat"
    bar_mass_kg: float = 0.0
    dip_m: float = 0.12
    jump_height_m: float = 0.25
    squat_hold_s: float = 0.3
    foot_preload_n: float = 150.0
    leg_drive_n: float = 250.0
    mains_hz: float = 50.0
    motion_artefact_share: float = 0.0
    dropouts: tuple[tuple[str, float, float], ...] = ()
    clip_v: float | None = None
    bar_rate_hz: float = 1000.0
    bar_noise_m: float = 0.0002
    bar_height_m: float = 1.4
    bench_travel_m: float = 0.35
    imu_rate_hz: float = 500.0
    imu_noise_m_s2: float = 0.05
    imu_bias_m_s2: float = 0.03
    outcome: LagOutcome | None = None

    def __post_init__(self) -> None:
        if self.emg_rate_hz <= 0 or self.force_rate_hz <= 0 or self.bar_rate_hz <= 0 or self.imu_rate_hz <= 0:
            raise ValueError("sampling rates must be positive")
        if not -1.0 <= self.asymmetry <= 1.0:
            raise ValueError(f"asymmetry must lie in [-1, 1], got {self.asymmetry}")
        if self.seed < 0:
            raise ValueError("seed must be >= 0")
        durations = {"movement_s": self.movement_s, "rise_s": self.rise_s, "fall_s": self.fall_s}
        for name, value in durations.items():
            if not value > 0.0:
                raise ValueError(f"{name} must be positive, got {value}")
        if self.depth_m < 0 or self.plate_noise_n < 0 or self.tail_s < 0 or self.lag_jitter_ms < 0:
            raise ValueError("depth_m, plate_noise_n, tail_s and lag_jitter_ms must be >= 0")
        if self.exercise not in EXERCISES:
            raise ValueError(f"exercise must be one of {EXERCISES}, got {self.exercise!r}")
        non_negative = {
            "bar_mass_kg": self.bar_mass_kg, "dip_m": self.dip_m, "squat_hold_s": self.squat_hold_s,
            "foot_preload_n": self.foot_preload_n, "leg_drive_n": self.leg_drive_n,
            "hum_share": self.hum_share, "motion_artefact_share": self.motion_artefact_share,
            "bar_noise_m": self.bar_noise_m, "bench_travel_m": self.bench_travel_m,
            "imu_noise_m_s2": self.imu_noise_m_s2,
        }  # fmt: skip
        for name, value in non_negative.items():
            if not value >= 0.0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if not self.jump_height_m > 0.0 or not self.mains_hz > 0.0:
            raise ValueError("jump_height_m and mains_hz must be positive")
        if self.outcome is not None and self.exercise in UNCOUPLED_EXERCISES:
            raise ValueError(f"{self.exercise} cannot carry a lag-outcome coupling")
        if self.clip_v is not None and not self.clip_v > 0.0:
            raise ValueError(f"clip_v must be positive or None, got {self.clip_v}")
        for dropout in self.dropouts:
            name, start_s, duration_s = dropout
            if name not in _ALL_CHANNEL_NAMES or start_s < 0 or duration_s < 0:
                raise ValueError(f"bad dropout {dropout}: need (channel name, start_s >= 0, duration_s >= 0)")
        if not 0.3 <= self.concentric_share <= 0.85:
            raise ValueError(f"concentric_share must lie in [0.3, 0.85], got {self.concentric_share}")
        if not 0.0 <= self.tonic_share < 1.0:
            raise ValueError(f"tonic_share must lie in [0, 1), got {self.tonic_share}")
        if self.quiet_s < MIN_QUIET_S:
            raise ValueError(
                f"quiet standing of {self.quiet_s:.3f} s is shorter than {MIN_QUIET_S} s: "
                "lengthen rep_period_s or shorten movement_s / tail_s (a squat jump lasts its phases, "
                "see kinesync.sim.exercise)"
            )
        profile = build_profile(self, self.quiet_s)
        if profile.mass_kg is not None and profile.min_contact_force_n() < 0.0:
            raise ValueError(f"{self.exercise}: the force curve goes below 0 N in contact; change its parameters")
        leg_onset = self.quiet_s + profile.leg_peak_offset_s - self.rise_s
        spread_s = 3.0 * self.lag_jitter_ms / 1000.0
        firsts = [k for k, _ in self.lag_schedule_ms]
        if any(k < 0 for k in firsts) or firsts != sorted(set(firsts)):
            raise ValueError("lag_schedule_ms: first rep indices must be >= 0 and rising")
        lags_s = [self.lag_ms / 1000.0, *(lag / 1000.0 for _, lag in self.lag_schedule_ms)]
        lag_lo, lag_hi = min(lags_s) - spread_s, max(lags_s) + spread_s
        burst_s = self.rise_s + self.fall_s
        if leg_onset < 0.0 or leg_onset + burst_s > self.rep_period_s:
            raise ValueError("the leg burst must fit inside the rep period")
        if leg_onset + lag_lo < 0.0 or leg_onset + lag_hi + burst_s > self.rep_period_s:
            raise ValueError("the pectoral burst (lag ± 3 jitter SD) must fit inside the rep period")

    @property
    def quiet_s(self) -> float:
        """Quiet standing at the start of each period, s."""
        return self.rep_period_s - movement_duration_s(self) - self.tail_s

    @classmethod
    def for_exercise(cls, exercise: str, **fields) -> AthleteSpec:
        """A spec with defaults that suit ``exercise`` (a 4 s period for jumps, a 60 kg bar for the
        push press); any field can be overridden by keyword."""
        defaults: dict = {"exercise": exercise}
        if exercise == "squat_jump":
            defaults["rep_period_s"] = 4.0
        elif exercise == "push_press":
            defaults["bar_mass_kg"] = 60.0
        elif exercise == "back_squat":
            defaults["bar_mass_kg"] = 0.0
        defaults.update(fields)
        return cls(**defaults)


@dataclass(frozen=True)
class RepTruth:
    """Exact ground truth of one simulated rep; times in s since the session start.

    Forces are the total vertical force on both plates. ``body_weight_n`` is the force at rest (body
    plus bar weight standing; the foot preload on the bench). ``force_onset_s`` is the true departure
    from it; the RFDs are (F(onset + span) − F(onset))/span of the noise-free curve and
    ``peak_rfd_n_s`` the steepest 20 ms mean slope in the first 200 ms. ``net_impulse_n_s`` is
    ∫(F − BW) dt over the whole rep (0 for standing exercises by impulse–momentum; the leg-drive
    impulse on the bench); ``propulsive_impulse_n_s`` is ∫max(F − BW, 0) dt over the rep, up to
    takeoff for a jump. Jumps: ``takeoff_impulse_n_s`` = ∫(F − BW) dt from onset to takeoff = m·v0,
    ``flight_time_s`` = 2·v0/g, ``jump_height_m`` = v0²/(2g). Bar: the concentric phase
    [``concentric_start_s``, ``concentric_end_s``] (velocity above 0.05 m/s around its peak), its rise
    ``concentric_displacement_m``, mean velocity (rise/duration) and peak velocity, cut at takeoff for a
    jump; the propulsive phase's end and mean velocity (``kinesync.sim.bar``).
    """

    index: int
    leg_onset_s: float
    leg_peak_s: float
    leg_end_s: float
    pec_onset_s: float
    pec_peak_s: float
    pec_end_s: float
    lag_s: float
    force_onset_s: float
    force_end_s: float
    peak_force_s: float
    peak_force_n: float
    body_weight_n: float
    net_impulse_n_s: float
    propulsive_impulse_n_s: float
    left_share: float
    burst_rms_v: float
    noise_rms_v: float
    exercise: str = "back_squat"
    rfd_0_50_n_s: float | None = None
    rfd_0_100_n_s: float | None = None
    rfd_0_200_n_s: float | None = None
    peak_rfd_n_s: float | None = None
    propulsion_onset_s: float | None = None
    takeoff_s: float | None = None
    landing_s: float | None = None
    flight_time_s: float | None = None
    takeoff_velocity_m_s: float | None = None
    takeoff_impulse_n_s: float | None = None
    jump_height_m: float | None = None
    concentric_start_s: float | None = None
    concentric_end_s: float | None = None
    concentric_displacement_m: float | None = None
    mean_concentric_velocity_m_s: float | None = None
    peak_concentric_velocity_m_s: float | None = None
    mean_propulsive_velocity_m_s: float | None = None
    propulsive_end_s: float | None = None

    @property
    def asymmetry_pct(self) -> float:
        """(L − R)/(L + R)·100 of peak force and of impulse (the split is the same at every instant), %."""
        return (2.0 * self.left_share - 1.0) * 100.0


class SimAthlete:
    """Deterministic, chunk-invariant sample source for one simulated athlete."""

    EMG_CHANNELS = EMG_CHANNEL_NAMES
    EMG_UNITS = "V"
    FORCE_CHANNELS = FORCE_CHANNEL_NAMES
    FORCE_UNITS = "N"
    BAR_CHANNELS = BAR_CHANNEL_NAMES
    BAR_UNITS = "m"
    IMU_CHANNELS = IMU_CHANNEL_NAMES
    IMU_UNITS = "m/s^2"
    _CACHE_PERIODS = 3

    def __init__(self, spec: AthleteSpec | None = None) -> None:
        self.spec = spec or AthleteSpec()
        s = self.spec
        self.profile: ForceProfile = build_profile(s, s.quiet_s)
        # Force at rest on the plates: body (plus bar) weight standing, the foot preload on the bench.
        self.body_weight_n = self.profile.baseline_n
        self.bar_profile: BarProfile = build_bar(s, self.profile)
        self._system_mass_kg = s.body_mass_kg + s.bar_mass_kg
        # The squat's bottom: the descent −D·sin⁴(πu/2) reaches y'' = D·π²/descent² there.
        self._peak_accel_m_s2 = s.depth_m * (math.pi / descent_s(s)) ** 2
        self._burst_peak_v = s.emg_amplitude_v / self._fwhm_rms_per_peak()
        self.noise_rms_v = s.emg_amplitude_v / 10.0 ** (s.snr_db / 20.0)
        self._emg_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._force_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._bar_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._imu_cache: OrderedDict[int, np.ndarray] = OrderedDict()

    # ---- public API -------------------------------------------------------------------------

    def emg(self, i0: int, n: int) -> np.ndarray:
        """EMG samples i0..i0+n−1 at ``emg_rate_hz``, shape (4, n), volts (channels EMG_CHANNELS)."""
        return self._samples(i0, n, self.spec.emg_rate_hz, 4, self._emg_cache, self._emg_period)

    def force(self, j0: int, m: int) -> np.ndarray:
        """Load-cell samples j0..j0+m−1 at ``force_rate_hz``, shape (8, m), newtons (FORCE_CHANNELS)."""
        return self._samples(j0, m, self.spec.force_rate_hz, 8, self._force_cache, self._force_period)

    def bar(self, j0: int, m: int) -> np.ndarray:
        """LPT samples j0..j0+m−1 at ``bar_rate_hz``, shape (1, m): bar height, m (channels BAR_CHANNELS)."""
        return self._samples(j0, m, self.spec.bar_rate_hz, 1, self._bar_cache, self._bar_period)

    def bar_accel(self, j0: int, m: int) -> np.ndarray:
        """Bar IMU samples j0..j0+m−1 at ``imu_rate_hz``, shape (1, m): vertical acceleration + g, m/s²."""
        return self._samples(j0, m, self.spec.imu_rate_hz, 1, self._imu_cache, self._imu_period)

    def reps(self, t_start_s: float, t_end_s: float) -> list[RepTruth]:
        """Ground truth of the reps whose leg-burst peak lies in [t_start_s, t_end_s)."""
        s = self.spec
        peak_offset_s = s.quiet_s + self.profile.leg_peak_offset_s
        k_lo = max(0, math.floor((t_start_s - peak_offset_s) / s.rep_period_s))
        k_hi = math.floor((t_end_s - peak_offset_s) / s.rep_period_s) + 1
        truths = [self.rep(k) for k in range(k_lo, max(k_lo, k_hi + 1))]
        return [r for r in truths if t_start_s <= r.leg_peak_s < t_end_s]

    def rep(self, k: int) -> RepTruth:
        """Ground truth of the rep in period ``k`` (k >= 0)."""
        s = self.spec
        t0 = k * s.rep_period_s
        lag_s = self.rep_lag_s(k)
        move_s = t0 + s.quiet_s
        leg_peak = move_s + self.profile.leg_peak_offset_s
        leg_onset = leg_peak - s.rise_s
        truth = self.profile.truth
        if s.exercise == "back_squat":
            propulsive = truth.propulsive_impulse_n_s
            peak_force_s, peak_force_n = leg_peak, self.body_weight_n + self._system_mass_kg * self._peak_accel_m_s2
            force_end_s = move_s + s.movement_s
        else:
            propulsive = truth.propulsive_impulse_n_s
            peak_force_s, peak_force_n = t0 + truth.peak_force_tau_s, truth.peak_force_n
            force_end_s = t0 + truth.end_tau_s
            move_s = t0 + truth.onset_tau_s

        def at(tau: float | None) -> float | None:
            return None if tau is None else t0 + tau

        flight = None
        if truth.takeoff_tau_s is not None and truth.landing_tau_s is not None:
            flight = truth.landing_tau_s - truth.takeoff_tau_s
        v0 = truth.takeoff_velocity_m_s
        bar = self.bar_profile.truth(self.drive_gain(k))  # the bar moves with the (coupled) drive
        return self._coupled_truth(k, RepTruth(
            index=k,
            leg_onset_s=leg_onset,
            leg_peak_s=leg_peak,
            leg_end_s=leg_peak + s.fall_s,
            pec_onset_s=leg_onset + lag_s,
            pec_peak_s=leg_peak + lag_s,
            pec_end_s=leg_peak + lag_s + s.fall_s,
            lag_s=lag_s,
            force_onset_s=move_s,
            force_end_s=force_end_s,
            peak_force_s=peak_force_s,
            peak_force_n=peak_force_n,
            body_weight_n=self.body_weight_n,
            net_impulse_n_s=truth.net_impulse_n_s,
            propulsive_impulse_n_s=propulsive,
            left_share=(1.0 + s.asymmetry) / 2.0,
            burst_rms_v=s.emg_amplitude_v,
            noise_rms_v=self.noise_rms_v,
            exercise=s.exercise,
            rfd_0_50_n_s=truth.rfd_n_s[RFD_SPANS_S.index(0.050)],
            rfd_0_100_n_s=truth.rfd_n_s[RFD_SPANS_S.index(0.100)],
            rfd_0_200_n_s=truth.rfd_n_s[RFD_SPANS_S.index(0.200)],
            peak_rfd_n_s=truth.peak_rfd_n_s,
            propulsion_onset_s=at(truth.propulsion_onset_tau_s),
            takeoff_s=at(truth.takeoff_tau_s),
            landing_s=at(truth.landing_tau_s),
            flight_time_s=flight,
            takeoff_velocity_m_s=v0,
            takeoff_impulse_n_s=truth.takeoff_impulse_n_s,
            jump_height_m=None if v0 is None else v0 * v0 / (2.0 * STANDARD_GRAVITY_M_S2),
            concentric_start_s=t0 + bar.start_tau_s,
            concentric_end_s=t0 + bar.end_tau_s,
            concentric_displacement_m=bar.displacement_m,
            mean_concentric_velocity_m_s=bar.mean_concentric_velocity_m_s,
            peak_concentric_velocity_m_s=bar.peak_concentric_velocity_m_s,
            mean_propulsive_velocity_m_s=bar.mean_propulsive_velocity_m_s,
            propulsive_end_s=t0 + bar.propulsive_end_tau_s,
        ))

    def drive_gain(self, k: int) -> float:
        """Drive gain of rep ``k`` from the lag–outcome coupling (1 without one)."""
        outcome = self.spec.outcome
        return 1.0 if outcome is None else outcome.gain(self.rep_lag_s(k) * 1000.0)

    def _coupled_truth(self, k: int, truth: RepTruth) -> RepTruth:
        return couple_truth(truth, self.drive_gain(k))

    def rep_lag_s(self, k: int) -> float:
        """Realised pectoral lag of rep ``k``, s."""
        s = self.spec
        lag_ms = next((lag for first, lag in reversed(s.lag_schedule_ms) if k >= first), s.lag_ms)
        if s.lag_jitter_ms <= 0.0:
            return lag_ms / 1000.0
        z = float(np.clip(self._rng(k, _STREAM_REP, 0).standard_normal(), -3.0, 3.0))
        return (lag_ms + s.lag_jitter_ms * z) / 1000.0

    def vertical_force_n(self, t_s: np.ndarray) -> np.ndarray:
        """Noise-free total vertical force at times ``t_s`` (s since session start), N."""
        s = self.spec
        tau = np.mod(np.asarray(t_s, dtype=np.float64), s.rep_period_s)
        return self.profile.force_n(tau)

    # ---- period generation ------------------------------------------------------------------

    def _emg_period(self, k: int, start: int, stop: int) -> np.ndarray:
        s = self.spec
        fs, n = s.emg_rate_hz, stop - start
        tau = np.arange(start, stop) / fs - k * s.rep_period_s
        leg_onset = s.quiet_s + self.profile.leg_peak_offset_s - s.rise_s
        leg = self._activation(tau - leg_onset)
        pec = self._activation(tau - leg_onset - self.rep_lag_s(k))
        activation = (leg, leg, pec, np.zeros(n))
        out = np.empty((4, n))
        for c in range(4):
            noise = band_noise(n, fs, self._rng(k, _STREAM_EMG_NOISE, c), _NOISE_BAND_HZ)
            out[c] = self.noise_rms_v * noise
            if c != self.EMG_CHANNELS.index("spare"):
                carrier = emg_carrier(n, fs, self._rng(k, _STREAM_EMG_CARRIER, c))
                out[c] += self._burst_peak_v * activation[c] * carrier
        if s.hum_share > 0.0:
            # Hum is a function of absolute time, continuous across periods; phase differs per channel.
            t = np.arange(start, stop) / fs
            phases = np.arange(4)[:, None] * (np.pi / 3.0) + s.seed
            out += s.hum_share * s.emg_amplitude_v * math.sqrt(2.0) * np.sin(2 * np.pi * s.mains_hz * t + phases)
        if s.motion_artefact_share > 0.0:
            # Cable and skin motion: 1–20 Hz, only while moving, tapered to zero at both ends of the
            # movement (so periods join without a step); sin² has mean square 3/8 over the movement.
            u = np.clip((tau - self.profile.onset) / self.profile.duration_s, 0.0, 1.0)
            taper = np.square(np.sin(np.pi * u)) / math.sqrt(3.0 / 8.0)
            for c in range(4):
                wobble = band_noise(n, fs, self._rng(k, _STREAM_MOTION, c), _MOTION_BAND_HZ)
                out[c] += s.motion_artefact_share * s.emg_amplitude_v * taper * wobble
        self._apply_dropouts(out, self.EMG_CHANNELS, start, stop, fs)
        if s.clip_v is not None:
            np.clip(out, -s.clip_v, s.clip_v, out=out)
        return out

    def _force_period(self, k: int, start: int, stop: int) -> np.ndarray:
        s = self.spec
        total = couple_force(self.vertical_force_n(np.arange(start, stop) / s.force_rate_hz), self.body_weight_n,
                             self.drive_gain(k))
        sides = np.array([(1.0 + s.asymmetry) / 2.0, (1.0 - s.asymmetry) / 2.0])
        shares = (sides[:, None] * _CELL_SHARES[None, :]).reshape(8)
        cell_noise_n = s.plate_noise_n / 2.0  # four independent cells sum to the plate SD
        noise = self._rng(k, _STREAM_FORCE, 0).standard_normal((8, stop - start))
        out = shares[:, None] * total[None, :] + cell_noise_n * noise
        self._apply_dropouts(out, self.FORCE_CHANNELS, start, stop, s.force_rate_hz)
        return out

    def _bar_period(self, k: int, start: int, stop: int) -> np.ndarray:
        s = self.spec
        tau = np.arange(start, stop) / s.bar_rate_hz - k * s.rep_period_s
        y, _ = self.bar_profile.kinematics(tau, self.drive_gain(k))
        noise = self._rng(k, _STREAM_BAR, 0).standard_normal(stop - start)
        out = (s.bar_height_m + y + s.bar_noise_m * noise)[None, :]
        self._apply_dropouts(out, self.BAR_CHANNELS, start, stop, s.bar_rate_hz)
        return out

    def _imu_period(self, k: int, start: int, stop: int) -> np.ndarray:
        s = self.spec
        tau = np.arange(start, stop) / s.imu_rate_hz - k * s.rep_period_s
        # A real accelerometer low-passes before it samples (its anti-aliasing and decimation
        # filters): each sample is the mean acceleration over its sample period, centred on its
        # time stamp, i.e. the exact velocity change over that period. Point samples of the
        # acceleration would alias the step at a lift's lock-out (half a sample's worth of
        # deceleration, ~5 mm/s at 500 Hz, that no integration can recover).
        half = 0.5 / s.imu_rate_hz
        gain = self.drive_gain(k)
        accel = (self.bar_profile.kinematics(tau + half, gain)[1]
                 - self.bar_profile.kinematics(tau - half, gain)[1]) / (2.0 * half)
        noise = self._rng(k, _STREAM_IMU, 0).standard_normal(stop - start)
        out = (accel + STANDARD_GRAVITY_M_S2 + s.imu_bias_m_s2 + s.imu_noise_m_s2 * noise)[None, :]
        self._apply_dropouts(out, self.IMU_CHANNELS, start, stop, s.imu_rate_hz)
        return out

    def _apply_dropouts(self, out: np.ndarray, names: tuple[str, ...], start: int, stop: int, fs_hz: float) -> None:
        # A dropout is a function of absolute sample time, so it is chunk-invariant like the rest.
        for name, t_start_s, duration_s in self.spec.dropouts:
            if name in names:
                t = np.arange(start, stop) / fs_hz
                out[names.index(name), (t >= t_start_s) & (t < t_start_s + duration_s)] = 0.0

    def _activation(self, u_s: np.ndarray) -> np.ndarray:
        """Tonic level plus a raised-cosine burst starting at u = 0 (s), peak 1 at u = rise_s."""
        s = self.spec
        rise = 0.5 * (1.0 - np.cos(np.pi * np.clip(u_s / s.rise_s, 0.0, 1.0)))
        fall = 0.5 * (1.0 + np.cos(np.pi * np.clip((u_s - s.rise_s) / s.fall_s, 0.0, 1.0)))
        return s.tonic_share + np.where(u_s < s.rise_s, rise, fall)

    def _fwhm_rms_per_peak(self) -> float:
        s = self.spec
        # RMS of the unit-peak activation over its full width at half maximum, on a fine grid.
        u = np.linspace(s.rise_s / 2.0, s.rise_s + s.fall_s / 2.0, 20001)
        return float(np.sqrt(np.mean(np.square(self._activation(u)))))

    # ---- chunking ---------------------------------------------------------------------------

    def _period_start(self, k: int, fs_hz: float) -> int:
        return math.ceil(k * self.spec.rep_period_s * fs_hz)

    def _samples(self, i0, n, fs_hz, n_channels, cache, make) -> np.ndarray:
        if i0 < 0 or n < 0:
            raise ValueError(f"sample index and count must be >= 0, got i0={i0}, n={n}")
        out = np.empty((n_channels, n))
        if n == 0:
            return out
        k = int((i0 / fs_hz) // self.spec.rep_period_s)
        while k > 0 and self._period_start(k, fs_hz) > i0:
            k -= 1
        while self._period_start(k + 1, fs_hz) <= i0:
            k += 1
        pos = i0
        while pos < i0 + n:
            start, stop = self._period_start(k, fs_hz), self._period_start(k + 1, fs_hz)
            period = cache.get(k)
            if period is None:
                period = make(k, start, stop)
                cache[k] = period
                while len(cache) > self._CACHE_PERIODS:
                    cache.popitem(last=False)
            else:
                cache.move_to_end(k)
            take = min(stop, i0 + n) - pos
            out[:, pos - i0 : pos - i0 + take] = period[:, pos - start : pos - start + take]
            pos += take
            k += 1
        return out

    def _rng(self, k: int, stream: int, channel: int) -> np.random.Generator:
        return np.random.default_rng([self.spec.seed, k, stream, channel])
