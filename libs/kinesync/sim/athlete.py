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
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from kinesync.sim.emg import band_noise, emg_carrier

STANDARD_GRAVITY_M_S2 = 9.80665
MIN_QUIET_S = 1.3
_MAINS_HZ = 50.0
_NOISE_BAND_HZ = (10.0, 500.0)
# Share of each plate's vertical load carried by each of its four load cells (a stance slightly
# off the plate centre); any split summing to 1 leaves the plate total unchanged.
_CELL_SHARES = np.array([0.27, 0.24, 0.26, 0.23])
_STREAM_EMG_CARRIER, _STREAM_EMG_NOISE, _STREAM_FORCE, _STREAM_REP = 1, 2, 3, 4


@dataclass(frozen=True)
class AthleteSpec:
    """Parameters of a simulated athlete (units in the names).

    Attributes:
        lag_ms: true delay of the pectoral burst behind the leg-drive burst, ms.
        lag_jitter_ms: SD of a per-rep Gaussian jitter added to ``lag_ms`` (clipped at ±3 SD), ms.
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
    """

    lag_ms: float = 100.0
    lag_jitter_ms: float = 0.0
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
    rise_s: float = 0.1
    fall_s: float = 0.2
    tonic_share: float = 0.02
    plate_noise_n: float = 1.5
    tail_s: float = 0.2

    def __post_init__(self) -> None:
        if self.emg_rate_hz <= 0 or self.force_rate_hz <= 0:
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
        if not 0.0 <= self.tonic_share < 1.0:
            raise ValueError(f"tonic_share must lie in [0, 1), got {self.tonic_share}")
        if self.quiet_s < MIN_QUIET_S:
            raise ValueError(
                f"quiet standing of {self.quiet_s:.3f} s is shorter than {MIN_QUIET_S} s: "
                "lengthen rep_period_s or shorten movement_s / tail_s"
            )
        leg_onset = self.quiet_s + self.movement_s / 2.0 - self.rise_s
        spread_s = 3.0 * self.lag_jitter_ms / 1000.0
        lag_lo, lag_hi = self.lag_ms / 1000.0 - spread_s, self.lag_ms / 1000.0 + spread_s
        burst_s = self.rise_s + self.fall_s
        if leg_onset < 0.0 or leg_onset + burst_s > self.rep_period_s:
            raise ValueError("the leg burst must fit inside the rep period")
        if leg_onset + lag_lo < 0.0 or leg_onset + lag_hi + burst_s > self.rep_period_s:
            raise ValueError("the pectoral burst (lag ± 3 jitter SD) must fit inside the rep period")

    @property
    def quiet_s(self) -> float:
        """Quiet standing at the start of each period, s."""
        return self.rep_period_s - self.movement_s - self.tail_s


@dataclass(frozen=True)
class RepTruth:
    """Exact ground truth of one simulated rep; times in s since the session start."""

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


