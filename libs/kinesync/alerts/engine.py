"""The rule engine: window metrics in, alert events out. Pure (no I/O, no wall clock).

Every rule kind is a small function that reads one metric and a JSON-able state dict and says
whether its condition holds (True), has cleared (False) or is unknown/unchanged (None). The engine
turns those answers into firing/resolved events with one policy for all kinds: a cooldown per rule
and athlete in event time, and a resolved message only for an episode that was announced.

The whole state is plain JSON (``snapshot``/``restore``) so the alerts service stores it with the
outbox in one transaction: after a restart, rules continue exactly where they were.
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Iterable
from typing import Any

from kinesync.alerts.config import (
    AlignmentBelowRule,
    LagOutOfWindowRule,
    PipelineLagRule,
    RuleSpec,
    SignalLossRule,
    TransferDropRule,
)
from kinesync.alerts.rules import AlertEvent
from kinesync.models import WindowMetric

NS = 1_000_000_000
State = dict[str, Any]
Verdict = tuple[bool | None, str, float | None]  # condition, message, the number it is about


def _who(m: WindowMetric) -> str:
    return m.athlete or m.station


def _lag(rule: LagOutOfWindowRule, st: State, m: WindowMetric, _now: int | None) -> Verdict:
    if m.lag_ms is None or m.in_window is None:
        return None, "", None  # a window without a rep says nothing about timing
    recent: list[bool] = st.setdefault("recent", [])
    recent.append(not m.in_window)
    del recent[: -rule.m]
    out = sum(recent)
    band = f"{m.target_low_ms:g}-{m.target_high_ms:g} ms"
    if len(recent) == rule.m and out >= rule.n:
        msg = f"{_who(m)}: lag out of {band} in {out} of the last {rule.m} reps (latest {m.lag_ms:.0f} ms)"
        return True, msg, m.lag_ms
    if out <= rule.resolve_at_most:
        return False, f"{_who(m)}: lag back in {band} (latest {m.lag_ms:.0f} ms)", m.lag_ms
    return None, "", m.lag_ms


def _alignment(rule: AlignmentBelowRule, st: State, m: WindowMetric, _now: int | None) -> Verdict:
    if m.alignment is None or m.lag_ms is None:
        return None, "", None
    if m.alignment < rule.below:
        return True, f"{_who(m)}: alignment {m.alignment:.0%} below {rule.below:.0%}", m.alignment
    if m.alignment >= min(1.0, rule.below + rule.hysteresis):
        return False, f"{_who(m)}: alignment back at {m.alignment:.0%}", m.alignment
    return None, "", m.alignment


def _transfer(rule: TransferDropRule, st: State, m: WindowMetric, _now: int | None) -> Verdict:
    if m.transfer_index is None:
        return None, "", None
    baseline: list[float] = st.setdefault("baseline", [])
    recent: list[float] = st.setdefault("recent", [])
    recent.append(m.transfer_index)
    del recent[: -rule.recent_reps]
    current = sum(recent) / len(recent)
    verdict: Verdict = (None, "", current)
    if len(baseline) >= rule.min_baseline_reps:
        base = statistics.median(baseline)
        drop = (base - current) / base * 100.0 if base > 0 else 0.0
        if drop > rule.drop_pct:
            msg = f"{_who(m)}: force transfer {current:.2f}, {drop:.0f} % below own baseline {base:.2f}"
            verdict = True, msg, current
        else:
            verdict = False, f"{_who(m)}: force transfer {current:.2f} back near baseline {base:.2f}", current
    # The baseline learns only from reps that are not part of a drop; otherwise a lasting drop
    # would become the new normal and resolve itself.
    if verdict[0] is not True and not st.get("firing"):
        baseline.append(m.transfer_index)
        del baseline[: -rule.baseline_reps]
    return verdict


SILENCE_TICK_NS = 250_000_000  # one window hop without any record from a station


def _bad_signal(m: WindowMetric) -> bool | None:
    if m.partial or any(f.startswith(("flat:", "gap:")) for f in m.flags):
        return True
    if m.lag_ms is not None or m.peak_propulsive_force_n is not None:
        return False
    return None  # a quiet window between reps: signal flags exist only for windows that own a rep


def _signal(rule: SignalLossRule, st: State, m: WindowMetric, _now: int | None) -> Verdict:
    bad = _bad_signal(m)
    if bad is None:
        return None, "", None
    if not bad:
        st["bad_since"] = None
        return False, f"{_who(m)}: signal back on {m.station}", 0.0
    since = st.get("bad_since")
    if since is None:
        since = st["bad_since"] = m.window_start_ns
    lost_s = (m.window_end_ns - since) / NS
    if lost_s > rule.seconds:
        what = ", ".join(f for f in m.flags if f.startswith(("flat:", "gap:"))) or (
            "no data at all" if "silent" in m.flags else "sensor data missing")
        return True, f"{_who(m)}: signal lost on {m.station} for {lost_s:.1f} s ({what})", lost_s
    return None, "", lost_s


def _pipeline(rule: PipelineLagRule, st: State, m: WindowMetric, now_ns: int | None) -> Verdict:
    seen = now_ns if now_ns is not None else m.emitted_at_ns
    if not seen:
        return None, "", None
    lag_s = max(0.0, (seen - m.window_end_ns) / NS)
    if lag_s > rule.max_lag_s:
        return True, f"pipeline lag {lag_s:.1f} s on {m.station} (limit {rule.max_lag_s:g} s)", lag_s
    if lag_s < (rule.resolve_below_s if rule.resolve_below_s is not None else rule.max_lag_s / 2):
        return False, f"pipeline lag back to {lag_s:.1f} s on {m.station}", lag_s
    return None, "", lag_s


_EVALUATORS: dict[str, Callable[[Any, State, WindowMetric, int | None], Verdict]] = {
    "lag_out_of_window": _lag,
    "alignment_below": _alignment,
    "transfer_drop": _transfer,
    "signal_loss": _signal,
    "pipeline_lag": _pipeline,
}


# An alert episode belongs to a stretch of training: a subject whose session changes, or who sent no
# window for this long, starts a new one (a session ends, a day passes; a rest between sets is shorter).
EPISODE_GAP_S = 1800.0
# What an episode holds: whether it fires (or was suppressed), the recent reps of n-of-m rules and the
# start of a bad signal. Baselines (the athlete's own transfer) and the cooldown outlive it.
_EPISODE_KEYS = ("firing", "suppressed", "recent", "bad_since")


def _episode(rule: RuleSpec, st: State, m: WindowMetric) -> None:
    """End the subject's episode when ``m`` starts a new stretch of training, silently: the last one's
    reps do not count towards the new one, and a drift that carried over is announced again. A station's
    own rules (pipeline lag) do not follow its athletes' sessions."""
    seen = st.get("seen_ns")
    if seen is not None:
        new_session = not isinstance(rule, PipelineLagRule) and st.get("session") != m.session
        if new_session or m.window_start_ns - seen > EPISODE_GAP_S * NS:
            for key in _EPISODE_KEYS:
                st.pop(key, None)
    st["seen_ns"] = m.window_start_ns if seen is None else max(seen, m.window_start_ns)
    st["session"] = m.session


