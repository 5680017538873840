"""Sync-pulse offset estimation and `kinesync calibrate` on generated two-device recordings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from kinesync.cli import main
from kinesync.clock.lsl import LslClockMap
from kinesync.clock.sync import estimate_offset


def pulse_train(
    rate_hz: float, duration_s: float, pulses_s: np.ndarray, offset_s: float, *, t0_s: float = 0.0,
    width_s: float = 0.05, noise: float = 0.05, level: float = 5.0, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """A TTL-like sync channel as a device with a clock ``offset_s`` ahead records it: (time, value)."""
    rng = np.random.default_rng(seed)
    t = t0_s + np.arange(int(duration_s * rate_hz)) / rate_hz  # the device's own clock
    true = t - offset_s
    x = np.zeros_like(t)
    for p in pulses_s:
        x[(true >= p) & (true < p + width_s)] = level
    return t, x + rng.normal(0.0, noise * level, t.size) + 0.3


def write_csv(path: Path, t: np.ndarray, x: np.ndarray, column: str = "sync") -> Path:
    lines = [f"time,{column}"] + [f"{a:.9f},{b:.6f}" for a, b in zip(t, x, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


PULSES = np.sort(np.random.default_rng(42).uniform(0.5, 28.0, 20))


def test_calibrate_reports_17ms_between_two_generated_devices(tmp_path: Path, capsys) -> None:
    # Device A: 1000 Hz; device B: a Trigno-like 1925.926 Hz whose clock reads 17 ms later and
    # started 0.3 s after A, with its own noise.
    ta, xa = pulse_train(1000.0, 30.0, PULSES, 0.0, seed=1)
    tb, xb = pulse_train(1925.926, 29.5, PULSES, 0.017, t0_s=0.3, seed=2)
    a = write_csv(tmp_path / "a.csv", ta, xa)
    b = write_csv(tmp_path / "b.csv", tb, xb, column="trigger")
    assert main(["calibrate", str(a), str(b), "--column-b", "trigger", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    print(f"\ncalibrate: {out['offset_ms']:.3f} ± {out['uncertainty_ms']:.3f} ms over {out['pulses']} pulses")
    assert out["offset_ms"] == pytest.approx(17.0, abs=0.5)
    assert 0 < out["uncertainty_ms"] < 0.5
    assert abs(out["offset_ms"] - 17.0) < 4 * out["uncertainty_ms"] + 0.05
    assert out["pulses"] == 20
    assert main(["calibrate", str(a), str(b), "--column-b", "trigger", "--device-b", "trigno-1"]) == 0
    text = capsys.readouterr().out
    assert "+17.0" in text and '"trigno-1": 17.0' in text


@pytest.mark.parametrize("offset_ms", [-42.0, 0.0, 17.0, 250.0])
def test_offset_sign_and_size(offset_ms: float) -> None:
    ta, xa = pulse_train(2000.0, 20.0, PULSES[PULSES < 19], 0.0, seed=3)
    tb, xb = pulse_train(1000.0, 20.0, PULSES[PULSES < 19], offset_ms / 1e3, seed=4)
    est = estimate_offset(xa, 2000.0, xb, 1000.0, t0_a_s=ta[0], t0_b_s=tb[0])
    assert est.offset_ms == pytest.approx(offset_ms, abs=0.3)
    assert est.peak_correlation > 0.8


def test_single_pulse_gets_the_quantisation_floor() -> None:
    _ta, xa = pulse_train(1000.0, 3.0, np.array([1.2]), 0.0, seed=5)
    _tb, xb = pulse_train(1000.0, 3.0, np.array([1.2]), 0.017, seed=6)
    est = estimate_offset(xa, 1000.0, xb, 1000.0)
    assert est.offset_ms == pytest.approx(17.0, abs=0.5)
    assert est.pulses == 1 and est.uncertainty_ms == pytest.approx(1 / np.sqrt(12), rel=1e-6)


def test_flat_channel_is_a_clear_error(tmp_path: Path, capsys) -> None:
    with pytest.raises(ValueError, match="flat"):
        estimate_offset(np.ones(100), 1000.0, np.ones(100), 1000.0)
    t = np.arange(100) / 1000
    a = write_csv(tmp_path / "a.csv", t, np.ones(100))
    assert main(["calibrate", str(a), str(a), "--column", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err


def test_lsl_clock_map_applies_the_newest_correction() -> None:
    clock = LslClockMap(local_to_epoch_ns=1_800_000_000_000_000_000)
    assert clock.to_facility_ns(10.0) == 1_800_000_010_000_000_000
    clock.add_correction(0.0025)  # the remote clock runs 2.5 ms behind ours
    assert clock.to_facility_ns(10.0) == 1_800_000_010_002_500_000
    assert clock.to_remote_s(clock.to_facility_ns(12.345)) == pytest.approx(12.345, abs=1e-9)


def test_lsl_clock_map_measure_picks_the_tightest_bracket() -> None:
    reads = iter([0.0, 5.0, 10.0, 10.001, 20.0, 20.5])  # brackets of 5 s, 1 ms, 0.5 s
    walls = iter([1_000_000_000_000, 2_000_010_000_000, 3_000_000_000_000])
    clock = LslClockMap.measure(lambda: next(reads), lambda: next(walls), tries=3)
    assert clock.local_to_epoch_ns == 2_000_010_000_000 - 10_000_500_000
