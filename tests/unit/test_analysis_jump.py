"""Jump heights by flight time and impulse–momentum: simulator truth and a real recording.

The real recording ``squat_jump_dual_forceplates_1000hz.csv`` comes from andrewlba/ACL_squat_jump
(MIT licence, copyright (c) 2022 andrewlba); see ../shared/data/PROVENANCE.md. It is read in place.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kinesync.analysis import jump_heights
from kinesync.dsp.force import body_weight
from kinesync.sim.athlete import STANDARD_GRAVITY_M_S2, AthleteSpec, SimAthlete

FS_HZ = 1000.0


def _read_vertical_force(path: Path) -> np.ndarray:
    """Summed vertical force (axis y) of both plates: 6-line header, CSV header row, UTF-8 BOM."""
    with path.open(encoding="utf-8-sig") as fh:
        lines = fh.read().splitlines()
    header = lines[6].split(",")
    data = np.array([[float(v) for v in line.split(",")] for line in lines[7:] if line.strip()])
    return data[:, header.index("ground_force1_vy")] + data[:, header.index("ground_force2_vy")]


def _hand_flights(fz: np.ndarray, threshold_n: float, min_samples: int) -> list[tuple[int, int]]:
    """Flight = runs of samples below the threshold, found with a plain loop (independent of the code)."""
    runs, start = [], None
    for i, value in enumerate(fz):
        if value < threshold_n and start is None:
            start = i
        elif value >= threshold_n and start is not None:
            if i - start >= min_samples:
                runs.append((start, i))
            start = None
    return runs


def test_real_squat_jumps_flight_heights_match_a_hand_calculation(shared_data: Path) -> None:
    fz = _read_vertical_force(shared_data / "squat_jump_dual_forceplates_1000hz.csv")
    assert fz.size == 7850
    bw_n, _ = body_weight(fz, FS_HZ, window_s=0.5)  # the quiet standing at the start lasts ~0.5 s
    jumps = jump_heights(fz, FS_HZ, bw_n)
    hand = _hand_flights(fz, 20.0, 100)
    assert len(hand) == 3 and len(jumps) == 3
    for k, (jump, (takeoff, landing)) in enumerate(zip(jumps, hand, strict=True)):
        flight_s = (landing - takeoff) / FS_HZ
        hand_height = STANDARD_GRAVITY_M_S2 * flight_s**2 / 8.0
        assert (jump.takeoff_index, jump.landing_index) == (takeoff, landing)
        assert jump.height_flight_m == pytest.approx(hand_height, abs=0.01)
        impulse = "—" if jump.height_impulse_m is None else f"{100 * jump.height_impulse_m:.1f} cm"
        print(
            f"jump {k + 1}: flight {1000 * jump.flight_time_s:.1f} ms → {100 * jump.height_flight_m:.2f} cm "
            f"(hand {100 * hand_height:.2f} cm), impulse–momentum {impulse}, inconsistent={jump.inconsistent}"
        )
    # Quiet standing precedes only the first jump; the others start straight from the last landing.
    assert jumps[0].height_impulse_m is not None
    assert jumps[1].height_impulse_m is None and jumps[2].height_impulse_m is None
    assert not jumps[1].inconsistent and not jumps[2].inconsistent
    first = jumps[0]
    assert first.inconsistent == (abs(first.height_impulse_m - first.height_flight_m) > 0.02)


def test_impulse_height_needs_a_rest_period_and_flags_disagreement() -> None:
    athlete = SimAthlete(AthleteSpec.for_exercise("squat_jump", seed=8))
    rep = athlete.rep(0)
    fz = athlete.force(0, round(athlete.spec.rep_period_s * FS_HZ)).sum(axis=0)
    bw = athlete.body_weight_n
    (full,) = jump_heights(fz, FS_HZ, bw)
    assert full.height_impulse_m == pytest.approx(rep.jump_height_m, rel=0.01)
    assert full.movement_start_index / FS_HZ == pytest.approx(rep.force_onset_s, abs=0.01)
    # Cut the record 0.2 s into the movement: no quiet standing precedes the takeoff.
    cut = round((rep.force_onset_s + 0.2) * FS_HZ)
    (late,) = jump_heights(fz[cut:], FS_HZ, bw, rest_sd_n=1.5 * np.sqrt(2))
    assert late.height_impulse_m is None and late.takeoff_velocity_m_s is None and not late.inconsistent
    assert late.height_flight_m == pytest.approx(full.height_flight_m)
    # A body weight 1 % too low adds ~0.01·BW·T/m of velocity over the ~1.4 s before takeoff:
    # Δh ≈ v0·Δv/g ≈ 2.2·0.137/9.8 ≈ 3 cm, more than the 2 cm tolerance.
    (biased,) = jump_heights(fz, FS_HZ, 0.99 * bw, rest_sd_n=1.5 * np.sqrt(2), rest_k_sd=10.0)
    assert biased.height_impulse_m - biased.height_flight_m > 0.02 and biased.inconsistent


def test_no_flight_no_jump() -> None:
    assert jump_heights(np.full(3000, 700.0), FS_HZ, 700.0) == []
    fz = np.full(3000, 700.0)
    fz[1000:1050] = 0.0  # 50 ms unloading: shorter than the 100 ms minimum flight
    assert jump_heights(fz, FS_HZ, 700.0) == []
