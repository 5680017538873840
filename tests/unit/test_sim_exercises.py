"""Simulated exercises (push press, squat jump, bench press) and artefacts: physics and truth by construction."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kinesync.sim.athlete import EXERCISES, STANDARD_GRAVITY_M_S2, AthleteSpec, SimAthlete

G = STANDARD_GRAVITY_M_S2


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_exercise_is_chunk_invariant_and_seeded(exercise: str) -> None:
    spec = AthleteSpec.for_exercise(exercise, force_rate_hz=1111.111, emg_rate_hz=1925.926, seed=4)
    n_force, n_emg = round(2 * spec.rep_period_s * 1111.111), round(2 * spec.rep_period_s * 1925.926)
    whole_f, whole_e = SimAthlete(spec).force(0, n_force), SimAthlete(spec).emg(0, n_emg)
    athlete = SimAthlete(spec)
    cuts = [0, 17, 2000, 2001, 4321, n_force]
    parts = [athlete.force(a, b - a) for a, b in itertools.pairwise(cuts)]
    assert np.array_equal(np.concatenate(parts, axis=1), whole_f)
    assert np.array_equal(athlete.emg(777, 3000), whole_e[:, 777:3777])
    assert not np.array_equal(SimAthlete(AthleteSpec.for_exercise(exercise, seed=5)).emg(0, 4000), whole_e[:, :4000])


@pytest.mark.parametrize("exercise", ["back_squat", "push_press", "squat_jump"])
def test_standing_exercises_obey_impulse_momentum(exercise: str) -> None:
    spec = AthleteSpec.for_exercise(exercise, body_mass_kg=85.0, bar_mass_kg=40.0)
    athlete = SimAthlete(spec)
    weight = (85.0 + 40.0) * G  # the bar's weight is on the plates
    assert athlete.body_weight_n == pytest.approx(weight)
    dt = 1e-5
    t = np.arange(0.0, spec.rep_period_s, dt)
    f = athlete.vertical_force_n(t)
    rep = athlete.rep(0)
    assert f[0] == pytest.approx(weight) and f[-1] == pytest.approx(weight)  # rest at both ends
    assert f[t < rep.force_onset_s - 1e-3] == pytest.approx(weight)
    assert np.trapezoid(f - weight, dx=dt) == pytest.approx(0.0, abs=1e-4 * rep.propulsive_impulse_n_s)
    assert f.min() >= 0.0
    assert f.max() == pytest.approx(rep.peak_force_n, rel=1e-6) or rep.takeoff_s is not None


def test_squat_jump_flight_phase_and_truth() -> None:
    spec = AthleteSpec.for_exercise(
        "squat_jump", body_mass_kg=70.0, jump_height_m=0.3, squat_hold_s=0.5, rep_period_s=4.5
    )
    athlete = SimAthlete(spec)
    rep = athlete.rep(2)
    v0 = np.sqrt(2 * G * 0.3)
    assert rep.takeoff_velocity_m_s == pytest.approx(v0)
    assert rep.flight_time_s == pytest.approx(2 * v0 / G)
    assert rep.landing_s - rep.takeoff_s == pytest.approx(rep.flight_time_s)
    assert rep.jump_height_m == pytest.approx(0.3)
    dt = 1e-5
    t = np.arange(rep.force_onset_s - 0.5, rep.force_end_s + 0.5, dt)
    f = athlete.vertical_force_n(t)
    in_flight = (t >= rep.takeoff_s) & (t < rep.landing_s)
    assert np.all(f[in_flight] == 0.0) and np.all(f[~in_flight] > 0.0)
    weight = 70.0 * G
    # Impulse–momentum, integrated numerically from the curve: m·v0 at takeoff, 0 over the rep.
    drive = t < rep.takeoff_s
    assert np.trapezoid(f[drive] - weight, dx=dt) == pytest.approx(70.0 * v0, rel=1e-4)
    assert rep.takeoff_impulse_n_s == pytest.approx(70.0 * v0)
    assert np.trapezoid(f - weight, dx=dt) == pytest.approx(0.0, abs=1e-3)
    # Hold: body weight between the descent and the propulsion.
    hold = (t > rep.propulsion_onset_s - 0.45) & (t < rep.propulsion_onset_s - 0.01)
    assert f[hold] == pytest.approx(weight)
    # Recorded load cells read noise around 0 N in flight.
    fs = spec.force_rate_hz
    j0, j1 = round(rep.takeoff_s * fs) + 5, round(rep.landing_s * fs) - 5
    assert np.abs(athlete.force(j0, j1 - j0).sum(axis=0)).max() < 15.0


def test_bench_press_baseline_is_the_foot_preload() -> None:
    spec = AthleteSpec.for_exercise("bench_press", foot_preload_n=180.0, leg_drive_n=300.0, bar_mass_kg=100.0)
    athlete = SimAthlete(spec)
    rep = athlete.rep(0)
    assert athlete.body_weight_n == rep.body_weight_n == 180.0
    assert rep.peak_force_n == pytest.approx(480.0)
    t = np.arange(0.0, spec.rep_period_s, 1e-4)
    f = athlete.vertical_force_n(t)
    assert f.min() == pytest.approx(180.0) and f.max() == pytest.approx(480.0, rel=1e-6)
    assert np.trapezoid(f - 180.0, dx=1e-4) == pytest.approx(rep.net_impulse_n_s, rel=1e-6)
    # EMG: the leg burst peaks at the leg-drive peak, the pectoral burst by the lag later.
    assert rep.leg_peak_s == pytest.approx(rep.peak_force_s, abs=1e-3)
    assert rep.pec_peak_s - rep.leg_peak_s == pytest.approx(rep.lag_s)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_leg_burst_peaks_at_the_drive_peak_force(exercise: str) -> None:
    rep = SimAthlete(AthleteSpec.for_exercise(exercise)).rep(1)
    assert rep.leg_peak_s == pytest.approx(rep.peak_force_s, abs=1e-3)
    assert rep.exercise == exercise
    assert rep.asymmetry_pct == 0.0


def test_artefacts_dropout_clipping_mains_and_motion() -> None:
    base = AthleteSpec(seed=12, snr_db=30.0)
    spec = AthleteSpec(
        seed=12,
        snr_db=30.0,
        mains_hz=60.0,
        hum_share=0.5,
        motion_artefact_share=2.0,
        dropouts=(("pec", 1.0, 0.3), ("fz_left_2", 2.0, 0.5)),
        clip_v=2.5e-3,
    )
    fs, ffs = spec.emg_rate_hz, spec.force_rate_hz
    athlete = SimAthlete(spec)
    x = athlete.emg(0, round(3 * fs))
    t = np.arange(x.shape[1]) / fs
    dropped = (t >= 1.0) & (t < 1.3)
    assert np.all(x[2, dropped] == 0.0) and np.all(x[2, ~dropped] != 0.0)
    assert np.abs(x).max() <= 2.5e-3 and np.any(np.abs(x) == 2.5e-3)
    f = athlete.force(0, round(3 * ffs))
    tf = np.arange(f.shape[1]) / ffs
    assert np.all(f[1, (tf >= 2.0) & (tf < 2.5)] == 0.0) and np.all(f[0] != 0.0)
    # Hum at 60 Hz on the spare channel (only noise and hum there), none at 50 Hz.
    quiet = t < 1.0
    probe = lambda hz: np.abs(np.mean(x[3, quiet] * np.exp(-2j * np.pi * hz * t[quiet]))) * np.sqrt(2)  # noqa: E731
    assert probe(60.0) == pytest.approx(0.5 * spec.emg_amplitude_v, rel=0.05)
    assert probe(50.0) < 0.05 * probe(60.0)
    # Motion artefact: large below 20 Hz during the movement, absent in quiet standing.
    clean = SimAthlete(base).emg(0, round(3 * fs))
    rep = athlete.rep(0)
    moving = (t > rep.force_onset_s + 0.3) & (t < rep.force_end_s - 0.3)
    diff = SimAthlete(AthleteSpec(seed=12, snr_db=30.0, motion_artefact_share=2.0)).emg(0, round(3 * fs)) - clean
    assert np.all(diff[:, t < rep.force_onset_s] == 0.0)
    spectrum = np.abs(np.fft.rfft(diff[3, moving]))
    freqs = np.fft.rfftfreq(int(moving.sum()), 1 / fs)
    assert np.sum(spectrum[freqs > 25.0] ** 2) < 0.01 * np.sum(spectrum**2)
    assert np.sqrt(np.mean(diff[3, moving] ** 2)) > spec.emg_amplitude_v


def test_artefacts_are_off_by_default_and_validated() -> None:
    spec = AthleteSpec()
    assert (spec.exercise, spec.hum_share, spec.motion_artefact_share, spec.dropouts, spec.clip_v) == (
        "back_squat", 0.0, 0.0, (), None,
    )  # fmt: skip
    with pytest.raises(ValueError, match="exercise"):
        AthleteSpec(exercise="deadlift")
    with pytest.raises(ValueError, match="dropout"):
        AthleteSpec(dropouts=(("biceps", 0.0, 1.0),))
    with pytest.raises(ValueError, match="quiet standing"):
        AthleteSpec(exercise="squat_jump")  # the default 3 s period is too short for a jump
    with pytest.raises(ValueError):
        AthleteSpec(clip_v=0.0)
    with pytest.raises(ValueError):
        AthleteSpec.for_exercise("squat_jump", jump_height_m=-0.1)
