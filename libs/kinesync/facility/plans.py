"""Plan templates in the facility file: coaches write a plan once and start sessions from it."""

from __future__ import annotations

import sqlite3
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kinesync.facility.models import Name, Page
from kinesync.facility.registry import Conflict, NotFound, Registry, page
from kinesync.training.plan_models import SessionPlan


class PlanTemplateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    plan: SessionPlan


class PlanTemplate(BaseModel):
    id: int
    name: str
    plan: SessionPlan
    created_at_ns: int
    sessions: int = Field(0, description="sessions started from this template")


class PlanPositionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    block_index: int = Field(ge=0, le=1000, description="0-based block of the session plan")
    set_index: int = Field(0, ge=0, le=1000, description="0-based set within the block")


_COLS = "p.id, p.name, p.plan, p.created_at_ns, (SELECT COUNT(*) FROM sessions s WHERE s.plan_id = p.id)"


def _template(r: tuple[Any, ...]) -> PlanTemplate:
    return PlanTemplate(id=r[0], name=r[1], plan=SessionPlan.model_validate_json(r[2]), created_at_ns=r[3],
                        sessions=r[4])


class PlanTemplates:
    """CRUD of templates in the registry's transactions (a session start reads the template it copies)."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    @staticmethod
    def _get(c: sqlite3.Connection, plan_id: int) -> PlanTemplate:
        r = c.execute(f"SELECT {_COLS} FROM plans p WHERE p.id = ?", [plan_id]).fetchone()
        if r is None:
            raise NotFound(f"plan {plan_id} not found")
        return _template(r)

    async def list(self, limit: int, offset: int) -> Page[PlanTemplate]:
        return await self.registry.transaction(
            lambda c: page(c, f"SELECT {_COLS} FROM plans p", [], limit, offset, _template))

    async def get(self, plan_id: int) -> PlanTemplate:
        return await self.registry.transaction(lambda c: self._get(c, plan_id))

    async def create(self, body: PlanTemplateIn) -> PlanTemplate:
        created_at_ns = self.registry.now_ns()

        def fn(c: sqlite3.Connection) -> PlanTemplate:
            if c.execute("SELECT 1 FROM plans WHERE name = ?", [body.name]).fetchone():
                raise Conflict(f"a plan named {body.name!r} exists", "name")
            cur = c.execute("INSERT INTO plans (name, plan, created_at_ns) VALUES (?, ?, ?)",
                            [body.name, body.plan.model_dump_json(), created_at_ns])
            return self._get(c, int(cur.lastrowid or 0))

        return await self.registry.transaction(fn)

    async def update(self, plan_id: int, body: PlanTemplateIn) -> PlanTemplate:
        """Replace the template's name and plan. Sessions copied the plan when they started, so those already
        started (running or stopped) go on with the plan they had; only later starts read the new one."""

        def fn(c: sqlite3.Connection) -> PlanTemplate:
            self._get(c, plan_id)
            if c.execute("SELECT 1 FROM plans WHERE name = ? AND id != ?", [body.name, plan_id]).fetchone():
                raise Conflict(f"a plan named {body.name!r} exists", "name")
            c.execute("UPDATE plans SET name = ?, plan = ? WHERE id = ?",
                      [body.name, body.plan.model_dump_json(), plan_id])
            return self._get(c, plan_id)

        return await self.registry.transaction(fn)

    async def delete(self, plan_id: int) -> None:
        # Sessions keep their own copy of the plan, so a template can go while its history stays.
        def fn(c: sqlite3.Connection) -> None:
            self._get(c, plan_id)
            c.execute("DELETE FROM plans WHERE id = ?", [plan_id])

        await self.registry.transaction(fn)
