from __future__ import annotations

import numpy as np
import pytest

from kinesync.analysis import channel_quality
from kinesync.sim.athlete import AthleteSpec, SimAthlete


def _emg(**fields) -> tuple[SimAthlete, np.ndarray]:
    spec = AthleteSpec(seed=3, **fields)
    athlete = SimAthlete(spec)
    return athlete, athlete.emg(0, round(2 * spec.rep_period_s * spec.emg_rate_hz))


@pytest.mark.parametrize("snr_db", [10.0, 20.0, 30.0])
def test_snr_and_noise_floor_against_the_simulator(snr_db: float) -> None:
    athlete, x = _emg(snr_db=snr_db, emg_rate_hz=2148.148)
    fs = athlete.spec.emg_rate_hz
    q = channel_quality(x[0], fs)
    print(f"{snr_db} dB: estimated {q.snr_db:.1f} dB, noise floor {q.noise_floor / athlete.noise_rms_v:.2f}× true")
    # The quietest window reads low (the minimum of many noisy RMS estimates, and the band-pass
    # drops 10–20 Hz of the 10–500 Hz noise): the SNR reads a little high, within 3 dB.
    assert q.snr_db == pytest.approx(snr_db, abs=3.0)
    assert 0.7 < q.noise_floor / athlete.noise_rms_v < 1.1
    assert q.flags() == []
    spare = channel_quality(x[3], fs)  # sensor noise only
    assert spare.flags() == ["low_snr"]


def test_mains_hum_is_measured_at_the_given_frequency() -> None:
    athlete, x = _emg(hum_share=0.5, mains_hz=60.0)
    fs = athlete.spec.emg_rate_hz
    at_60 = channel_quality(x[0], fs, mains_hz=60.0)
    at_50 = channel_quality(x[0], fs, mains_hz=50.0)
    assert at_60.hum_share > 0.5 and "hum" in at_60.flags()
    assert at_50.hum_share < 0.05 and "hum" not in at_50.flags()
    _, clean = _emg()
    assert channel_quality(clean[0], fs).hum_share < 0.05  # EMG's own power near 50–200 Hz


def test_clipping_with_and_without_a_known_rail() -> None:
    athlete, x = _emg(clip_v=1.5e-3)
    fs = athlete.spec.emg_rate_hz
    share = float(np.mean(np.abs(x[0]) >= 1.5e-3))  # exactly on the rails
    assert share > 0.001
    near = float(np.mean(np.abs(x[0]) >= 1.5e-3 * (1 - 1e-3)))  # within the 0.1 % rail tolerance
    assert channel_quality(x[0], fs, clip_level=1.5e-3).clipping_share == pytest.approx(near)
    auto = channel_quality(x[0], fs)
    assert auto.clipping_share == pytest.approx(share) and "clipping" in auto.flags()
    _, clean = _emg()
    assert channel_quality(clean[0], fs).clipping_share == 0.0  # a clean signal touches its max once


def test_dropout_is_flat_and_nan_is_a_gap() -> None:
    athlete, x = _emg(dropouts=(("quad", 2.0, 0.15),))
    fs = athlete.spec.emg_rate_hz
    q = channel_quality(x[0], fs)
    assert q.flat and q.flags()[0] == "flat"
    short = channel_quality(x[0], fs, flat_s=0.2)  # a 150 ms dropout is not a 200 ms flat line
    assert not short.flat
    _, clean = _emg()
    gappy = clean[0].copy()
    gappy[1000:1500] = np.nan
    g = channel_quality(gappy, fs)
    assert g.gap_share == pytest.approx(500 / gappy.size) and "gap" in g.flags() and not g.flat
    assert channel_quality(np.zeros(5000), fs).flags() == ["flat"]
    assert channel_quality(np.full(10, np.nan), fs).gap_share == 1.0
