"""The product's lag against the physiology simulator's truth, next to two plain references.

Each cell simulates a session (``kinesync.sim.physiology``), replays it through the live analysis
(``kinesync.streaming.offline``), matches the analyzer's reps to the true reps by time and computes,
on the same reps, the per-rep lag error of the product and of the two plain references
(``kinesync.validation.references``). Definitions: docs/physiology-sim.md.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from kinesync.sim.physiology import (
    EXERCISES,
    LEG_CHANNELS,
    PEC_CHANNELS,
    PhysiologyRepTruth,
    PhysiologySpec,
    session_recording,
    simulate_session,
)
from kinesync.streaming.offline import analyze_recording
from kinesync.validation.references import reference_lags

SHAPES = ("independent", "identical")
SNRS_DB = (10.0, 20.0, 30.0)
LAGS_MS = (40.0, 80.0, 120.0, 160.0, 200.0)
RATES_HZ = (1925.926, 2000.0, 2148.148)
# The CI-sized grid: 20 dB, and the three rates paired with three lags instead of crossed with them.
CI_SNRS_DB = (20.0,)
CI_LAG_RATE = ((40.0, 1925.926), (120.0, 2000.0), (200.0, 2148.148))

# Targets on realistic physiology at 20 dB (BRIEF section 5).
TARGET_SNR_DB = 20.0
TARGET_MEDIAN_MS = 10.0
TARGET_P95_MS = 30.0
TARGET_BIAS_MS = 2.0
TARGET_GAIN_OVER_XCORR = 1.5

# An analyzer rep belongs to a true rep when its peak lies in the rep's movement, widened by this, s.
MATCH_MARGIN_S = 0.5
# The references look at the rep's descent and ascent, widened by this on both sides, s.
REFERENCE_PAD_S = 0.25
LAG_JITTER_MS = 15.0
METHODS = ("product", "xcorr", "peak")
# Set level (BRIEF section 5): the mean of this many consecutive reps within this much of the true mean.
SET_REPS = 10
SET_TOLERANCE_MS = 4.0


@dataclass(frozen=True)
class PhysCell:
    exercise: str
    shapes: str  # "independent" or "identical"
    ecg: bool
    eccentric: bool
    snr_db: float
    lag_ms: float
    rate_hz: float

    def seed(self, seed: int) -> int:
        """The cell's simulator seed: its own per exercise, SNR, lag and rate (so pooled cells are
        independent samples), shared by the shape, ECG and eccentric variants (so they compare the
        same reps)."""
        return zlib.crc32(f"{self.exercise}|{self.snr_db:g}|{self.lag_ms:g}|{self.rate_hz:g}|{seed}".encode())

    def spec(self, seed: int) -> PhysiologySpec:
        return PhysiologySpec(
            exercise=self.exercise, lag_ms=self.lag_ms, lag_jitter_ms=LAG_JITTER_MS, emg_rate_hz=self.rate_hz,
            snr_db=self.snr_db, seed=self.seed(seed), identical_shapes=self.shapes == "identical", ecg=self.ecg,
            eccentric=self.eccentric,
        )


@dataclass(frozen=True)
class ErrorStats:
    """Per-rep lag error (estimate − truth), ms, over ``n`` reps."""

    n: int
    median_abs_ms: float | None
    p95_abs_ms: float | None
    bias_ms: float | None

    @classmethod
    def of(cls, errors_ms: Iterable[float]) -> ErrorStats:
        e = np.asarray([x for x in errors_ms if np.isfinite(x)], dtype=np.float64)
        if e.size == 0:
            return cls(0, None, None, None)
        a = np.abs(e)
        return cls(int(e.size), float(np.median(a)), float(np.percentile(a, 95)), float(e.mean()))


@dataclass(frozen=True)
class PhysCellResult:
    cell: PhysCell
    reps_true: int
    matched: int  # true reps with an analyzer rep
    extra: int  # analyzer reps beyond one per true rep, or outside every true rep
    missed: int  # true reps without an analyzer rep
    product_with_lag: int  # matched reps for which the product gave a lag
    product: ErrorStats  # the three on the same reps: those where all three gave a lag
    xcorr: ErrorStats
    peak: ErrorStats
    errors_ms: dict[str, list[float]]  # per method, in rep order, on those same reps
    # Per product rep (same reps): whether lag_ms ± 1.96 lag_se_ms covers the true lag.
    covered: tuple[bool, ...] = ()

    @property
    def coverage(self) -> float | None:
        """Share of the product's 95 % intervals that cover the true lag."""
        return sum(self.covered) / len(self.covered) if self.covered else None

    def set_means_within(self, method: str = "product", reps: int = SET_REPS,
                         tolerance_ms: float = SET_TOLERANCE_MS) -> list[bool]:
        """Per run of ``reps`` consecutive reps (non-overlapping, in rep order, on the same reps as the
        per-rep errors): whether the mean estimate lies within ``tolerance_ms`` of the mean true lag."""
        e = self.errors_ms[method]
        return [abs(sum(e[i : i + reps]) / reps) <= tolerance_ms for i in range(0, len(e) - reps + 1, reps)]

    @property
    def judged(self) -> bool:
        return self.cell.snr_db == TARGET_SNR_DB and self.cell.shapes == "independent"

    @property
    def gain_over_xcorr(self) -> float | None:
        """Median |error| of the cross-correlation reference over the product's."""
        p, x = self.product.median_abs_ms, self.xcorr.median_abs_ms
        return None if p is None or x is None or p == 0.0 else x / p

    @property
    def meets_targets(self) -> bool | None:
        if not self.judged:
            return None
        p = self.product
        if p.median_abs_ms is None or p.p95_abs_ms is None or p.bias_ms is None:
            return False
        gain = self.gain_over_xcorr
        return (p.median_abs_ms <= TARGET_MEDIAN_MS and p.p95_abs_ms <= TARGET_P95_MS
                and abs(p.bias_ms) <= TARGET_BIAS_MS and gain is not None and gain >= TARGET_GAIN_OVER_XCORR
                and self.missed == 0 and self.extra == 0)


