"""The information limit next to the product: per exercise, the Cramér–Rao bound of the true lag on
the same simulated reps the grid scores (``kinesync.sim.information_bound``; docs/metrics.md,
"Information limit")."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kinesync.sim.information_bound import EXPONENTS_KNOWN, lag_bounds, set_share_bound
from kinesync.validation.physiology_grid import SET_REPS, SET_TOLERANCE_MS, PhysCell


@dataclass(frozen=True)
class LimitRow:
    """One exercise: the bound's median per-rep SD (ms) with only the peak times unknown and with the
    widths unknown too (exponents known), and what the latter allows for ``SET_REPS``-rep means."""

    exercise: str
    snr_db: float
    reps: int
    peak_only_sd_ms: float
    widths_unknown_sd_ms: float
    set_sd_ms: float
    set_share_at_most: float


def information_limits(cells: Sequence[PhysCell], reps: int, seed: int) -> list[LimitRow]:
    """The bound for the first ``reps`` reps of the first independent-shape cell of each exercise."""
    rows = []
    seen: set[str] = set()
    for cell in cells:
        if cell.shapes != "independent" or cell.exercise in seen:
            continue
        seen.add(cell.exercise)
        spec = cell.spec(seed)
        peak = [b.lag_sd_ms for b in lag_bounds(spec, reps, ("peak",))]
        widths = [b.lag_sd_ms for b in lag_bounds(spec, reps, EXPONENTS_KNOWN)]
        rows.append(LimitRow(
            exercise=cell.exercise, snr_db=cell.snr_db, reps=reps, peak_only_sd_ms=float(np.median(peak)),
            widths_unknown_sd_ms=float(np.median(widths)),
            set_sd_ms=float(np.sqrt(np.mean(np.square(widths)) / SET_REPS)),
            set_share_at_most=set_share_bound(widths, SET_REPS, SET_TOLERANCE_MS),
        ))
    return rows
