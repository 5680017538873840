"""The physiology simulator: by-construction checks of its signals and truth, the plain references,
and the validate grid that compares the product with them (docs/physiology-sim.md)."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from kinesync.cli import main
from kinesync.codec.frame import SensorKind
from kinesync.models import SessionAssignment
from kinesync.sim.physiology import (
    BURST_PEAK_PER_RMS,
    EMG_CHANNELS,
    EXERCISES,
    FORCE_CHANNELS,
    LEG_CHANNELS,
    PEC_CHANNELS,
    PhysiologySpec,
    session_frames,
    simulate_session,
)
from kinesync.streaming.offline import replay_frames
from kinesync.streaming.roles import emg_role_rows, force_rows
from kinesync.streaming.station import AnalysisConfig
from kinesync.validation.physiology_grid import match_reps
from kinesync.validation.references import peak_lag, reference_lags, xcorr_lag

RATES_HZ = (1925.926, 2000.0, 2148.148)


def _combined(session, names: tuple[str, ...]) -> np.ndarray:
    # Activations are already normalised to each channel's reference amplitude.
    return session.activation[session.rows(names)].mean(axis=0)


def _segment(session, t0: float, t1: float) -> slice:
    fs = session.emg_rate_hz
    return slice(math.floor(t0 * fs), math.ceil(t1 * fs))


def _shifted(x: np.ndarray, fs: float, lag_s: float) -> np.ndarray:
    """x delayed by ``lag_s`` (linear interpolation), same length."""
    t = np.arange(x.size) / fs
    return np.interp(t - lag_s, t, x)


# ---- channels, rates, reproducibility -----------------------------------------------------------


def test_channels_map_onto_the_analysis_roles() -> None:
    roles = emg_role_rows(EMG_CHANNELS)
    assert [EMG_CHANNELS[i] for i in roles["quad"]] == ["R Rect Fem", "L Rect Fem"]
    assert [EMG_CHANNELS[i] for i in roles["glute"]] == ["R Glut Max", "L Glut Max"]
    assert [EMG_CHANNELS[i] for i in roles["pec"]] == ["R Pect Maj", "L Pect Maj"]
    assert set(LEG_CHANNELS) == {"R Rect Fem", "L Rect Fem", "R Glut Max", "L Glut Max"}
    assert "R Tric" in EMG_CHANNELS and sum(len(v) for v in roles.values()) == 6  # R Tric, L Ext Obl: no role
    vertical, left, right = force_rows(FORCE_CHANNELS)
    assert vertical == [0, 1] and left == [0] and right == [1]


@pytest.mark.parametrize("rate_hz", RATES_HZ)
def test_rates_are_data_and_the_truth_does_not_depend_on_them(rate_hz: float) -> None:
    spec = PhysiologySpec(emg_rate_hz=rate_hz, seed=4)
    s = simulate_session(spec, duration_s=30.0)
    assert s.emg.shape == (8, math.floor(30.0 * rate_hz)) and s.activation.shape == s.emg.shape
    assert s.force.shape == (2, 30_000) and np.all(np.isfinite(s.emg))
    reference = simulate_session(replace(spec, emg_rate_hz=2000.0), duration_s=30.0)
    assert s.reps == reference.reps  # the same movements, shapes and lags at any rate
    f, p = signal.welch(s.emg[s.rows(("L Rect Fem",))[0]], fs=rate_hz, nperseg=2048)
    median_hz = f[np.searchsorted(np.cumsum(p), p.sum() / 2.0)]
    assert 60.0 <= median_hz <= 140.0  # surface EMG, band-limited
    frames = session_frames(s, "st-1")
    emg = [fr for fr in frames if fr.kind == SensorKind.EMG]
    assert {fr.rate_hz for fr in emg} == {rate_hz} and emg[0].channels == EMG_CHANNELS
    assert sum(fr.samples.shape[1] for fr in emg) == s.emg.shape[1]
    assert {fr.channels for fr in frames if fr.kind == SensorKind.FORCE} == {FORCE_CHANNELS}


def test_frames_feed_the_analyzer_engine() -> None:
    s = simulate_session(PhysiologySpec(seed=3, identical_shapes=True), n_reps=6)
    config = AnalysisConfig(expected=frozenset({SensorKind.EMG, SensorKind.FORCE}))
    result = replay_frames(session_frames(s, "st-1"), config, SessionAssignment(station="st-1", exercise="back_squat"))
    pairs, extra, missed = match_reps([r.rep_peak_ns / 1e9 for r in result.reps], s.reps)
    assert len(pairs) == 6 and extra == missed == 0
    errors = [result.reps[i].lag_ms - s.reps[k].lag_ms for k, i in pairs.items()]
    assert np.median(np.abs(errors)) < 10.0  # one shared shape: the easy case


def test_sessions_are_reproducible_by_seed() -> None:
    a = simulate_session(PhysiologySpec(seed=11), n_reps=4)
    b = simulate_session(PhysiologySpec(seed=11), n_reps=4)
    c = simulate_session(PhysiologySpec(seed=12), n_reps=4)
    assert np.array_equal(a.emg, b.emg) and np.array_equal(a.force, b.force) and a.reps == b.reps
    assert a.reps != c.reps
    # Switching a feature leaves every other draw alone: the same reps with ECG off.
    d = simulate_session(PhysiologySpec(seed=11, ecg=False), n_reps=4)
    assert d.reps == a.reps and np.array_equal(d.activation, a.activation)


# ---- shapes ------------------------------------------------------------------------------------


def test_independent_shapes_differ_between_muscles_and_identical_shapes_are_a_delayed_copy() -> None:
    for identical in (False, True):
        s = simulate_session(PhysiologySpec(seed=2, identical_shapes=identical, heavy_share=0.0), n_reps=20)
        leg, pec = _combined(s, LEG_CHANNELS), _combined(s, PEC_CHANNELS)
        corr = []
        for r in s.reps:
            seg = _segment(s, r.descent_start_s - 0.3, r.rep_end_s + 0.6)
            corr.append(np.corrcoef(_shifted(leg, s.emg_rate_hz, r.lag_ms / 1000.0)[seg], pec[seg])[0, 1])
        corr = np.array(corr)
        if identical:
            # Linear interpolation of a 2 kHz sampled curve is all that separates the two.
            assert corr.min() > 0.99999, corr.min()
        else:
            assert np.mean(corr < 0.99) >= 0.9, corr


def test_rise_and_fall_are_drawn_per_muscle_and_rep() -> None:
    s = simulate_session(PhysiologySpec(seed=8, eccentric=False, heavy_share=0.0, paused_share=0.0), n_reps=20)
    fs = s.emg_rate_hz
    rises = []
    for r in s.reps:
        seg = _segment(s, r.descent_start_s - 0.3, r.rep_end_s + 0.8)
        row = []
        for name in (*LEG_CHANNELS, *PEC_CHANNELS):
            a = s.activation[s.rows((name,))[0], seg]
            base = a.min()
            i = int(np.argmax(a))
            onset = np.flatnonzero(a[:i] < base + 0.1 * (a[i] - base))[-1]
            row.append((i - onset) / fs * 1000.0)  # 10 % → peak, ms
        rises.append(row)
    rises = np.array(rises)
    assert 55.0 <= rises.min() and rises.max() <= 255.0
    assert rises.std(axis=1).mean() > 25.0  # channels of one rep differ
    assert rises.std(axis=0).mean() > 25.0  # one channel differs from rep to rep


def test_quadriceps_and_gluteal_peaks_are_offset_by_up_to_20_ms() -> None:
    s = simulate_session(PhysiologySpec(seed=5, eccentric=False, heavy_share=0.0, paused_share=0.0), n_reps=30)
    offsets = []
    for r in s.reps:
        peaks = dict(r.channel_peaks_s)
        for side in "RL":
            offsets.append((peaks[f"{side} Glut Max"] - peaks[f"{side} Rect Fem"]) * 1000.0)
    offsets = np.array(offsets)
    assert np.abs(offsets).max() <= 20.0 + 0.5  # the truth grid is 0.5 ms
    assert offsets.std() > 5.0 and np.abs(offsets).max() > 10.0
    same = simulate_session(PhysiologySpec(seed=5, identical_shapes=True), n_reps=10)
    for r in same.reps:
        peaks = dict(r.channel_peaks_s)
        assert len({peaks[n] for n in LEG_CHANNELS}) == 1 and len({peaks[n] for n in PEC_CHANNELS}) == 1


@pytest.mark.parametrize("exercise", EXERCISES)
def test_truth_lag_is_the_specified_lag_when_shapes_are_identical(exercise: str) -> None:
    s = simulate_session(PhysiologySpec(exercise=exercise, seed=3, identical_shapes=True, lag_ms=90.0), n_reps=12)
    lags = np.array([r.lag_ms for r in s.reps])
    specified = np.array([r.specified_lag_ms for r in s.reps])
    assert np.abs(lags - specified).max() < 1e-3
    assert specified.std() > 5.0  # per-rep jitter of 15 ms SD
    onset = np.array([r.onset_lag_ms for r in s.reps])
    assert np.abs(onset - specified).max() < 0.05  # the same shape: onsets move with the peaks


def test_independent_truth_is_measured_on_the_activations() -> None:
    s = simulate_session(PhysiologySpec(seed=6), n_reps=20)
    fs = s.emg_rate_hz
    leg, pec = _combined(s, LEG_CHANNELS), _combined(s, PEC_CHANNELS)
    for r in s.reps:
        assert r.lag_ms == pytest.approx((r.pec_peak_s - r.leg_peak_s) * 1000.0)
        # The sampled activations peak where the truth says (to a sample).
        lo, hi = _segment(s, r.leg_peak_s - 0.03, r.leg_peak_s + 0.03).indices(leg.size)[:2]
        assert abs((lo + np.argmax(leg[lo:hi])) / fs - r.leg_peak_s) <= 1.0 / fs
        lo, hi = _segment(s, r.pec_peak_s - 0.03, r.pec_peak_s + 0.03).indices(pec.size)[:2]
        assert abs((lo + np.argmax(pec[lo:hi])) / fs - r.pec_peak_s) <= 1.0 / fs
        assert r.descent_start_s < r.bottom_s <= r.ascent_start_s < r.ascent_end_s <= r.rep_end_s
        assert r.leg_onset_s <= r.leg_burst_onset_s + 1e-9 < r.leg_peak_s
        assert 30.0 <= r.emd_ms <= 100.0
    assert any(r.paused for r in s.reps) and any(r.double_peak for r in s.reps)


# ---- eccentric activity, heavy and paused reps ---------------------------------------------------


def test_legs_are_active_through_the_descent() -> None:
    on = simulate_session(PhysiologySpec(seed=9), n_reps=15)
    off = simulate_session(PhysiologySpec(seed=9, eccentric=False), n_reps=15)
    lifts = []
    for r in on.reps:
        seg = _segment(on, r.descent_start_s + 0.4 * (r.bottom_s - r.descent_start_s),
                       r.descent_start_s + 0.5 * (r.bottom_s - r.descent_start_s))
        lifts.append(_combined(on, LEG_CHANNELS)[seg].mean() - _combined(off, LEG_CHANNELS)[seg].mean())
        # Eccentric activity above 10 % of the peak carries the onset back into the descent.
        assert r.leg_onset_s < r.descent_start_s + 0.4 * (r.bottom_s - r.descent_start_s)
        assert r.leg_onset_s < r.leg_burst_onset_s - 0.1
    # The same reps with and without: the difference is the eccentric plateau, 15–35 % of the reference.
    assert 0.15 - 1e-9 <= min(lifts) and max(lifts) <= 0.35 + 1e-9
    bench = simulate_session(PhysiologySpec(exercise="bench_press", seed=9), n_reps=6)
    for r in bench.reps:  # on the bench it is the pectorals that lower the bar
        seg = _segment(bench, r.descent_start_s + 0.5 * (r.bottom_s - r.descent_start_s), r.bottom_s)
        assert _combined(bench, PEC_CHANNELS)[seg].mean() > 0.15


def test_heavy_reps_drive_twice_and_paused_reps_rest_at_the_bottom() -> None:
    spec = PhysiologySpec(seed=1, heavy_share=0.5, paused_share=0.5, sway_n=0.0, plate_noise_n=0.0)
    s = simulate_session(spec, n_reps=20)
    leg = _combined(s, LEG_CHANNELS)
    total = s.force.sum(axis=0)
    fs_f = s.force_rate_hz
    heavy = [r for r in s.reps if r.double_peak]
    paused = [r for r in s.reps if r.paused]
    assert heavy and paused
    for r in heavy:
        assert len(r.drive_force_peaks_s) == 2 and r.drive_force_peaks_s[1] - r.drive_force_peaks_s[0] > 0.15
        seg = _segment(s, r.bottom_s - 0.4, r.ascent_end_s)
        peaks, _ = signal.find_peaks(leg[seg], prominence=0.05)
        assert peaks.size >= 2
    for r in paused:
        j0, j1 = math.ceil((r.bottom_s + 0.01) * fs_f), math.floor((r.ascent_start_s - 0.01) * fs_f)
        assert r.ascent_start_s - r.bottom_s >= 0.4
        assert np.allclose(total[j0:j1], s.body_weight_n, atol=1e-6)  # at rest in the hole
    # Standing lifts: impulse–momentum, rest to rest (net impulse 0), never below 0 N.
    for r in s.reps:
        j0, j1 = math.floor((r.descent_start_s - 0.2) * fs_f), math.ceil((r.rep_end_s + 0.2) * fs_f)
        assert abs(np.sum(total[j0:j1] - s.body_weight_n) / fs_f) < 1e-6 * s.body_weight_n
    assert total.min() > 0.0


def test_bench_press_has_a_weak_leg_drive_and_plates_sway() -> None:
    s = simulate_session(PhysiologySpec(exercise="bench_press", seed=2), n_reps=8)
    leg, pec = _combined(s, LEG_CHANNELS), _combined(s, PEC_CHANNELS)
    for r in s.reps:
        seg = _segment(s, r.descent_start_s, r.rep_end_s + 0.5)
        assert leg[seg].max() < 0.45 < pec[seg].max()
    squat = simulate_session(PhysiologySpec(seed=2), duration_s=20.0)
    quiet = slice(0, math.floor(2.0 * squat.force_rate_hz))
    lr = squat.force[0, quiet] - squat.force[1, quiet]
    assert lr.std() > 3.0 * squat.spec.plate_noise_n  # weight shifts from foot to foot
    f, p = signal.welch(lr, fs=squat.force_rate_hz, nperseg=1024)
    assert p[f < 2.0].sum() > 0.5 * p.sum()


# ---- ECG and crosstalk ---------------------------------------------------------------------------


def _quiet_spans(s) -> list[tuple[float, float]]:
    # Between reps: the pectoral bursts are over soon after the ascent ends.
    edges = [0.2] + [x for r in s.reps for x in (r.descent_start_s - 0.1, r.rep_end_s + 0.3)] + [s.duration_s - 0.2]
    return [(a, b) for a, b in zip(edges[::2], edges[1::2], strict=True) if b - a > 0.5]


@pytest.mark.parametrize("bpm", [62.0, 115.0, 175.0])
def test_ecg_on_the_pectorals_at_the_configured_heart_rate(bpm: float) -> None:
    spec = PhysiologySpec(seed=7, heart_rate_bpm=bpm, ecg_share=0.3, snr_db=30.0, lead_in_s=8.0)
    s = simulate_session(spec, duration_s=60.0)
    fs = s.emg_rate_hz
    sos = signal.butter(2, (5.0, 40.0), btype="bandpass", fs=fs, output="sos")
    x = signal.sosfiltfilt(sos, s.emg[s.rows(("L Pect Maj",))[0]])
    intervals = []
    for a, b in _quiet_spans(s):
        seg = x[math.floor(a * fs) : math.floor(b * fs)]
        peaks, _ = signal.find_peaks(seg, height=0.5 * np.max(seg), distance=int(0.25 * fs))
        intervals.extend(np.diff(peaks) / fs)
    assert len(intervals) >= 10
    measured = 60.0 / float(np.median(intervals))
    assert measured == pytest.approx(bpm, rel=0.05)
    assert s.heart_rate_bpm == bpm and s.r_peaks_s.size > 0.9 * 60.0 * bpm / 60.0


def test_ecg_survives_a_20_hz_high_pass_and_stays_off_the_legs() -> None:
    spec = PhysiologySpec(seed=3, ecg_share=0.2)
    with_ecg = simulate_session(spec, n_reps=6)
    without = simulate_session(replace(spec, ecg=False), n_reps=6)
    ecg = with_ecg.emg - without.emg  # the same draws otherwise: exactly the ECG
    fs = with_ecg.emg_rate_hz
    for name in (*LEG_CHANNELS, "R Tric"):
        assert not ecg[with_ecg.rows((name,))[0]].any()
    pec = ecg[with_ecg.rows(("L Pect Maj",))[0]]
    r_amp = np.abs(pec).max()
    assert r_amp == pytest.approx(0.2 * BURST_PEAK_PER_RMS * spec.emg_amplitude_v, rel=0.1)
    high = signal.sosfilt(signal.butter(4, 20.0, btype="highpass", fs=fs, output="sos"), pec)
    f, p = signal.welch(pec, fs=fs, nperseg=4096)
    qrs_band = p[(f >= 5.0) & (f <= 40.0)].sum() / p.sum()
    assert qrs_band > 0.5  # its energy sits in 5–40 Hz
    assert np.abs(high).max() > 0.25 * r_amp  # and the R waves survive a 20 Hz high-pass
    assert with_ecg.ecg_share == 0.2 and simulate_session(replace(spec, identical_shapes=True), n_reps=2).ecg_share == 0


def test_neighbours_cross_talk_by_a_few_percent() -> None:
    spec = PhysiologySpec(seed=4, ecg=False, crosstalk_share=0.04, snr_db=200.0)
    mixed = simulate_session(spec, n_reps=4)
    clean = simulate_session(replace(spec, crosstalk_share=0.0), n_reps=4)
    leak = mixed.emg - clean.emg
    rows = {n: mixed.rows((n,))[0] for n in EMG_CHANNELS}
    # R Rect Fem picks up 4 % of R Glut Max's own signal, nothing of the left leg or the chest.
    assert np.allclose(leak[rows["R Rect Fem"]], 0.04 * clean.emg[rows["R Glut Max"]], atol=1e-12)
    assert np.allclose(leak[rows["L Pect Maj"]],
                       0.04 * (clean.emg[rows["R Pect Maj"]] + clean.emg[rows["L Ext Obl"]]), atol=1e-12)


# ---- plain references and rep matching ---------------------------------------------------------


def test_references_recover_a_delay_between_identical_envelopes() -> None:
    fs = 2000.0
    t = np.arange(int(6 * fs)) / fs
    leg = np.exp(-0.5 * np.square((t - 2.5) / 0.08)) + 0.01
    pec = np.exp(-0.5 * np.square((t - 2.5 - 0.1234) / 0.08)) + 0.01
    assert xcorr_lag(leg, pec, fs, 1.5, 3.5) == pytest.approx(0.1234, abs=0.5e-3)
    assert peak_lag(leg, pec, fs, 1.5, 3.5) == pytest.approx(0.1234, abs=0.2e-3)
    assert xcorr_lag(leg, pec, fs, 0.01, 3.5) is None  # the lag range reaches before the signal


def test_references_on_a_noise_free_identical_session_find_the_true_lag() -> None:
    spec = PhysiologySpec(seed=2, identical_shapes=True, snr_db=200.0)
    s = simulate_session(spec, n_reps=8)
    spans = [(r.descent_start_s - 0.25, r.ascent_end_s + 0.25) for r in s.reps]
    refs = reference_lags(s.emg, s.emg_rate_hz, s.rows(LEG_CHANNELS), s.rows(PEC_CHANNELS), spans)
    truth = np.array([r.lag_ms for r in s.reps])
    # Only the envelope's own carrier fluctuation remains: a few ms.
    assert np.median(np.abs(refs.xcorr_s * 1000.0 - truth)) < 8.0
    assert np.median(np.abs(refs.peak_s * 1000.0 - truth)) < 15.0


def test_reps_are_matched_by_time() -> None:
    s = simulate_session(PhysiologySpec(seed=1), n_reps=4)
    peaks = [s.reps[0].leg_peak_s + 0.01, s.reps[0].leg_peak_s + 0.4, s.reps[2].leg_peak_s, 0.2]
    pairs, extra, missed = match_reps(peaks, s.reps)
    assert pairs == {0: 0, 2: 2} and extra == 2 and missed == 2


# ---- the validate grid -------------------------------------------------------------------------


def test_validate_ci_grid_reports_the_product_and_both_references_per_cell(tmp_path: Path, capsys) -> None:
    out = tmp_path / "validate.json"
    code = main(["validate", "--grid", "physiology", "--no-real", "--no-progress", "--json", str(out)])
    text = capsys.readouterr().out
    with capsys.disabled():
        print("\n" + text)  # the measured table: product vs both references, per cell and pooled
    assert code == 0  # the physiology grid is reported, not judged by the exit status
    doc = json.loads(out.read_text())
    cells = doc["physiology"]
    assert doc["cells"] == []  # the legacy grid was not asked for
    assert len(cells) == len(EXERCISES) * 2 * 3  # exercises × shape modes × lag–rate pairs
    assert {c["cell"]["shapes"] for c in cells} == {"independent", "identical"}
    assert {c["cell"]["rate_hz"] for c in cells} == set(RATES_HZ)
    for c in cells:
        assert c["cell"]["ecg"] == c["cell"]["eccentric"] == (c["cell"]["shapes"] == "independent")
        assert c["reps_true"] == 30 and c["matched"] + c["missed"] == 30
        for method in ("product", "xcorr", "peak"):
            stats = c[method]
            assert stats["n"] >= 15 and stats["median_abs_ms"] is not None and stats["p95_abs_ms"] is not None
            assert len(c["errors_ms"][method]) == stats["n"] == c["product"]["n"]  # the same reps
    rows = [line for line in text.splitlines() if line.split(" ", 1)[0] in EXERCISES]
    assert len(rows) == len(cells)
    assert all(row.count("|") == 4 for row in rows)  # product | xcorr | peak | gain
    pooled = {(p["exercise"], p["shapes"]) for p in doc["physiology_pooled"]}
    assert pooled == {(ex, sh) for ex in EXERCISES for sh in ("independent", "identical")}