def _resolve(flag: bool | None, shapes: str) -> bool:
    # Unset: on for independent shapes, off for identical ones (the one-shape case of old).
    return shapes != "identical" if flag is None else flag


def physiology_cells(
    exercises: Sequence[str] = EXERCISES,
    shapes: Sequence[str] = SHAPES,
    ecg: Sequence[bool | None] = (None,),
    eccentric: Sequence[bool | None] = (None,),
    snrs: Sequence[float] = CI_SNRS_DB,
    lag_rates: Sequence[tuple[float, float]] = CI_LAG_RATE,
) -> list[PhysCell]:
    """Every combination, without repeats; ``None`` in ``ecg``/``eccentric`` follows the shape mode."""
    out: list[PhysCell] = []
    for ex, sh, e, c, snr, (lag, rate) in itertools.product(exercises, shapes, ecg, eccentric, snrs, lag_rates):
        cell = PhysCell(ex, sh, _resolve(e, sh), _resolve(c, sh), float(snr), float(lag), float(rate))
        if cell not in out:
            out.append(cell)
    return out


def match_reps(peaks_s: Sequence[float], truths: Sequence[PhysiologyRepTruth]) -> tuple[dict[int, int], int, int]:
    """Match analyzer reps (peak times, s) to true reps: ({true index: analyzer index}, extra, missed).

    An analyzer rep belongs to the true rep whose movement (descent start to rep end, widened by
    ``MATCH_MARGIN_S``) contains its peak, the nearest leg peak if several do; per true rep the
    analyzer rep nearest its leg peak is the match, any other is extra, and so is one that belongs
    to no true rep.
    """
    owner: dict[int, list[int]] = {}
    extra = 0
    for i, t in enumerate(peaks_s):
        inside = [k for k, r in enumerate(truths)
                  if r.descent_start_s - MATCH_MARGIN_S <= t <= r.rep_end_s + MATCH_MARGIN_S]
        if not inside:
            extra += 1
            continue
        k = min(inside, key=lambda k: abs(truths[k].leg_peak_s - t))
        owner.setdefault(k, []).append(i)
    pairs = {}
    for k, found in owner.items():
        pairs[k] = min(found, key=lambda i: abs(peaks_s[i] - truths[k].leg_peak_s))
        extra += len(found) - 1
    return pairs, extra, len(truths) - len(pairs)


def run_physiology_cell(cell: PhysCell, reps: int = 30, seed: int = 0) -> PhysCellResult:
    session = simulate_session(cell.spec(seed), n_reps=reps)
    result = analyze_recording(session_recording(session), exercise=cell.exercise)
    truths = session.reps
    peaks = [r.rep_peak_ns / 1e9 for r in result.reps]
    pairs, extra, missed = match_reps(peaks, truths)
    spans = [(r.descent_start_s - REFERENCE_PAD_S, r.ascent_end_s + REFERENCE_PAD_S) for r in truths]
    refs = reference_lags(session.emg, session.emg_rate_hz, session.rows(LEG_CHANNELS), session.rows(PEC_CHANNELS),
                          spans)
    errors: dict[str, list[float]] = {m: [] for m in METHODS}
    covered: list[bool] = []
    with_lag = 0
    for k, truth in enumerate(truths):
        i = pairs.get(k)
        lag = None if i is None else result.reps[i].lag_ms
        with_lag += lag is not None
        xc, pk = refs.xcorr_s[k] * 1000.0, refs.peak_s[k] * 1000.0
        if lag is None or not (np.isfinite(xc) and np.isfinite(pk)):
            continue
        for name, value in zip(METHODS, (lag, xc, pk), strict=True):
            errors[name].append(float(value - truth.lag_ms))
        se = getattr(result.reps[i], "lag_se_ms", None)  # set where the rep carries an uncertainty
        if se is not None:
            covered.append(abs(lag - truth.lag_ms) <= 1.96 * se)
    return PhysCellResult(
        cell=cell, reps_true=len(truths), matched=len(pairs), extra=extra, missed=missed, product_with_lag=with_lag,
        product=ErrorStats.of(errors["product"]), xcorr=ErrorStats.of(errors["xcorr"]),
        peak=ErrorStats.of(errors["peak"]), errors_ms=errors, covered=tuple(covered),
    )


def pooled_coverage(results: Sequence[PhysCellResult]) -> float | None:
    """Share of the product's 95 % intervals that cover the true lag, over every rep of ``results``."""
    flags = [c for r in results for c in r.covered]
    return sum(flags) / len(flags) if flags else None


def pooled_set_share(results: Sequence[PhysCellResult], method: str = "product") -> float | None:
    """Share of the sets (``SET_REPS`` consecutive reps of a cell) whose mean error is within
    ``SET_TOLERANCE_MS``, over every cell of ``results``."""
    flags = [f for r in results for f in r.set_means_within(method)]
    return sum(flags) / len(flags) if flags else None


def pooled(results: Sequence[PhysCellResult]) -> list[tuple[tuple[str, str], dict[str, ErrorStats]]]:
    """Per (exercise, shape mode), every method's error over all of its cells' reps."""
    groups: dict[tuple[str, str], list[PhysCellResult]] = {}
    for r in results:
        groups.setdefault((r.cell.exercise, r.cell.shapes), []).append(r)
    return [
        (key, {m: ErrorStats.of(e for r in rs for e in r.errors_ms[m]) for m in METHODS})
        for key, rs in groups.items()
    ]
