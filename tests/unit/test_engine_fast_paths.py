"""Fast paths of the analyzer engine equal the plain definitions they replace, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

import kinesync.analysis.phases as phases
from kinesync.analysis.jump import _runs
from kinesync.dsp.filters import EnvelopeFilter
from kinesync.streaming.ring import SampleRing
from kinesync.streaming.transforms import EmgTransform


@pytest.mark.parametrize("steps", [0, 1, 2, 16])
def test_first_and_last_run_equal_all_runs(monkeypatch: pytest.MonkeyPatch, steps: int) -> None:
    monkeypatch.setattr(phases, "_RUN_STEPS", steps)  # 0: straight to the fallback
    rng = np.random.default_rng(1)
    for _ in range(3000):
        mask = rng.random(int(rng.integers(0, 60))) < rng.random()
        k = int(rng.integers(1, 6))
        runs = _runs(mask, k)
        assert phases._first_run_start(mask, k) == (runs[0][0] if runs else None)
        assert phases._last_run_stop(mask, k) == (runs[-1][1] if runs else None)


def test_cumulative_from_the_first_non_zero_sample_equals_the_whole_sum() -> None:
    rng = np.random.default_rng(3)
    for _ in range(3000):
        n, i0 = int(rng.integers(0, 40)), int(rng.integers(0, 45))
        x = rng.normal(size=n) * 10.0 ** int(rng.integers(-3, 4))
        if rng.random() < 0.2:
            x = np.round(x)
        if rng.random() < 0.1:
            x = -np.abs(x) * 0.0  # -0.0 after the zeros
        x[:i0] = 0.0
        fs = float(rng.choice([1000.0, 999.7, 1925.926]))
        assert phases._cumulative(x, fs, i0).tobytes() == phases._cumulative(x, fs).tobytes()


def test_phases_with_equals_dataclasses_replace() -> None:
    from dataclasses import replace

    ph = phases.Phases(fs_hz=1000.0, bw_n=700.0, flags=("a",))
    assert phases._with(ph, onset_index=3.5, flags=()) == replace(ph, onset_index=3.5, flags=())


def test_emg_transform_equals_its_plain_definition() -> None:
    """Envelopes of the role rows and their means (ndarray.mean), with and without the no-NaN hint."""
    rng = np.random.default_rng(5)
    layouts = (("quad", "glute", "pec", "spare"), ("quad", "pec"), ("quad", "glute", "vastus", "pec", "pec_2"))
    for channels in layouts:
        hinted, plain = EmgTransform(channels, 2000.0, 6.0), EmgTransform(channels, 2000.0, 6.0)
        ref = EnvelopeFilter(2000.0, len(hinted.rows), high_hz=450.0, cutoff_hz=6.0)
        n_leg = len(hinted.leg_rows)
        for _ in range(10):
            block = (rng.normal(size=(len(channels), 100)) * 1e-4).astype(np.float32)
            raw = block[hinted.rows].astype(np.float64)
            env = ref.process(raw)
            want = np.vstack([env[:n_leg].mean(axis=0), env[n_leg:].mean(axis=0), raw])
            assert hinted(block, True).tobytes() == want.tobytes()
            assert plain(block).tobytes() == want.tobytes()


def test_ring_append_wraps_like_a_sample_by_sample_ring() -> None:
    rng = np.random.default_rng(7)
    ring = SampleRing(2, 37)
    ref: list[np.ndarray] = []
    ring.reset(5)
    for _ in range(200):
        block = rng.normal(size=(2, int(rng.integers(1, 50))))
        ring.append(block)
        ref.append(block)
        allx = np.concatenate(ref, axis=1)
        assert ring.end == 5 + allx.shape[1]
        assert ring.start == max(5, ring.end - 37)
        assert np.array_equal(ring.read(ring.start, ring.end), allx[:, ring.start - 5 :])
