"""The rule engine: every rule kind, scope, cooldown, resolve, and state that survives a restart."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from kinesync.alerts.config import (
    AlignmentBelowRule,
    LagOutOfWindowRule,
    PipelineLagRule,
    SignalLossRule,
    TransferDropRule,
    parse_rules,
)
from kinesync.alerts.engine import RuleEngine, last_events
from kinesync.models import WindowMetric

NS = 1_000_000_000


def rep(i: int, lag: float = 100.0, **kw) -> WindowMetric:
    base = {"station": "s1", "athlete": "A", "team": "t1", "exercise": "back_squat",
            "window_start_ns": i * 3 * NS, "window_end_ns": i * 3 * NS + 2 * NS, "lag_ms": lag,
            "in_window": 80 <= lag <= 120}
    return WindowMetric(**{**base, **kw})


def run(engine: RuleEngine, metrics) -> list[tuple[int, str]]:
    return [(i, e.state) for i, m in enumerate(metrics) for e in engine.observe(m)]


def test_lag_rule_fires_once_suppresses_a_refire_in_cooldown_and_resolves() -> None:
    engine = RuleEngine([LagOutOfWindowRule(id="lag", n=3, m=5, cooldown_s=60)])
    lags = [100] * 5 + [150] * 8 + [100] * 6 + [150] * 5 + [100] * 6
    assert run(engine, [rep(i, lag) for i, lag in enumerate(lags)]) == [(7, "firing"), (16, "resolved")]
    # After the cooldown a new drift fires again, with a new episode (new idempotency key).
    later = [rep(100 + i, 150) for i in range(5)]
    events = [e for m in later for e in engine.observe(m)]
    assert [e.state for e in events] == ["firing"]


def test_scope_limits_rules_to_teams_athletes_and_exercises() -> None:
    rule = LagOutOfWindowRule(id="lag", n=1, m=1, resolve_at_most=0, scope={"teams": "t2"})
    engine = RuleEngine([rule])
    assert run(engine, [rep(0, 200)]) == []
    assert run(engine, [rep(0, 200, team="t2")]) == [(0, "firing")]
    engine = RuleEngine([LagOutOfWindowRule(id="lag", n=1, m=1, resolve_at_most=0,
                                            scope={"exercises": ["bench_press"], "athletes": ["A"]})])
    assert run(engine, [rep(0, 200)]) == []
    assert run(engine, [rep(0, 200, exercise="bench_press")]) == [(0, "firing")]


def test_alignment_below_with_hysteresis() -> None:
    engine = RuleEngine([AlignmentBelowRule(id="al", below=0.6, hysteresis=0.1, cooldown_s=0)])
    values = [0.9, 0.5, 0.4, 0.65, 0.55, 0.7]
    events = run(engine, [rep(i, alignment=a) for i, a in enumerate(values)])
    assert events == [(1, "firing"), (5, "resolved")]


def test_transfer_drop_against_own_baseline() -> None:
    rule = TransferDropRule(id="tr", drop_pct=20, baseline_reps=10, min_baseline_reps=5, recent_reps=2,
                            severity="critical", cooldown_s=0)
    engine = RuleEngine([rule])
    values = [0.60, 0.62, 0.58, 0.61, 0.59, 0.60, 0.40, 0.40, 0.40, 0.40, 0.40, 0.60, 0.61]
    events = [(i, e) for i, v in enumerate(values) for e in engine.observe(rep(i, transfer_index=v))]
    assert [(i, e.state) for i, e in events] == [(7, "firing"), (11, "resolved")]
    assert events[0][1].severity == "critical" and "below own baseline 0.60" in events[0][1].message
    # Another athlete with a lower but steady baseline is fine.
    other = [rep(i, athlete="B", transfer_index=0.3) for i in range(20)]
    assert run(engine, other) == []


def test_signal_loss_longer_than_t_seconds() -> None:
    engine = RuleEngine([SignalLossRule(id="sig", seconds=5, cooldown_s=0)])
    hop = NS // 4

    def w(k: int, **kw) -> WindowMetric:
        start = k * hop
        return WindowMetric(station="s1", athlete="A", window_start_ns=start, window_end_ns=start + 2 * NS, **kw)

    seq = [w(0, lag_ms=100.0, in_window=True), w(1)]  # a clean rep, then a quiet window (ignored)
    seq += [w(k, partial=True) for k in range(2, 20)]  # a sensor stopped from 0.5 s on
    seq += [w(20, lag_ms=100.0, in_window=True)]
    events = [(k, e) for k, m in enumerate(seq) for e in engine.observe(m)]
    assert [(k, e.state) for k, e in events] == [(15, "firing"), (20, "resolved")]
    flat = [w(k, lag_ms=None, peak_propulsive_force_n=900.0, flags=["flat:pec"]) for k in range(40, 70)]
    events = [e for m in flat for e in engine.observe(m)]
    assert [e.state for e in events] == ["firing"] and "flat:pec" in events[0].message


def test_a_station_that_goes_completely_quiet_raises_signal_loss_then_resolves() -> None:
    engine = RuleEngine([
        SignalLossRule(id="sig", seconds=5, cooldown_s=0),
        LagOutOfWindowRule(id="lag", n=1, m=1, resolve_at_most=0, cooldown_s=0),
    ])
    wall = 1_000 * NS
    last = rep(0, lag=100.0)
    assert engine.observe(last, wall) == []
    # No window at all arrives any more: only the wall clock moves.
    fired = []
    for k in range(1, 40):
        fired += [(k, e) for e in engine.silence(wall + k * NS // 4)]
    assert [(k, e.state, e.rule) for k, e in fired] == [(21, "firing", "sig")], fired
    assert "no data at all" in fired[0][1].message
    # The station comes back: a real window resolves it, and the lag rule never saw a stand-in.
    back = rep(5, lag=100.0)
    events = engine.observe(back, wall + 12 * NS)
    assert [(e.rule, e.state) for e in events] == [("sig", "resolved")]
    assert engine.silence(wall + 12 * NS + NS // 10) == []


def test_pipeline_lag_per_station() -> None:
    engine = RuleEngine([PipelineLagRule(id="pl", max_lag_s=5, cooldown_s=0)])
    m = rep(0)
    assert engine.observe(m, now_ns=m.window_end_ns + 1 * NS) == []
    [fired] = engine.observe(m, now_ns=m.window_end_ns + 7 * NS)
    assert fired.state == "firing" and fired.value == pytest.approx(7.0)
    assert engine.observe(m, now_ns=m.window_end_ns + 3 * NS) == []  # between the thresholds
    [resolved] = engine.observe(m, now_ns=m.window_end_ns + 1 * NS)
    assert resolved.state == "resolved"


def test_state_snapshot_restores_exactly_and_keys_are_deterministic() -> None:
    rules = [LagOutOfWindowRule(id="lag", n=3, m=5, cooldown_s=60)]
    metrics = [rep(i, lag) for i, lag in enumerate([100] * 5 + [150] * 8 + [100] * 6)]
    one = RuleEngine(rules)
    all_events = [e for m in metrics for e in one.observe(m)]
    two = RuleEngine(rules)
    split = [e for m in metrics[:9] for e in two.observe(m)]
    three = RuleEngine(rules)
    three.restore(json.loads(json.dumps(two.snapshot())))  # through JSON, as stored
    split += [e for m in metrics[9:] for e in three.observe(m)]
    assert [(e.key, e.state, e.at_ns) for e in split] == [(e.key, e.state, e.at_ns) for e in all_events]
    assert len({e.key for e in all_events}) == 2


def test_the_state_keeps_each_subjects_last_event_with_its_session() -> None:
    # What a restarted wall shows again: the last event of each rule and athlete, with the session of
    # the window that raised it, through the state as stored (JSON).
    engine = RuleEngine([LagOutOfWindowRule(id="lag", n=3, m=5, cooldown_s=0)])
    raised = [e for i, lag in enumerate([150] * 5 + [100] * 4) for e in engine.observe(rep(i, lag, session="s-A"))]
    raised += [e for i in range(5) for e in engine.observe(rep(i, 150, athlete="B", station="s2"))]
    assert [(e.athlete, e.state) for e in raised] == [("A", "firing"), ("A", "resolved"), ("B", "firing")]
    restored = RuleEngine(engine.rules.values())
    restored.restore(json.loads(json.dumps(engine.snapshot())))
    last = restored.last_events()
    assert [(e.athlete, e.station, e.state, e.at_ns, session) for e, session in last] == [
        ("B", "s2", "firing", 4 * 3 * NS, None), ("A", "s1", "resolved", 8 * 3 * NS, "s-A")]  # oldest first
    assert last[1][0] == raised[1]
    # A state saved by a build whose events had other fields shows nothing for that entry, and no error.
    odd = json.loads(json.dumps(engine.snapshot()))
    next(iter(odd.values()))["last"]["event"]["no_such_field"] = 1
    assert len(last_events(odd)) == 1


def test_an_episode_ends_with_its_session_or_a_long_gap_not_with_a_rest() -> None:
    engine = RuleEngine([LagOutOfWindowRule(id="lag", n=3, m=5, cooldown_s=60)])
    # Session s-1 ends while A drifts (firing); A's next session starts out of the window too. Its reps
    # are judged on their own: it fires again, at its fifth rep, about the new session's drift.
    assert run(engine, [rep(i, 150, session="s-1") for i in range(6)]) == [(4, "firing")]
    assert run(engine, [rep(100 + i, 150, session="s-2") for i in range(5)]) == [(4, "firing")]
    # Without sessions: a rest between sets keeps the episode (2 out before a five-minute rest, the
    # first after it is the third of the last five), ...
    engine = RuleEngine([LagOutOfWindowRule(id="lag", n=3, m=5, cooldown_s=60)])
    before = [rep(i, lag) for i, lag in enumerate([100, 100, 100, 150, 150])]
    after = [rep(i, 150, window_start_ns=(300 + 3 * i) * NS) for i in range(2)]
    assert run(engine, before + after) == [(5, "firing")]
    # ... two hours without a window end it: the next day's first out-of-window rep is not the third of five.
    later = [rep(i, 150, window_start_ns=(7500 + 3 * i) * NS) for i in range(5)]
    assert run(engine, later) == [(4, "firing")]


def test_a_stations_pipeline_lag_episode_does_not_end_with_an_athletes_session() -> None:
    engine = RuleEngine([PipelineLagRule(id="late", max_lag_s=5.0, cooldown_s=0)])
    late = [rep(i, session=f"s-{i}", emitted_at_ns=i * 3 * NS + 10 * NS) for i in range(3)]
    assert [e.state for m in late for e in engine.observe(m)] == ["firing"]  # once, across the sessions


def test_rules_file_syntax_and_errors() -> None:
    yaml_text = """
rules:
  - id: lag-drift
    kind: lag_out_of_window
    n: 3
    m: 5
    severity: critical
    scope: {teams: first-team}
  - {id: sig, kind: signal_loss, seconds: 8}
"""
    rules = parse_rules(yaml_text, suffix=".yaml")
    assert [r.kind for r in rules] == ["lag_out_of_window", "signal_loss"]
    assert rules[0].scope.teams == ["first-team"]
    [pl] = parse_rules(json.dumps([{"id": "p", "kind": "pipeline_lag", "max_lag_s": 3}]), suffix=".json")
    assert pl.max_lag_s == 3
    with pytest.raises(ValidationError, match="n_of"):
        parse_rules("rules: [{id: x, kind: lag_out_of_window, n_of: 3}]")
    with pytest.raises(ValidationError, match="must not exceed"):
        parse_rules("rules: [{id: x, kind: lag_out_of_window, n: 6, m: 5}]")
    with pytest.raises(ValidationError, match="duplicate"):
        parse_rules("rules: [{id: x, kind: signal_loss}, {id: x, kind: pipeline_lag}]")
    with pytest.raises(ValidationError):
        parse_rules("rules: [{id: x, kind: nonsense}]")