def _subject(rule: RuleSpec, m: WindowMetric) -> str:
    # Pipeline lag is about a station's data path, the others about the athlete on it.
    if isinstance(rule, PipelineLagRule):
        return f"station:{m.station}"
    return m.athlete or f"station:{m.station}"


def last_events(state: dict[str, State]) -> list[tuple[AlertEvent, str | None]]:
    """Each rule and subject's last event in an engine's state (as ``snapshot`` gives it and the alerts
    service saves it), with the session of the window that raised it, oldest first."""
    out = []
    for st in state.values():
        try:
            out.append((AlertEvent(**st["last"]["event"]), st["last"]["session"]))
        except (KeyError, TypeError):  # none yet, or saved by a build whose events had other fields
            continue
    return sorted(out, key=lambda pair: pair[0].at_ns)


class RuleEngine:
    def __init__(self, rules: Iterable[RuleSpec] = ()) -> None:
        self.rules: dict[str, RuleSpec] = {}
        # (rule id, subject) -> state; the key is a string so the snapshot is plain JSON.
        self.state: dict[str, State] = {}
        # station -> (wall time it was last heard from, its last window): for silence detection.
        self.last_seen: dict[str, tuple[int, WindowMetric]] = {}
        self.set_rules(rules)

    def set_rules(self, rules: Iterable[RuleSpec]) -> None:
        """Replace the rule set; state of rules that keep their id and kind survives."""
        new = {r.id: r for r in rules if r.enabled}
        kept = {rid for rid, r in new.items() if rid in self.rules and self.rules[rid].kind == r.kind}
        self.state = {k: v for k, v in self.state.items() if k.split("\x1f", 1)[0] in kept}
        self.rules = new

    def observe(
        self, metric: WindowMetric, now_ns: int | None = None, kinds: frozenset[str] | None = None
    ) -> list[AlertEvent]:
        """Events caused by one window metric; ``now_ns`` is when it arrived (pipeline lag, silence)."""
        if now_ns is not None and "silent" not in metric.flags:
            self.last_seen[metric.station] = (now_ns, metric)
        events = []
        for rule in self.rules.values():
            if kinds is not None and rule.kind not in kinds:
                continue
            if not rule.scope.matches(metric.team, metric.athlete, metric.exercise):
                continue
            st = self.state.setdefault(f"{rule.id}\x1f{_subject(rule, metric)}", {})
            _episode(rule, st, metric)
            condition, message, value = _EVALUATORS[rule.kind](rule, st, metric, now_ns)
            event = self._transition(rule, st, metric, condition, message, value)
            if event is not None:
                events.append(event)
        return events

    @staticmethod
    def _transition(
        rule: RuleSpec, st: State, m: WindowMetric, condition: bool | None, message: str, value: float | None
    ) -> AlertEvent | None:
        t = m.window_start_ns
        if condition is True and not st.get("firing"):
            last = st.get("last_fired")
            if last is not None and t - last < rule.cooldown_s * NS:
                st["suppressed"] = True  # still in cooldown: remember it, say nothing
                return None
            st.update(firing=True, suppressed=False, last_fired=t, fired_at=t)
            state = "firing"
        elif condition is False and st.get("firing"):
            st["firing"] = False
            state = "resolved"
        else:
            if condition is False:
                st["suppressed"] = False  # a suppressed episode ends silently
            return None
        event = AlertEvent(
            rule=rule.id, station=m.station, athlete=m.athlete, state=state, message=message, at_ns=t,
            severity=rule.severity, kind=rule.kind, team=m.team, exercise=m.exercise, value=value,
            fired_at_ns=st["fired_at"],
        )
        # Kept with the state (plain JSON), so whoever restores it can show the subject's last alert again.
        st["last"] = {"event": dataclasses.asdict(event), "session": m.session}
        return event

    def silence(self, now_ns: int) -> list[AlertEvent]:
        """Signal-loss events for stations that went completely quiet (no windows at all).

        A station whose sensors all stopped sends nothing, so no window can say so: for every
        station not heard from for a hop, a stand-in window, flagged ``silent`` and advanced by the
        wall time since the last real one, goes through the signal-loss rules only.
        """
        events = []
        for seen_ns, last in self.last_seen.values():
            quiet_ns = now_ns - seen_ns
            if quiet_ns < SILENCE_TICK_NS:
                continue
            # Spans the silence so far, from the end of the last real window: the rule then measures
            # the silence itself.
            stand_in = last.model_copy(update={
                "window_start_ns": last.window_end_ns + quiet_ns - SILENCE_TICK_NS,
                "window_end_ns": last.window_end_ns + quiet_ns,
                "partial": True, "flags": ["silent"], "lag_ms": None, "peak_propulsive_force_n": None,
            })
            events.extend(self.observe(stand_in, now_ns, kinds=frozenset({"signal_loss"})))
        return events

    def last_events(self) -> list[tuple[AlertEvent, str | None]]:
        """Each rule and subject's last event with the session of its window, oldest first."""
        return last_events(self.state)

    def snapshot(self) -> dict[str, State]:
        return self.state

    def restore(self, state: dict[str, State]) -> None:
        known = set(self.rules)
        self.state = {k: v for k, v in state.items() if k.split("\x1f", 1)[0] in known}
