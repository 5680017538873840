"""A dead or missing EMG channel gives a quality flag and no lag, never a made-up one."""

from __future__ import annotations

from kinesync.sim.athlete import AthleteSpec, SimAthlete
from kinesync.streaming.offline import analyze_recording
from kinesync.validation.grid import simulated_recording


def test_flat_pec_channel_flags_the_rep_and_reports_no_lag() -> None:
    duration = 16.0
    probe = SimAthlete(AthleteSpec(seed=3))
    truth = probe.reps(0, duration)
    # The chest sensor drops out around the third rep's peak: the channel reads a flat line.
    dead_from = truth[2].leg_peak_s - 1.2
    spec = AthleteSpec(seed=3, dropouts=(("pec", dead_from, 2.5),))
    rec, _ = simulated_recording(spec, duration)
    reps = analyze_recording(rec).reps
    hit = [r for r in reps if dead_from <= r.rep_peak_ns / 1e9 <= dead_from + 2.5]
    clean = [r for r in reps if r not in hit]
    # The rep in the dropout is still found (from the legs), once; every other rep is found clean.
    assert len(hit) == 1, [(r.rep_peak_ns, r.flags) for r in hit]
    (r,) = hit
    assert "flat:pec" in r.flags, r.flags
    assert r.lag_ms is None and r.in_window is None and r.coupling is None
    assert len(clean) == len(truth) - 1, [(r.rep_peak_ns, r.flags) for r in clean]
    assert all(r.lag_ms is not None and not r.flags for r in clean)


def test_missing_samples_flag_a_gap_and_report_no_lag() -> None:
    spec = AthleteSpec(seed=4)
    rec, athlete = simulated_recording(spec, 13.0)
    truth = athlete.reps(0, 13.0)
    emg = rec.tracks[0]
    # Cut 300 ms out of the EMG stream right at the third rep: the frames never arrive.
    from kinesync.sources.recording import track_frames
    from kinesync.streaming.offline import replay_frames
    from kinesync.streaming.station import AnalysisConfig

    frames = track_frames(rec.station, emg, list(range(100, emg.samples.shape[1], 100)))
    lost_t = truth[2].leg_peak_s
    frames = [f for f in frames if not (lost_t - 0.15 <= f.t0_ns / 1e9 <= lost_t + 0.15)]
    force = rec.tracks[1]
    frames += track_frames(rec.station, force, list(range(50, force.samples.shape[1], 50)))
    frames.sort(key=lambda f: f.end_ns)
    result = replay_frames(frames, AnalysisConfig(expected=rec.kinds))
    near = [r for r in result.reps if abs(r.rep_peak_ns / 1e9 - lost_t) < 0.6]
    # The cut rep is still reported, exactly once: the hole in its burst must not split it in two.
    assert len(near) == 1, [(r.rep_peak_ns, r.flags) for r in near]
    (r,) = near
    assert r.lag_ms is None and r.coupling is None and r.in_window is None
    assert "gap:emg" in r.flags, r.flags
    others = [r for r in result.reps if r not in near]
    assert len(others) == len(truth) - 1 and all(r.lag_ms is not None and not r.flags for r in others)
    windows = [w for w in result.windows if w.window_start_ns / 1e9 <= lost_t <= w.window_end_ns / 1e9]
    assert windows and all(w.lag_ms is None for w in windows)
