"""The per-rep fast paths give the numbers of their plain numpy definitions, bit for bit.

The rep analysis runs on every owned window, so its helpers avoid numpy's general-purpose wrappers,
batch the role channels, and look only at the samples they need. None of that may change a result:
each test compares with the straightforward computation on simulated and random signals.
"""

from __future__ import annotations

import numpy as np
import pytest

from kinesync.analysis.quality import channel_qualities, channel_quality
from kinesync.analysis.transfer import force_transfer_index
from kinesync.dsp.force import body_weight, body_weights, peak_rfd, rfd, rfds
from kinesync.dsp.moments import mean_sd
from kinesync.dsp.onset import window_counts
from kinesync.sim.athlete import AthleteSpec, SimAthlete


def _emg_rows(seed: int, fs_hz: float = 2000.0) -> np.ndarray:
    athlete = SimAthlete(AthleteSpec(seed=seed, emg_rate_hz=fs_hz))
    return athlete.emg(0, round(2.0 * fs_hz))  # a 2 s rep window of every channel


@pytest.mark.parametrize("seed", [1, 2])
def test_quality_of_all_rows_at_once_equals_one_row_at_a_time(seed: int) -> None:
    rows = _emg_rows(seed)
    rows[1, 500:900] = rows[1, 499]  # a flat stretch
    rows[2] = np.clip(rows[2], -0.5 * np.abs(rows[2]).max(), None)  # a rail
    together = channel_qualities(rows, 2000.0)
    alone = [channel_quality(row, 2000.0) for row in rows]
    assert together == alone
    assert [q.flags() for q in together] != [[]] * len(rows)  # the edits above are seen
    with_gap = rows.copy()
    with_gap[0, 100:120] = np.nan
    assert channel_qualities(with_gap, 2000.0) == [channel_quality(row, 2000.0) for row in with_gap]
    assert channel_qualities(with_gap, 2000.0)[0].gap_share == pytest.approx(20 / rows.shape[1])


def test_window_counts_equal_a_convolution_with_ones() -> None:
    rng = np.random.default_rng(4)
    for n in (1, 2, 50, 100):
        mask = rng.random(1000) < 0.8
        expected = np.convolve(mask.astype(np.int32), np.ones(n, dtype=np.int32), mode="valid")
        np.testing.assert_array_equal(window_counts(mask, n), expected)


def test_mean_sd_equals_numpy() -> None:
    rng = np.random.default_rng(5)
    for n in (1, 7, 128, 129, 500, 4001):
        x = rng.normal(size=n) * 1e-4 + 3e-3
        assert mean_sd(x) == (float(x.mean()), float(x.std()))
        assert mean_sd(x[::3]) == (float(x[::3].mean()), float(x[::3].std()))


def _force(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(8000) / 1000.0
    return 750.0 + 2.0 * rng.normal(size=t.size) + 600.0 * np.exp(-(((t - 5.0) / 0.3) ** 2))


def test_rfd_spans_together_equal_interpolation_on_the_whole_record() -> None:
    f = _force(6)
    grid = np.arange(f.size, dtype=np.float64)
    for onset in (0.0, 4321.25, 4800.5, f.size - 1.0 - 200.0, f.size - 60.0):
        spans = (0.05, 0.1, 0.2)
        got = rfds(f, 1000.0, onset, spans)
        for span, value in zip(spans, got, strict=True):
            end = onset + span * 1000.0
            if end > f.size - 1:
                assert value is None
                continue
            f0, f1 = np.interp([onset, end], grid, f)
            assert value == float((f1 - f0) / span) == rfd(f, 1000.0, onset, span)
    assert peak_rfd(f, 1000.0, 4800.5) is not None


def test_body_weight_windows_together_equal_one_at_a_time() -> None:
    f = _force(7)
    assert body_weights(f, 1000.0, (1.0, 0.5, 2.0)) == [body_weight(f, 1000.0, w) for w in (1.0, 0.5, 2.0)]
    assert body_weights(f[:300], 1000.0, (1.0, 0.25)) == [None, body_weight(f[:300], 1000.0, 0.25)]


def test_transfer_index_on_the_rep_alone_equals_the_whole_record() -> None:
    f = _force(8)
    rng = np.random.default_rng(9)
    pec = np.abs(rng.normal(size=4000)) * 1e-4
    pec[2000:2800] += 5e-4
    for start_s, stop_s in ((4.0, 6.0), (None, 5.5), (4.7, None), (-3.0, 30.0), (5.0012, 5.0013)):
        t_force = -3.0 + np.arange(f.size) / 1000.0  # the reference: every sample's time
        keep = np.ones(f.size, dtype=bool)
        if start_s is not None:
            keep &= t_force >= start_s
        if stop_s is not None:
            keep &= t_force <= stop_s
        on = np.interp(t_force[keep], np.arange(pec.size) / 2000.0, pec, left=np.nan, right=np.nan)
        propulsive = np.maximum(f[keep] - 750.0, 0.0)
        expected = float(propulsive[on > 3e-4].sum() / propulsive.sum()) if propulsive.sum() > 0 else None
        got = force_transfer_index(f, 1000.0, 750.0, pec, 2000.0, 3e-4, force_t0_s=-3.0, start_s=start_s,
                                   stop_s=stop_s)
        assert got == expected
