from __future__ import annotations

import pytest

from kinesync.dsp.alignment import alignment_score, in_window


def test_in_window_is_inclusive() -> None:
    assert in_window(0.080) and in_window(0.120) and in_window(0.1)
    assert not in_window(0.0799) and not in_window(0.1201)
    assert in_window(0.05, low_s=0.04, high_s=0.06)
    with pytest.raises(ValueError):
        in_window(0.1, low_s=0.2, high_s=0.1)


def test_alignment_uses_the_last_n_reps() -> None:
    flags = [False] * 5 + [True] * 7 + [False] * 3
    assert alignment_score(flags) == pytest.approx(7 / 10)
    assert alignment_score(flags, n_reps=3) == 0.0
    assert alignment_score([True, False]) == 0.5
    assert alignment_score([]) is None
