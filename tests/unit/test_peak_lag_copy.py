"""The near-copy rule of the live lag (kinesync.dsp.peak_lag.near_copy_lag), by construction."""

from __future__ import annotations

import math

from kinesync.dsp.peak_lag import PeakLag, near_copy_lag
from kinesync.validation import physiology_grid as phys


def _peak(lag_ms: float, leg_se_ms: float = 3.0, pec_se_ms: float = 4.0) -> PeakLag:
    # Noise SE √(3² + 4²) = 5 ms; the total SE carries the model floor too.
    return PeakLag(leg_peak_s=1.0, pec_peak_s=1.0 + lag_ms / 1000.0, lag_ms=lag_ms,
                   lag_se_ms=math.sqrt(leg_se_ms**2 + pec_se_ms**2 + 16.0**2), leg_se_ms=leg_se_ms,
                   pec_se_ms=pec_se_ms)


def test_copy_with_agreeing_delay_takes_the_delay() -> None:
    assert near_copy_lag(_peak(100.0), 110.0, 0.99, 0.98, 3.0) == (110.0, True)
    # Exactly at the edge: 3 × 5 ms.
    assert near_copy_lag(_peak(100.0), 115.0, 0.99, 0.98, 3.0) == (115.0, True)


def test_look_alike_with_a_disagreeing_delay_keeps_the_peak_lag() -> None:
    assert near_copy_lag(_peak(100.0), 116.0, 0.99, 0.98, 3.0) == (100.0, False)
    assert near_copy_lag(_peak(100.0), 70.0, 0.999, 0.98, 3.0) == (100.0, False)


def test_low_coupling_or_no_delay_keeps_the_peak_lag() -> None:
    assert near_copy_lag(_peak(100.0), 101.0, 0.97, 0.98, 3.0) == (100.0, False)
    assert near_copy_lag(_peak(100.0), None, 0.99, 0.98, 3.0) == (100.0, False)
    assert near_copy_lag(_peak(100.0), 101.0, None, 0.98, 3.0) == (100.0, False)
    assert near_copy_lag(_peak(100.0), float("nan"), 0.99, 0.98, 3.0) == (100.0, False)


def test_infinite_agreement_is_the_coupling_rule_alone() -> None:
    assert near_copy_lag(_peak(100.0), 300.0, 0.99, 0.98, math.inf) == (300.0, True)


def _result(errors: list[float]) -> phys.PhysCellResult:
    cell = phys.PhysCell("back_squat", "independent", True, True, 20.0, 100.0, 2000.0)
    stats = phys.ErrorStats.of(errors)
    return phys.PhysCellResult(cell=cell, reps_true=len(errors), matched=len(errors), extra=0, missed=0,
                               product_with_lag=len(errors), product=stats, xcorr=stats, peak=stats,
                               errors_ms={m: list(errors) for m in phys.METHODS}, covered=(True,) * len(errors))


def test_validate_prints_the_set_share() -> None:
    import io

    from kinesync.commands.validate import print_physiology

    # Sets of 10: mean +3 (within 4 ms) and mean +5 (not); the last 5 reps make no set.
    res = _result([3.0] * 10 + [5.0] * 10 + [0.0] * 5)
    assert phys.pooled_set_share([res]) == 0.5
    out = io.StringIO()
    print_physiology([res], out)
    line = next(x for x in out.getvalue().splitlines() if x.strip().startswith("back_squat") and "sets" in x)
    assert line.rstrip().endswith("sets ≤ 4 ms 0.50")
