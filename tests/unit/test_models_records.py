"""Records forbid unknown fields; JSON from earlier versions still decodes, without its retired fields."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from kinesync.analysis.cues import Cue, SetLag
from kinesync.models import DeadLetter, RepMetric, SessionAssignment, WindowMetric
from kinesync.settings import Settings
from kinesync.storage.readers import rep_of_row
from kinesync.storage.sqlite import REPS_TABLE, SqliteStore

T0 = 1_700_000_000_000_000_000

# The smallest valid instance of each record, as keyword arguments.
MINIMAL: dict[type[BaseModel], dict[str, Any]] = {
    WindowMetric: {"station": "s1", "window_start_ns": T0, "window_end_ns": T0 + 2_000_000_000},
    RepMetric: {"station": "s1", "rep_peak_ns": T0, "rep_start_ns": T0 - 500_000_000, "window_start_ns": T0 - 10**9},
    DeadLetter: {"source_topic": "kinesync.emg", "reason": "bad frame", "payload_hex": "00", "size": 1,
                 "received_at_ns": T0},
    SessionAssignment: {"station": "s1", "athlete": "a1"},
    SetLag: {"first_rep_peak_ns": T0, "reps": 2, "n": 2, "mean_ms": 100.0, "kind": "on_time",
             "target_low_ms": 80.0, "target_high_ms": 120.0},
    Cue: {"station": "s1", "rep_peak_ns": T0, "rep_end_ns": T0 + 10**9, "kind": "on_time", "text": "on time",
          "target_low_ms": 80.0, "target_high_ms": 120.0},
}
# A misspelling of a real field of each record.
TYPOS: dict[type[BaseModel], str] = {
    WindowMetric: "rfd_0_100_n_per_sec",
    RepMetric: "rfd_0_50_n_per_sec",
    DeadLetter: "error_typ",
    SessionAssignment: "target_low",
    SetLag: "mean_lag_ms",
    Cue: "lag_se",
}


@pytest.mark.parametrize("model", list(MINIMAL), ids=lambda m: m.__name__)
def test_a_misspelled_field_is_an_error_in_code_and_in_json(model: type[BaseModel]) -> None:
    typo = TYPOS[model]
    assert typo not in model.model_fields
    model(**MINIMAL[model])  # the rest is valid
    with pytest.raises(ValidationError, match=typo):
        model(**MINIMAL[model], **{typo: 5.0})
    with pytest.raises(ValidationError, match=typo):
        model.model_validate_json(json.dumps({**MINIMAL[model], typo: 5.0}))


def test_the_real_field_of_the_issue_is_set_and_its_misspelling_rejected() -> None:
    assert RepMetric(**MINIMAL[RepMetric], rfd_0_50_n_per_s=5.0).rfd_0_50_n_per_s == 5.0
    with pytest.raises(ValidationError, match="rfd_0_50_n_per_sec"):
        RepMetric(**MINIMAL[RepMetric], rfd_0_50_n_per_sec=5.0)


@pytest.mark.parametrize("model", [WindowMetric, RepMetric], ids=lambda m: m.__name__)
def test_json_of_an_earlier_version_decodes_without_its_retired_fields(model: type[WindowMetric | RepMetric]) -> None:
    current = model(**MINIMAL[model], peak_propulsive_force_n=1800.0)
    old = {**json.loads(current.model_dump_json()), **dict.fromkeys(model.RETIRED_FIELDS, 3900.0)}
    assert model.model_validate_json(json.dumps(old)) == current
    # Retired names are not a loophole for anything else, nor for records built in code.
    with pytest.raises(ValidationError):
        model.model_validate_json(json.dumps({**old, "peak_force_nn": 1.0}))
    with pytest.raises(ValidationError, match="peak_force_n"):
        model(**MINIMAL[model], peak_force_n=3900.0)
    assert not model.RETIRED_FIELDS & set(model.model_fields)


async def test_a_stored_rep_of_an_earlier_version_reads_back(tmp_path: Path) -> None:
    rep = RepMetric(**MINIMAL[RepMetric], lag_ms=97.0, peak_propulsive_force_n=1800.0)
    path = tmp_path / "k.db"
    async with SqliteStore(path) as store:
        await store.write([rep])
    # As a version before the force-plate phase metrics wrote it: the record JSON holds retired fields.
    old = {**json.loads(rep.model_dump_json()), "peak_force_n": 3900.0, "net_impulse_n_s": 12.0}
    with sqlite3.connect(path) as conn:
        conn.execute(f"UPDATE {REPS_TABLE} SET record = ?", (json.dumps(old),))
    async with SqliteStore(path) as store:
        assert await store.query_reps() == [rep]


def test_an_influx_rep_point_of_an_earlier_version_reads_back() -> None:
    row = {"time": T0, "station": "s1", "rep_start_ns": T0 - 500_000_000, "window_start_ns": T0 - 10**9,
           "lag_ms": 97.0, "peak_force_n": 3900.0, "asymmetry_peak_pct": 4.0, "rfd_0_100_n_per_s": None}
    rep = rep_of_row(row)
    assert rep == RepMetric(**MINIMAL[RepMetric], lag_ms=97.0)
    with pytest.raises(ValidationError, match="lag_mss"):
        rep_of_row({**row, "lag_mss": 1.0})


def test_settings_reject_a_misspelled_keyword_but_not_a_stray_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KINESYNC_NOT_A_SETTING", "1")
    assert Settings(sqlite_path="x.db").sqlite_path == "x.db"
    with pytest.raises(ValidationError, match="sqlite_pth"):
        Settings(sqlite_pth="x.db")
