"""Live rep attribution: which block, set and rep of the session plan each rep belongs to.

Pure counting, no I/O. The analyzer keeps one ``PlanCursor`` per station and asks it for every rep
it owns, in time order. Rules (docs/api.md, "Session plans and rep attribution"):

- the count starts at the block and set the session's assignment names (0, 0 when it starts);
- a rep goes to the current set; after the set's target reps the next set starts (after the last
  set of a block, the first set of the next block);
- a pause longer than the plan's ``set_gap_s`` since the previous rep also starts the next set (a
  set cut short);
- after the last set of the plan, further reps stay in that set (``rep_in_set`` above its target);
- a new assignment for another session, or one whose ``plan_position_ns`` changed (the coach moved
  the position through the API), restarts the count from the position it names. A republished
  assignment with the same position changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from kinesync.training.plan_models import SessionPlan

if TYPE_CHECKING:
    from kinesync.models import SessionAssignment

NS = 1_000_000_000


@dataclass(frozen=True)
class RepPosition:
    block_index: int
    block_kind: str
    set_index: int
    rep_in_set: int  # 1-based

    def fields(self) -> dict[str, object]:
        """The RepMetric fields that carry the position."""
        return {"block_index": self.block_index, "block_kind": self.block_kind, "set_index": self.set_index,
                "rep_in_set": self.rep_in_set}


class PlanTracker:
    """Counts reps through a plan from a starting block and set (both 0-based)."""

    def __init__(self, plan: SessionPlan, block_index: int = 0, set_index: int = 0) -> None:
        self.plan = plan
        self.block = min(max(block_index, 0), len(plan.blocks) - 1)
        self.set = min(max(set_index, 0), plan.blocks[self.block].sets - 1)
        self.done_in_set = 0
        self._last_ns: int | None = None
        self._gap_ns = round(plan.set_gap_s * NS)

    def _next_set(self) -> bool:
        """Move to the next set; False (and stay) after the plan's last set."""
        if self.set + 1 < self.plan.blocks[self.block].sets:
            self.set += 1
        elif self.block + 1 < len(self.plan.blocks):
            self.block, self.set = self.block + 1, 0
        else:
            return False
        self.done_in_set = 0
        return True

    def place(self, rep_ns: int) -> RepPosition:
        """The position of a rep at ``rep_ns`` (facility time, ns; reps arrive in time order)."""
        if self.done_in_set and self._last_ns is not None and rep_ns - self._last_ns > self._gap_ns:
            self._next_set()
        block = self.plan.blocks[self.block]
        self.done_in_set += 1
        pos = RepPosition(self.block, block.kind.value, self.set, self.done_in_set)
        self._last_ns = rep_ns
        if self.done_in_set >= block.reps_per_set:
            self._next_set()
        return pos


class PlanCursor:
    """A station's tracker, rebuilt when the assignment names another session or a new position."""

    def __init__(self) -> None:
        self._key: tuple[object, ...] | None = None
        self._tracker: PlanTracker | None = None

    def attribute(self, assignment: SessionAssignment | None, rep_ns: int) -> dict[str, object]:
        """RepMetric fields for a rep at ``rep_ns``; empty when the station follows no plan."""
        plan = assignment.plan if assignment is not None else None
        if plan is None:
            self._key, self._tracker = None, None
            return {}
        key = (assignment.session, assignment.plan_position_ns)
        if self._tracker is None or key != self._key:
            self._tracker = PlanTracker(plan, assignment.plan_block_index, assignment.plan_set_index)
            self._key = key
        return self._tracker.place(rep_ns).fields()


def attribute_reps(plan: SessionPlan, rep_times_ns: Iterable[int], block_index: int = 0,
                   set_index: int = 0) -> list[RepPosition]:
    """Positions of reps at ``rep_times_ns`` (sorted) under ``plan``: what the live count gives."""
    tracker = PlanTracker(plan, block_index, set_index)
    return [tracker.place(t) for t in rep_times_ns]
