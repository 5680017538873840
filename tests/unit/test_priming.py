"""Priming effect on analysed reps: an athlete whose timing improves after priming shows a positive effect
whose 95 % interval excludes zero; an unchanged athlete's interval includes zero. Plus the statistics
against scipy, the earlier-sessions baseline, the API and the session report."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import httpx
import numpy as np
import pytest
from scipy import stats

from kinesync.api import LiveState, create_app
from kinesync.api.auth import ApiTokens
from kinesync.api.sessions_out import ListSessionSink
from kinesync.facility.registry import Registry
from kinesync.models import RepMetric, SessionAssignment
from kinesync.report import from_store, render_html
from kinesync.settings import Settings
from kinesync.sim.athlete import AthleteSpec
from kinesync.sources.recording import to_frames
from kinesync.storage.sqlite import SqliteStore
from kinesync.streaming.offline import replay_frames
from kinesync.streaming.station import AnalysisConfig
from kinesync.training.plan_models import PlanBlock, SessionPlan
from kinesync.training.priming import NoPrimingComparison, priming_effect
from kinesync.training.stats import compare
from kinesync.validation.grid import simulated_recording

ADMIN = {"Authorization": "Bearer adm"}
CONTROL_REPS, PRIMING_REPS, WORKING_SETS, WORKING_REPS = 10, 5, 2, 8
PLAN = SessionPlan(blocks=(
    PlanBlock(kind="control", exercise="back_squat", sets=1, reps_per_set=CONTROL_REPS),
    PlanBlock(kind="priming", exercise="back_squat", sets=1, reps_per_set=PRIMING_REPS, load_kg=20),
    PlanBlock(kind="working", exercise="back_squat", sets=WORKING_SETS, reps_per_set=WORKING_REPS),
))
N_REPS = CONTROL_REPS + PRIMING_REPS + WORKING_SETS * WORKING_REPS
FIRST_WORKING = CONTROL_REPS + PRIMING_REPS


def analysed_session(lags_ms: tuple[float, float, float], seed: int, session: str = "1") -> list[RepMetric]:
    """A simulated session following PLAN with true lags (control, priming, working), through the engine."""
    control, priming, working = lags_ms
    spec = AthleteSpec(lag_ms=control, lag_jitter_ms=15.0, seed=seed,
                       lag_schedule_ms=((CONTROL_REPS, priming), (FIRST_WORKING, working)))
    rec, _ = simulated_recording(spec, N_REPS * spec.rep_period_s + 1.0)
    a = SessionAssignment(station=rec.station, athlete="Ada", exercise="back_squat", session=session, plan=PLAN)
    reps = replay_frames(to_frames(rec), replace(AnalysisConfig(), expected=rec.kinds), a).reps
    assert len(reps) == N_REPS
    return reps


@pytest.fixture(scope="module")
def improver() -> list[RepMetric]:
    # control 170 ms (50 ms past the window centre), working sets at the 100 ms centre
    return analysed_session((170.0, 135.0, 100.0), seed=21)


@pytest.fixture(scope="module")
def unchanged() -> list[RepMetric]:
    return analysed_session((140.0, 140.0, 140.0), seed=22)


def test_timing_that_improves_after_priming_is_a_positive_effect_that_excludes_zero(improver) -> None:
    effect = priming_effect("1", improver)
    assert effect.baseline == "control block"
    assert (effect.n_primed_reps, effect.n_baseline_reps) == (WORKING_SETS * WORKING_REPS, CONTROL_REPS)
    timing = effect.effect("timing_improvement_ms")
    assert timing is not None and timing.better == "higher"
    assert timing.difference > 0 and timing.ci_low > 0 and timing.excludes_zero
    # the size is the true shift of |lag − centre| (70 → 0 ms would be 70, less the jitter's |·| floor)
    assert 40.0 < timing.difference < 70.0
    assert timing.hedges_g is not None and timing.hedges_g > 1.0 and timing.g_ci_low > 0
    lag = effect.effect("lag_ms")
    assert lag.ci_high < 0 and lag.better is None  # the lag moved down towards the window
    assert effect.effect("alignment").difference > 0.5
    print(f"\nimprover: timing +{timing.difference:.1f} ms [{timing.ci_low:.1f}, {timing.ci_high:.1f}], "
          f"g = {timing.hedges_g:.2f}")


def test_an_unchanged_athlete_has_an_interval_that_includes_zero(unchanged) -> None:
    effect = priming_effect("1", unchanged)
    timing = effect.effect("timing_improvement_ms")
    assert timing.ci_low < 0 < timing.ci_high and not timing.excludes_zero
    assert abs(timing.hedges_g) < 0.8
    lag = effect.effect("lag_ms")
    assert lag.ci_low < 0 < lag.ci_high
    print(f"\nunchanged: timing {timing.difference:+.1f} ms [{timing.ci_low:.1f}, {timing.ci_high:.1f}]")


def test_welch_interval_and_hedges_g_agree_with_scipy() -> None:
    rng = np.random.default_rng(3)
    a, b = rng.normal(5.0, 1.0, 12), rng.normal(4.0, 2.5, 30)
    c = compare(a, b)
    ref = stats.ttest_ind(a, b, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert (c.ci_low, c.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert c.df == pytest.approx(ref.df, rel=1e-10)
    # Cohen's d from the pooled-variance t statistic, times Hedges' J = 1 − 3/(4(n1+n2) − 9)
    t_pooled = stats.ttest_ind(a, b, equal_var=True).statistic
    d = t_pooled * math.sqrt(1 / 12 + 1 / 30)
    assert c.hedges_g == pytest.approx(d * (1 - 3 / (4 * 42 - 9)), rel=1e-10)


def _relabel(reps: list[RepMetric], session: str, *, plan: bool) -> list[RepMetric]:
    blank = {} if plan else {"block_index": None, "block_kind": None, "set_index": None, "rep_in_set": None}
    return [r.model_copy(update={"session": session, **blank}) for r in reps]


def history(improver: list[RepMetric]) -> list[RepMetric]:
    """An earlier unprimed session (the improver's control reps, no plan) and the primed one, without control."""
    day = 86_400 * 10**9
    earlier = [r.model_copy(update={"rep_peak_ns": r.rep_peak_ns - day, "rep_start_ns": r.rep_start_ns - day})
               for r in _relabel(improver[:CONTROL_REPS], "1", plan=False)]
    primed = _relabel(improver[CONTROL_REPS:], "2", plan=True)
    return earlier + primed


def test_baseline_from_earlier_unprimed_sessions(improver) -> None:
    effect = priming_effect("2", history(improver))
    assert effect.baseline == "earlier sessions" and effect.baseline_sessions == ["1"]
    reference = priming_effect("1", improver)
    assert effect.effect("timing_improvement_ms").difference == pytest.approx(
        reference.effect("timing_improvement_ms").difference)
    with pytest.raises(NoPrimingComparison, match="no reps in a priming block"):
        priming_effect("1", history(improver))


async def test_api_and_session_report_show_the_effect(improver, tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    async with SqliteStore(db) as store:
        await store.write(history(improver))
    app = create_app(LiveState(), tokens=ApiTokens.from_settings(Settings(api_admin_token="adm")))
    registry = Registry(tmp_path / "registry.db")
    app.state.registry, app.state.session_sink = registry, ListSessionSink()
    app.state.rep_store = SqliteStore(db)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://api") as c:
            ath = (await c.post("/api/v1/athletes", json={"name": "Ada"}, headers=ADMIN)).json()
            await c.post("/api/v1/stations", json={"id": "station-01"}, headers=ADMIN)
            for _ in range(2):  # sessions 1 and 2 in the registry, as in the store
                s = (await c.post("/api/v1/sessions", json={"station_id": "station-01", "athlete_id": ath["id"],
                                                            "exercise": "back_squat"}, headers=ADMIN)).json()
                await c.post(f"/api/v1/sessions/{s['id']}/stop", headers=ADMIN)
            r = await c.get(f"/api/v1/athletes/{ath['id']}/priming", params={"session": 2}, headers=ADMIN)
            assert r.status_code == 200, r.text
            body = r.json()
            timing = next(e for e in body["effects"] if e["metric"] == "timing_improvement_ms")
            assert timing["ci_low"] > 0 and body["baseline_sessions"] == ["1"]
            r = await c.get(f"/api/v1/athletes/{ath['id']}/priming", params={"session": 1}, headers=ADMIN)
            assert r.status_code == 404 and "priming block" in r.json()["detail"]
    finally:
        await app.state.rep_store.close()
        await registry.close()

    page = render_html(await from_store(db, "2"))  # what `kinesync report --session 2 --db` writes
    assert 'id="priming"' in page and 'id="fig-priming"' in page
    row = re.search(r'<tr data-metric="timing_improvement_ms">(.*?)</tr>', page).group(1)
    assert "better" in row
    embedded = json.loads(re.search(r'id="reps-json">(.*?)</script>', page, re.S).group(1))
    assert embedded["priming"]["effects"][0]["difference"] == pytest.approx(timing["difference"])
    assert 'data-key="position">3 working · set 2 · rep 8<' in page
