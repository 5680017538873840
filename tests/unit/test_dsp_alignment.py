from __future__ import annotations

import math

import pytest

from kinesync.dsp.alignment import alignment_score, in_window


def test_in_window_is_inclusive() -> None:
    assert in_window(80.0) and in_window(120.0) and in_window(100.0)
    assert not in_window(79.9) and not in_window(120.1)
    assert in_window(50.0, low_ms=40.0, high_ms=60.0)


def test_an_empty_window_or_a_nan_lag_is_never_in() -> None:
    # A malformed assignment reaches the analyzer as data: it judges, it does not raise.
    assert not in_window(150.0, low_ms=200.0, high_ms=100.0)
    assert not in_window(math.nan)


def test_alignment_uses_the_last_n_reps() -> None:
    flags = [False] * 5 + [True] * 7 + [False] * 3
    assert alignment_score(flags) == pytest.approx(7 / 10)
    assert alignment_score(flags, n_reps=3) == 0.0
    assert alignment_score([True, False]) == 0.5
    assert alignment_score([]) is None
    with pytest.raises(ValueError):
        alignment_score([True], n_reps=0)
