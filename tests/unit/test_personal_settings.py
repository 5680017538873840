"""The personal target window's parameters come from KINESYNC_PERSONAL_* settings into the analyzer's config."""

from __future__ import annotations

import dataclasses

import pytest

from kinesync.analysis.personal_window import PersonalWindowConfig
from kinesync.settings import Settings
from kinesync.streaming.runner import analysis_config

FIELDS = [f.name for f in dataclasses.fields(PersonalWindowConfig) if f.name != "outcome_fields"]


def test_defaults_are_the_config_defaults() -> None:
    assert analysis_config(Settings()).personal == PersonalWindowConfig()
    for name in FIELDS:  # every parameter but the outcome order has a setting
        assert f"personal_{name}" in Settings.model_fields, name


def test_environment_reaches_the_analyzer(monkeypatch) -> None:
    values = {"bound_low_ms": 50.0, "bound_high_ms": 200.0, "history_reps": 30, "top_k": 7, "near_best_share": 0.02,
              "min_best": 3, "min_reps": 4, "min_half_width_ms": 10.0, "max_half_width_ms": 40.0}
    assert sorted(values) == sorted(FIELDS)
    for name, value in values.items():
        monkeypatch.setenv(f"KINESYNC_PERSONAL_{name.upper()}", str(value))
    personal = analysis_config(Settings()).personal
    assert {name: getattr(personal, name) for name in FIELDS} == values


def test_parameters_that_do_not_fit_together_stop_the_analyzer(monkeypatch) -> None:
    monkeypatch.setenv("KINESYNC_PERSONAL_BOUND_LOW_MS", "100")
    monkeypatch.setenv("KINESYNC_PERSONAL_BOUND_HIGH_MS", "110")  # narrower than a 2 × 8 ms window
    with pytest.raises(ValueError, match="minimum width"):
        analysis_config(Settings())