class SimAthlete:
    """Deterministic, chunk-invariant sample source for one simulated athlete."""

    EMG_CHANNELS = ("quad", "glute", "pec", "spare")
    EMG_UNITS = "V"
    FORCE_CHANNELS = (
        "fz_left_1", "fz_left_2", "fz_left_3", "fz_left_4",
        "fz_right_1", "fz_right_2", "fz_right_3", "fz_right_4",
    )  # fmt: skip
    FORCE_UNITS = "N"
    _CACHE_PERIODS = 3

    def __init__(self, spec: AthleteSpec | None = None) -> None:
        self.spec = spec or AthleteSpec()
        s = self.spec
        self.body_weight_n = s.body_mass_kg * STANDARD_GRAVITY_M_S2
        self._peak_accel_m_s2 = 4.0 * s.depth_m * (math.pi / s.movement_s) ** 2
        self._burst_peak_v = s.emg_amplitude_v / self._fwhm_rms_per_peak()
        self.noise_rms_v = s.emg_amplitude_v / 10.0 ** (s.snr_db / 20.0)
        self._emg_cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._force_cache: OrderedDict[int, np.ndarray] = OrderedDict()

    # ---- public API -------------------------------------------------------------------------

    def emg(self, i0: int, n: int) -> np.ndarray:
        """EMG samples i0..i0+n−1 at ``emg_rate_hz``, shape (4, n), volts (channels EMG_CHANNELS)."""
        return self._samples(i0, n, self.spec.emg_rate_hz, 4, self._emg_cache, self._emg_period)

    def force(self, j0: int, m: int) -> np.ndarray:
        """Load-cell samples j0..j0+m−1 at ``force_rate_hz``, shape (8, m), newtons (FORCE_CHANNELS)."""
        return self._samples(j0, m, self.spec.force_rate_hz, 8, self._force_cache, self._force_period)

    def reps(self, t_start_s: float, t_end_s: float) -> list[RepTruth]:
        """Ground truth of the reps whose leg-burst peak lies in [t_start_s, t_end_s)."""
        s = self.spec
        peak_offset_s = s.quiet_s + s.movement_s / 2.0
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
        leg_peak = move_s + s.movement_s / 2.0
        leg_onset = leg_peak - s.rise_s
        m, u_half = s.body_mass_kg, math.pi / s.movement_s
        # Acceleration is positive while sin²(πu) ≥ 3/4; the velocity gained there is m·Δv.
        propulsive = m * 1.5 * math.sqrt(3.0) * s.depth_m * u_half
        return RepTruth(
            index=k,
            leg_onset_s=leg_onset,
            leg_peak_s=leg_peak,
            leg_end_s=leg_peak + s.fall_s,
            pec_onset_s=leg_onset + lag_s,
            pec_peak_s=leg_peak + lag_s,
            pec_end_s=leg_peak + lag_s + s.fall_s,
            lag_s=lag_s,
            force_onset_s=move_s,
            force_end_s=move_s + s.movement_s,
            peak_force_s=leg_peak,
            peak_force_n=self.body_weight_n + m * self._peak_accel_m_s2,
            body_weight_n=self.body_weight_n,
            net_impulse_n_s=0.0,
            propulsive_impulse_n_s=propulsive,
            left_share=(1.0 + s.asymmetry) / 2.0,
            burst_rms_v=s.emg_amplitude_v,
            noise_rms_v=self.noise_rms_v,
        )

    def rep_lag_s(self, k: int) -> float:
        """Realised pectoral lag of rep ``k``, s."""
        s = self.spec
        if s.lag_jitter_ms <= 0.0:
            return s.lag_ms / 1000.0
        z = float(np.clip(self._rng(k, _STREAM_REP, 0).standard_normal(), -3.0, 3.0))
        return (s.lag_ms + s.lag_jitter_ms * z) / 1000.0

    def vertical_force_n(self, t_s: np.ndarray) -> np.ndarray:
        """Noise-free total vertical force at times ``t_s`` (s since session start), N."""
        s = self.spec
        tau = np.mod(np.asarray(t_s, dtype=np.float64), s.rep_period_s)
        u = np.clip((tau - s.quiet_s) / s.movement_s, 0.0, 1.0)
        s2 = np.square(np.sin(np.pi * u))
        accel = self._peak_accel_m_s2 * (4.0 * s2 * s2 - 3.0 * s2)
        return s.body_mass_kg * (STANDARD_GRAVITY_M_S2 + accel)

    # ---- period generation ------------------------------------------------------------------

    def _emg_period(self, k: int, start: int, stop: int) -> np.ndarray:
        s = self.spec
        fs, n = s.emg_rate_hz, stop - start
        tau = np.arange(start, stop) / fs - k * s.rep_period_s
        leg_onset = s.quiet_s + s.movement_s / 2.0 - s.rise_s
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
            out += s.hum_share * s.emg_amplitude_v * math.sqrt(2.0) * np.sin(2 * np.pi * _MAINS_HZ * t + phases)
        return out

    def _force_period(self, k: int, start: int, stop: int) -> np.ndarray:
        s = self.spec
        total = self.vertical_force_n(np.arange(start, stop) / s.force_rate_hz)
        sides = np.array([(1.0 + s.asymmetry) / 2.0, (1.0 - s.asymmetry) / 2.0])
        shares = (sides[:, None] * _CELL_SHARES[None, :]).reshape(8)
        cell_noise_n = s.plate_noise_n / 2.0  # four independent cells sum to the plate SD
        noise = self._rng(k, _STREAM_FORCE, 0).standard_normal((8, stop - start))
        return shares[:, None] * total[None, :] + cell_noise_n * noise

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
