from __future__ import annotations

import itertools

import numpy as np
import pytest

from kinesync.dsp.filters import emg_envelope
from kinesync.dsp.force import body_weight
from kinesync.sim.athlete import MIN_QUIET_S, STANDARD_GRAVITY_M_S2, AthleteSpec, SimAthlete

FRACTIONAL = AthleteSpec(emg_rate_hz=1925.926, force_rate_hz=1111.111, lag_jitter_ms=10.0, hum_share=0.1, seed=3)


def _chunked(read, total: int, rng: np.random.Generator) -> np.ndarray:
    cuts = np.sort(rng.choice(np.arange(1, total), size=25, replace=False))
    bounds = np.concatenate(([0], cuts, [total]))
    return np.concatenate([read(int(a), int(b - a)) for a, b in itertools.pairwise(bounds)], axis=1)


@pytest.mark.parametrize("spec", [AthleteSpec(), FRACTIONAL])
def test_emg_and_force_are_chunk_invariant(spec: AthleteSpec) -> None:
    rng = np.random.default_rng(0)
    n_emg, n_force = round(10 * spec.emg_rate_hz), round(10 * spec.force_rate_hz)
    whole_emg = SimAthlete(spec).emg(0, n_emg)
    whole_force = SimAthlete(spec).force(0, n_force)
    athlete = SimAthlete(spec)
    assert np.array_equal(_chunked(athlete.emg, n_emg, rng), whole_emg)
    assert np.array_equal(_chunked(athlete.force, n_force, rng), whole_force)
    # Out of order and far from the start (cache misses and evictions) give the same samples.
    assert np.array_equal(athlete.emg(1234, 5000), whole_emg[:, 1234:6234])
    late = SimAthlete(spec).emg(round(1000 * spec.emg_rate_hz), 300)
    assert np.array_equal(SimAthlete(spec).emg(round(1000 * spec.emg_rate_hz) - 100, 400)[:, 100:], late)
    assert athlete.emg(5, 0).shape == (4, 0)


def test_determinism_by_seed() -> None:
    a, b, c = SimAthlete(AthleteSpec(seed=9)), SimAthlete(AthleteSpec(seed=9)), SimAthlete(AthleteSpec(seed=10))
    assert np.array_equal(a.emg(0, 8000), b.emg(0, 8000))
    assert np.array_equal(a.force(0, 4000), b.force(0, 4000))
    assert not np.array_equal(a.emg(0, 8000), c.emg(0, 8000))


def test_muscle_carriers_are_independent_but_envelopes_follow_one_drive() -> None:
    spec = AthleteSpec(lag_ms=0.0, seed=4)
    athlete = SimAthlete(spec)
    fs = spec.emg_rate_hz
    x = athlete.emg(0, round(30 * spec.rep_period_s * fs))
    raw_r = np.corrcoef(x)
    off_diagonal = raw_r[~np.eye(4, dtype=bool)]
    # Bursts fill ~0.3 s per rep of a ~200 Hz-wide carrier: ~3600 independent values over 30 reps,
    # so independent carriers give |r| of order 0.02; a shared carrier would give r ≈ 0.99.
    assert np.abs(off_diagonal).max() < 0.1
    env = emg_envelope(x, fs)
    env_r = np.corrcoef(env[:, round(fs) :])
    assert env_r[0, 1] > 0.8 and env_r[0, 2] > 0.8  # same activation, different carriers
    assert env_r[0, 1] < 0.999  # but not one shared carrier


@pytest.mark.parametrize("snr_db", [10.0, 20.0, 30.0])
def test_realised_snr_matches_the_spec(snr_db: float) -> None:
    spec = AthleteSpec(snr_db=snr_db, emg_rate_hz=2148.148, seed=5)
    athlete = SimAthlete(spec)
    fs = spec.emg_rate_hz
    n_reps = 20
    x = athlete.emg(0, round(n_reps * spec.rep_period_s * fs))
    t = np.arange(x.shape[1]) / fs
    in_fwhm = np.zeros(t.size, dtype=bool)
    for rep in athlete.reps(0.0, n_reps * spec.rep_period_s):
        in_fwhm |= (t >= rep.leg_onset_s + spec.rise_s / 2) & (t < rep.leg_peak_s + spec.fall_s / 2)
    noise_power = np.mean(x[3] ** 2)  # the spare channel is sensor noise only
    for channel in (0, 1):
        burst_power = np.mean(x[channel, in_fwhm] ** 2) - noise_power
        assert 10 * np.log10(burst_power / noise_power) == pytest.approx(snr_db, abs=1.0)
    assert np.sqrt(burst_power) == pytest.approx(spec.emg_amplitude_v, rel=0.12)


