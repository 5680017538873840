"""Where a force rises out of a held rest (kinesync.analysis.phases.push_start over
kinesync.dsp.rest_exit), against starts known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from kinesync.analysis.phases import push_start
from kinesync.dsp.rest_exit import force_leaves_rest

FS = 1000.0
LEVEL = 1200.0  # N


def _push(start_s: float, slope_n_per_s: float, curve_n_per_s2: float = 0.0, noise_n: float = 0.0,
          seed: int = 0, fs: float = FS) -> np.ndarray:
    t = np.arange(round(1.0 * fs)) / fs
    d = np.clip(t - start_s, 0.0, None)
    f = LEVEL + slope_n_per_s * d + curve_n_per_s2 * d * d
    return f + noise_n * np.random.default_rng(seed).standard_normal(t.size)


@pytest.mark.parametrize("slope", [4000.0, 8000.0, 16000.0])
@pytest.mark.parametrize("curve", [0.0, 2e5])
def test_a_noise_free_rise_is_located_exactly(slope: float, curve: float) -> None:
    start_s = 0.5003  # between samples
    found = push_start(_push(start_s, slope, curve), FS, round(0.49 * FS))
    assert found is not None
    assert found / FS == pytest.approx(start_s, abs=2e-5)


def test_under_load_cell_noise_the_start_is_within_a_millisecond() -> None:
    errors = []
    for seed in range(40):
        start_s = 0.5 + seed * 1e-4
        found = push_start(_push(start_s, 6000.0, 1e5, noise_n=2.1, seed=seed), FS, round(0.48 * FS))
        assert found is not None
        errors.append(found / FS - start_s)
    assert np.abs(errors).max() < 1e-3


def test_any_rate_is_data() -> None:
    fs = 1925.926
    found = push_start(_push(0.6, 8000.0, fs=fs), fs, round(0.58 * fs))
    assert found is not None and found / fs == pytest.approx(0.6, abs=2e-5)


@pytest.mark.parametrize(("force", "search"), [
    (np.full(1000, LEVEL), 500),  # never rises
    (_push(0.5, 8000.0, noise_n=200.0), 480),  # no quiet rest (SD 17 % of the level)
    (_push(0.5, 8000.0), 50),  # no rest before the search point
    (_push(0.5, 8000.0), 5000),  # search point past the end
    (np.full(1000, np.nan), 500),  # not a number
    (np.zeros(1000), 500),  # an empty plate
])
def test_no_start_is_none_never_an_exception(force: np.ndarray, search: int) -> None:
    assert push_start(force, FS, search) is None


def test_the_fit_alone_takes_the_rest_it_is_given() -> None:
    force = _push(0.5003, 8000.0)
    found = force_leaves_rest(force, FS, round(0.49 * FS), LEVEL, 0.0)
    assert found is not None and found / FS == pytest.approx(0.5003, abs=2e-5)
    assert force_leaves_rest(force, FS, round(0.49 * FS), float("nan"), 1.0) is None
