from __future__ import annotations

from kinesync.alerts.config import LagOutOfWindowRule
from kinesync.alerts.engine import RuleEngine
from kinesync.alerts.rules import AlertEvent
from kinesync.models import WindowMetric

NS = 1_000_000_000
# In window for 5 reps, out for 8, back for 6, out again for 5; reps are 3 s apart in event time.
LAGS: list[float | None] = [100] * 5 + [150] * 8 + [100] * 6 + [150] * 5


def metric(i: int, lag: float | None, athlete: str = "A") -> WindowMetric:
    span = {"station": "s1", "athlete": athlete, "window_start_ns": i * 3 * NS, "window_end_ns": i * 3 * NS + 2 * NS}
    if lag is None:  # a window that owns no rep
        return WindowMetric(**span)
    return WindowMetric(**span, lag_ms=lag, in_window=80 <= lag <= 120)


def lag_rule(n: int = 3, m: int = 5, cooldown_s: float = 60) -> RuleEngine:
    return RuleEngine([LagOutOfWindowRule(id="lag_out_of_window", n=n, m=m, cooldown_s=cooldown_s)])


def drive(
    rule: RuleEngine, lags: list[float | None], first: int = 0, athlete: str = "A"
) -> list[tuple[int, AlertEvent]]:
    return [(i, e) for i, lag in enumerate(lags, first) for e in rule.observe(metric(i, lag, athlete))]


def changes(events: list[tuple[int, AlertEvent]]) -> list[tuple[int, str]]:
    return [(i, e.state) for i, e in events]


def test_fires_once_on_drift_stays_quiet_in_cooldown_and_resolves() -> None:
    rule = lag_rule()
    events = drive(rule, LAGS)
    assert changes(events) == [(7, "firing"), (16, "resolved")], events
    fired, resolved = events[0][1], events[1][1]
    # The third out-of-window rep among the last five fires, at that rep's event time.
    assert (fired.rule, fired.station, fired.athlete, fired.at_ns) == ("lag_out_of_window", "s1", "A", 21 * NS)
    assert fired.message == "A: lag out of 80-120 ms in 3 of the last 5 reps (latest 150 ms)"
    assert resolved.at_ns == 48 * NS and resolved.message == "A: lag back in 80-120 ms (latest 100 ms)"
    # The second drift met the condition at rep 21, 42 s after the firing: the cooldown kept it quiet.
    # It ends with the first rep at least 60 s after the firing (rep 27, at 81 s), not a rep earlier.
    assert changes(drive(rule, [150] * 5, first=24)) == [(27, "firing")]


def test_without_a_cooldown_the_second_drift_fires_at_once() -> None:
    # The same metrics: what kept rep 21 quiet above was the cooldown, not a weaker drift.
    assert changes(drive(lag_rule(cooldown_s=0), LAGS)) == [(7, "firing"), (16, "resolved"),
                                                                         (21, "firing")]


def test_windows_without_a_rep_are_ignored() -> None:
    rule = lag_rule(n=2, m=2, cooldown_s=0)
    assert rule.observe(metric(0, None)) == []
    # Empty windows take no place among the last m reps: neither as in nor as out of the window, so
    # they neither complete a drift nor resolve one.
    lags: list[float | None] = [150, None, None, 150, None, None, 100]
    assert changes(drive(rule, lags)) == [(3, "firing"), (6, "resolved")]


def test_an_athlete_is_judged_on_their_own_reps_when_the_station_changes_hands() -> None:
    # A leaves the station with 2 of their last 4 reps out of the window; B's first rep is out too. The
    # station's last five reps hold three out, but B has one rep: no alert about B (the wall, the
    # dashboards and the webhooks all judge by athlete).
    rule = lag_rule(cooldown_s=0)
    assert drive(rule, [100, 150, 100, 150]) == []
    assert drive(rule, [150], first=4, athlete="B") == []
    # B's own drift fires at B's fifth rep, about B, and A's next rep carries on from A's own history.
    assert [(i, e.athlete, e.state) for i, e in drive(rule, [150] * 4, first=5, athlete="B")] == [(8, "B", "firing")]
    assert [(i, e.athlete) for i, e in drive(rule, [150], first=9)] == [(9, "A")]  # A: 3 of 5 out