def test_rep_truth_and_timeline() -> None:
    spec = AthleteSpec(lag_ms=120.0, lag_jitter_ms=8.0, seed=6)
    athlete = SimAthlete(spec)
    reps = athlete.reps(0.0, 300 * spec.rep_period_s)
    assert [r.index for r in reps] == list(range(300))
    lags = np.array([r.lag_s for r in reps])
    assert lags.mean() == pytest.approx(0.120, abs=0.0015)
    assert lags.std() == pytest.approx(0.008, rel=0.15)
    for r in reps[:5]:
        assert r.pec_peak_s - r.leg_peak_s == pytest.approx(r.lag_s)
        assert r.pec_onset_s - r.leg_onset_s == pytest.approx(r.lag_s)
        assert r.force_onset_s - r.index * spec.rep_period_s >= MIN_QUIET_S
        assert r.pec_end_s < (r.index + 1) * spec.rep_period_s
    # Half-open interval on the leg peak time.
    first = reps[0]
    assert athlete.reps(first.leg_peak_s, first.leg_peak_s + 1e-6) == [first]
    assert athlete.reps(0.0, first.leg_peak_s) == []


def test_emg_burst_peaks_where_truth_says() -> None:
    spec = AthleteSpec(lag_ms=150.0, snr_db=30.0, seed=8)
    athlete = SimAthlete(spec)
    fs = spec.emg_rate_hz
    x = athlete.emg(0, round(40 * spec.rep_period_s * fs))
    # Power averaged over 40 reps, aligned on each rep's period, shows the activation shape.
    per = round(spec.rep_period_s * fs)
    power = np.mean(np.square(x[:, : 40 * per]).reshape(4, 40, per), axis=1)
    kernel = np.ones(round(0.02 * fs)) / round(0.02 * fs)
    smooth = np.array([np.convolve(p, kernel, mode="same") for p in power])
    rep = athlete.rep(0)
    t = np.arange(per) / fs
    for channel, onset_s, peak_s in ((0, rep.leg_onset_s, rep.leg_peak_s), (2, rep.pec_onset_s, rep.pec_peak_s)):
        top = smooth[channel].max()
        assert smooth[channel][np.abs(t - peak_s) < 0.01].min() > 0.7 * top  # 20 ms smoothing, ~8 % noise
        assert smooth[channel][t < onset_s - 0.02].max() < 0.05 * top
    # Shift between the averaged leg and pectoral power profiles equals the true lag.
    xc = np.correlate(smooth[2] - smooth[2].mean(), smooth[0] - smooth[0].mean(), mode="full")
    assert (np.argmax(xc) - (per - 1)) / fs == pytest.approx(rep.lag_s, abs=0.003)


def test_force_obeys_impulse_momentum_and_split() -> None:
    spec = AthleteSpec(body_mass_kg=75.0, asymmetry=0.2, force_rate_hz=1000.0, seed=2)
    athlete = SimAthlete(spec)
    fs = spec.force_rate_hz
    cells = athlete.force(0, round(2 * spec.rep_period_s * fs))
    total = cells.sum(axis=0)
    left = cells[:4].sum(axis=0)
    weight = 75.0 * STANDARD_GRAVITY_M_S2
    bw, sd = body_weight(total[: round(MIN_QUIET_S * fs)], fs)
    assert bw == pytest.approx(weight, rel=0.005)
    assert 1.0 < sd < 4.0  # a couple of newtons of load-cell noise on the summed plates
    assert left.mean() / total.mean() == pytest.approx(0.6, abs=0.002)
    rep = athlete.rep(0)
    clean = athlete.vertical_force_n(np.arange(round(spec.rep_period_s * fs)) / fs)
    # The force steps back to body weight at lock-out (a finite deceleration), so the net impulse
    # is summed on a fine grid, where a step costs at most its size times the step, 1 µs.
    fine = athlete.vertical_force_n(np.arange(round(spec.rep_period_s * 1e6)) / 1e6)
    assert np.sum(fine - weight) / 1e6 == pytest.approx(0.0, abs=1e-6 * weight)
    assert clean.max() == pytest.approx(rep.peak_force_n, rel=1e-6)
    assert clean.min() < weight < clean.max()
    propulsive = np.sum(np.maximum(clean - weight, 0.0)) / fs
    assert propulsive == pytest.approx(rep.propulsive_impulse_n_s, rel=0.005)


def test_mains_hum_share() -> None:
    spec = AthleteSpec(hum_share=0.5, snr_db=40.0, seed=1)
    x = SimAthlete(spec).emg(0, round(spec.rep_period_s * spec.emg_rate_hz))
    t = np.arange(x.shape[1]) / spec.emg_rate_hz
    probe = np.exp(-2j * np.pi * 50.0 * t)
    hum_rms = np.abs(np.mean(x[3] * probe)) * 2 / np.sqrt(2)
    assert hum_rms == pytest.approx(0.5 * spec.emg_amplitude_v, rel=0.05)


def test_invalid_specs_are_rejected() -> None:
    with pytest.raises(ValueError, match="quiet standing"):
        AthleteSpec(rep_period_s=2.0)
    with pytest.raises(ValueError, match="pectoral burst"):
        AthleteSpec(lag_ms=900.0)
    with pytest.raises(ValueError):
        AthleteSpec(asymmetry=1.5)
    with pytest.raises(ValueError):
        AthleteSpec(rise_s=0.0)
    with pytest.raises(ValueError, match="leg burst"):
        AthleteSpec(fall_s=1.0, rise_s=0.5)
    with pytest.raises(ValueError):
        SimAthlete().emg(-1, 10)
