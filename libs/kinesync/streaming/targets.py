"""Which target window judges a station's next rep: the fixed one, or the athlete's personal one.

The session assignment says which (``target_mode``) and carries the coach's lock and the last
learned window, so an analyzer that starts over (restart, rebalance) continues from it instead of
from nothing. Estimators are kept per athlete and exercise: an athlete who leaves the station and
comes back within the same analyzer keeps learning where it stopped.
"""

from __future__ import annotations

from collections import OrderedDict

from kinesync.analysis.personal_window import PersonalWindow, PersonalWindowConfig, TargetWindow
from kinesync.models import SessionAssignment

_KEEP_ATHLETES = 16  # estimators per station kept for athletes who left it


class StationTargets:
    def __init__(self, config: PersonalWindowConfig, fixed: tuple[float, float] = (80.0, 120.0)) -> None:
        self.config = config
        self.fixed = fixed
        self._estimators: OrderedDict[tuple[str | None, str | None], PersonalWindow] = OrderedDict()
        self._applied: SessionAssignment | None = None

    def _estimator(self, a: SessionAssignment) -> PersonalWindow:
        key = (a.athlete, a.exercise)
        seed = (a.personal_low_ms, a.personal_high_ms) if a.personal_low_ms is not None and \
            a.personal_high_ms is not None else None
        est = self._estimators.get(key)
        if est is None:
            est = PersonalWindow(self.config, (a.target_low_ms, a.target_high_ms), seed=seed,
                                 locked=a.personal_locked)
            self._estimators[key] = est
            while len(self._estimators) > _KEEP_ATHLETES:
                self._estimators.popitem(last=False)
        elif a is not self._applied:
            # A new record for the same athlete: only the coach's lock and the fixed band change the
            # estimator; the seed is for a fresh estimator only, or it would undo what was learned.
            est.fixed = (a.target_low_ms, a.target_high_ms)
            if a.personal_locked:
                est.lock(seed)
            elif est.locked:
                est.unlock()
        self._estimators.move_to_end(key)
        self._applied = a
        return est

    def window(self, a: SessionAssignment | None) -> TargetWindow:
        """The window for the next rep under assignment ``a``."""
        if a is None:
            return TargetWindow(self.fixed[0], self.fixed[1], "fixed")
        if a.target_mode != "personal":
            return TargetWindow(a.target_low_ms, a.target_high_ms, "fixed")
        return self._estimator(a).current()

    def observe(self, a: SessionAssignment | None, fields: dict[str, object]) -> None:
        """Learn from a rep's analysed fields (lag and outcome) once it has been judged."""
        if a is None or a.target_mode != "personal":
            return
        lag = fields.get("lag_ms")
        self._estimator(a).observe(float(lag) if isinstance(lag, int | float) else None, fields)
