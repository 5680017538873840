"""The real recordings in the shared data folder through the analysis, with one plot each.

Licences of the recordings are in the folder's PROVENANCE.md; plots are written where the user
asks, never into the repository.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kinesync.dsp.filters import emg_envelope
from kinesync.runtime.extras import require
from kinesync.sources.c3d import read_c3d
from kinesync.sources.csv import read_csv
from kinesync.sources.mapping import SourceMapping
from kinesync.sources.text import read_text
from kinesync.streaming.offline import analyze_recording
from kinesync.streaming.roles import emg_role, force_rows

SQUAT_JUMP = "squat_jump_dual_forceplates_1000hz.csv"
GAIT_C3D = "gait_emg_forceplates_1000hz.c3d"
EMG_BURSTS = "emg_single_channel_bursts_1000hz.txt"
# The plates' vertical axis is y (PROVENANCE.md); the gateway's mapping of the file,
# docs/mappings/squat_jump_dual_forceplates.json, adds the shear forces and centres of pressure.
SQUAT_JUMP_MAP = SourceMapping.model_validate({"devices": [{
    "station": "squat-jump", "device": "squat-jump-force", "kind": "force", "channels": [
        {"source": "ground_force1_vy", "name": "fz_left", "unit": "N"},
        {"source": "ground_force2_vy", "name": "fz_right", "unit": "N"},
    ]}]})


@dataclass
class RealResult:
    name: str
    summary: dict[str, object] = field(default_factory=dict)
    plot: Path | None = None


def bursts(env: np.ndarray, fs_hz: float, h: float = 5.0, min_s: float = 0.1,
           min_gap_s: float = 0.25) -> list[tuple[int, int]]:
    """(onset, offset) of every burst: envelope above baseline + h·SD for at least ``min_s``.

    A long recording at rest has no single quiet stretch that represents its noise floor, so the
    baseline is robust: the median of the envelope, and SD estimated as 1.4826·MAD. Bursts closer
    than ``min_gap_s`` merge.
    """
    med = float(np.median(env))
    sd = 1.4826 * float(np.median(np.abs(env - med)))
    above = env > med + h * max(sd, 1e-12)
    edges = np.flatnonzero(np.diff(np.concatenate(([0], above.astype(np.int8), [0]))))
    runs = [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]
    merged: list[tuple[int, int]] = []
    for a, b in runs:
        if merged and a - merged[-1][1] < min_gap_s * fs_hz:
            merged[-1] = (merged[-1][0], b)
        else:
            merged.append((a, b))
    return [(a, b) for a, b in merged if b - a >= min_s * fs_hz]


def _figure(rows: int):
    require("matplotlib", "kinesync validate's plots").use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(rows, 1, figsize=(12, 2.6 * rows), sharex=True, squeeze=False)
    return plt, fig, axes[:, 0]


def squat_jump(path: Path, out_dir: Path | None) -> RealResult:
    rec = read_csv(path, SQUAT_JUMP_MAP)
    result = analyze_recording(rec, exercise="squat_jump")
    track = rec.tracks[0]
    fz = track.samples.astype(np.float64)
    total = fz.sum(axis=0)
    t = np.arange(total.size) / track.rate_hz + rec.t0_ns / 1e9
    reps = [r for r in result.reps if r.jump_height_flight_m is not None]
    res = RealResult(SQUAT_JUMP, {
        "jumps": len(reps),
        "jump_height_flight_m": [round(r.jump_height_flight_m, 4) for r in reps],
        "jump_height_impulse_m": [None if r.jump_height_impulse_m is None else round(r.jump_height_impulse_m, 4)
                                  for r in reps],
        "flags": [r.flags for r in reps],
    })
    if out_dir is not None:
        plt, fig, (ax,) = _figure(1)
        ax.plot(t, total, lw=0.8, label="vertical force (both plates)")
        ax.plot(t, fz[0], lw=0.5, alpha=0.6, label="left")
        ax.plot(t, fz[1], lw=0.5, alpha=0.6, label="right")
        ax.fill_between(t, 0, total.max(), where=total < 20.0, color="tab:orange", alpha=0.2, label="flight (< 20 N)")
        for r in reps:
            ax.axvline(r.rep_start_ns / 1e9, color="k", ls="--", lw=0.8)
            label = f"{r.jump_height_flight_m * 100:.1f} cm"
            ax.annotate(label, (r.rep_peak_ns / 1e9, total.max() * 0.95), ha="center")
        if reps and reps[0].body_weight_n:
            ax.axhline(reps[0].body_weight_n, color="grey", lw=0.8, label="body weight")
        ax.set_ylabel("N")
        ax.set_xlabel("time (s)")
        ax.set_title("Squat jumps on dual force plates: force onsets (dashed), flight phases, flight-time heights")
        ax.legend(loc="upper left", fontsize=8)
        res.plot = out_dir / "squat_jump.png"
        fig.tight_layout()
        fig.savefig(res.plot, dpi=110)
        plt.close(fig)
    return res


def gait_c3d(path: Path, out_dir: Path | None) -> RealResult:
    rec = read_c3d(path, station="gait")
    emg = next(tr for tr in rec.tracks if tr.kind.name == "EMG")
    force = next((tr for tr in rec.tracks if tr.kind.name == "FORCE"), None)
    vertical = force_rows(force.channels)[0] if force is not None else []
    env = emg_envelope(emg.samples.astype(np.float64), emg.rate_hz)
    found = {}
    for name, e in zip(emg.channels, env, strict=True):
        found[name] = [(a / emg.rate_hz, b / emg.rate_hz) for a, b in bursts(e, emg.rate_hz)]
    res = RealResult(GAIT_C3D, {
        "emg_channels": list(emg.channels),
        "roles": {c: emg_role(c) for c in emg.channels if emg_role(c)},
        "bursts_per_channel": {k: len(v) for k, v in found.items()},
        "duration_s": round(emg.duration_s, 3),
        "plates": [force.channels[i] for i in vertical] if force is not None else [],
        "plates_peak_n": [round(float(force.samples[i].max()), 1) for i in vertical] if force is not None else [],
        "windows": len(analyze_recording(rec).windows),
    })
    if out_dir is not None:
        strong = [i for i, c in enumerate(emg.channels) if c.endswith("_right")]
        plt, fig, axes = _figure(len(strong) + 1)
        t = np.arange(emg.samples.shape[1]) / emg.rate_hz
        for ax, i in zip(axes, strong, strict=False):
            ax.plot(t, emg.samples[i] * 1e3, lw=0.4, color="0.6")
            ax.plot(t, env[i] * 1e3, lw=1.2, color="tab:blue")
            for a, b in found[emg.channels[i]]:
                ax.axvspan(a, b, color="tab:green", alpha=0.15)
                ax.axvline(a, color="tab:green", lw=1)
            ax.set_ylabel(f"{emg.channels[i]}\nmV")
        if force is not None:
            tf = np.arange(force.samples.shape[1]) / force.rate_hz
            for i in vertical:
                axes[-1].plot(tf, force.samples[i], lw=1, label=force.channels[i])
            axes[-1].set_ylabel("Fz (N, up)")
            axes[-1].legend(fontsize=8)
        axes[-1].set_xlabel("time (s)")
        axes[0].set_title("Gait trial (C3D): right-side EMG with causal envelopes and burst onsets; plates")
        res.plot = out_dir / "gait_c3d.png"
        fig.tight_layout()
        fig.savefig(res.plot, dpi=110)
        plt.close(fig)
    return res


def emg_bursts(path: Path, out_dir: Path | None) -> RealResult:
    track = read_text(path, station="emg-bursts").tracks[0]
    x, rate = track.samples[0].astype(np.float64), track.rate_hz
    centred = x - np.median(x)  # 12-bit ADC counts around mid-scale
    env = emg_envelope(centred[None, :], rate, high_hz=min(450.0, 0.45 * rate))[0]
    found = bursts(env, rate)
    res = RealResult(EMG_BURSTS, {
        "rate_hz": rate, "samples": int(x.size), "bursts": len(found),
        "onsets_s": [round(a / rate, 3) for a, _ in found],
    })
    if out_dir is not None:
        plt, fig, (ax,) = _figure(1)
        t = np.arange(x.size) / rate
        ax.plot(t, centred, lw=0.3, color="0.6", label="EMG (ADC counts, centred)")
        ax.plot(t, env * 4, lw=1.2, color="tab:blue", label="envelope ×4")
        for a, b in found:
            ax.axvspan(a / rate, b / rate, color="tab:green", alpha=0.15)
            ax.axvline(a / rate, color="tab:green", lw=1)
        ax.set_xlabel("time (s)")
        ax.set_title(f"Single-channel EMG: {len(found)} bursts, onsets (median + 5·MAD) on the causal envelope")
        ax.legend(loc="upper right", fontsize=8)
        res.plot = out_dir / "emg_bursts.png"
        fig.tight_layout()
        fig.savefig(res.plot, dpi=110)
        plt.close(fig)
    return res


def analyze_shared_data(folder: Path, out_dir: Path | None) -> list[RealResult]:
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    jobs = ((SQUAT_JUMP, squat_jump), (GAIT_C3D, gait_c3d), (EMG_BURSTS, emg_bursts))
    return [fn(folder / name, out_dir) for name, fn in jobs if (folder / name).is_file()]
