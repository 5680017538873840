from __future__ import annotations

from kinesync.alerts.rules import LagDriftRule
from kinesync.models import WindowMetric

NS = 1_000_000_000


def metric(i: int, lag: float) -> WindowMetric:
    return WindowMetric(station="s1", athlete="A", window_start_ns=i * 3 * NS, window_end_ns=i * 3 * NS + 2 * NS,
                        lag_ms=lag, in_window=80 <= lag <= 120)


def test_fires_once_on_drift_stays_quiet_in_cooldown_and_resolves() -> None:
    rule = LagDriftRule(n=3, m=5, cooldown_s=60)
    lags = [100] * 5 + [150] * 8 + [100] * 6 + [150] * 5
    events = [(i, e) for i, lag in enumerate(lags) if (e := rule.observe(metric(i, lag)))]
    states = [e.state for _, e in events]
    assert states == ["firing", "resolved"], events
    fired_at = events[0][0]
    assert fired_at == 7  # the third out-of-window rep among the last five
    # The second drift (reps 19-23) is within 60 s of event time of the first firing: no new alert.
    assert (19 - fired_at) * 3 < 60


def test_windows_without_a_rep_are_ignored() -> None:
    rule = LagDriftRule(n=1, m=1)
    m = WindowMetric(station="s1", window_start_ns=0, window_end_ns=1)
    assert rule.observe(m) is None
