from __future__ import annotations

import gc

import pytest

from kinesync.runtime.collector import ANALYSIS_GEN0_THRESHOLD, tune_for_analysis


@pytest.fixture
def thresholds():
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_raises_the_youngest_generation_threshold_and_keeps_the_others(thresholds) -> None:
    gc.set_threshold(700, 11, 12)
    assert tune_for_analysis() == (700, 11, 12)
    assert gc.get_threshold() == (ANALYSIS_GEN0_THRESHOLD, 11, 12)


def test_keeps_a_higher_threshold_set_before(thresholds) -> None:
    gc.set_threshold(ANALYSIS_GEN0_THRESHOLD * 3, 10, 10)
    tune_for_analysis()
    assert gc.get_threshold() == (ANALYSIS_GEN0_THRESHOLD * 3, 10, 10)


def test_collections_become_rare_under_a_burst_of_young_containers(thresholds) -> None:
    # A burst that keeps 5,000 containers alive at once: CPython's default collects the young
    # generation several times during it, the analysis setting not at all.
    def collections_during_burst() -> int:
        counts = []
        gc.callbacks.append(cb := lambda phase, info: counts.append(info["generation"]) if phase == "start" else None)
        try:
            held = [[i] for i in range(5_000)]
            del held
        finally:
            gc.callbacks.remove(cb)
        return len(counts)

    gc.set_threshold(700, 10, 10)
    gc.collect()
    assert collections_during_burst() >= 5
    tune_for_analysis()
    gc.collect()
    assert collections_during_burst() == 0
