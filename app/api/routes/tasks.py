"""Task lists 待办: what waits on a supervisor, a unit or the command centre, most urgent first."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query

from app.api.auth import CurrentUser
from app.api.deps import EngineDep, SettingsDep
from app.api.openapi import problems
from app.api.paging import PageDep
from app.schemas.transitions import TaskList
from app.services.workflow import transitions as service

router = APIRouter(prefix="/api/v1/tasks", tags=["workflow 案件流转"])

# "unit" and "handler" are the same list: the cases a unit (its handlers) must act on.
Role = Literal[
    "supervisor", "handler", "unit", "acceptor", "shift_leader", "dispatcher", "command_centre"
]


@router.get(
    "",
    response_model=TaskList,
    responses=problems(401),
    summary="待办任务 / tasks by role, ordered by time left",
)
def read_tasks(
    engine: EngineDep,
    settings: SettingsDep,
    page: PageDep,
    role: Role,
    user: CurrentUser,
    grid: str | None = Query(None, pattern="^[0-9]{15}$"),
    supervisor: str | None = Query(None, max_length=200, description="监督员姓名"),
    unit: str | None = Query(None, max_length=32, description="单位编码 / unit code"),
    within: str | None = Query(
        None, pattern="^[0-9]{6,15}$", description="只看此区域内 / only inside this area"
    ),
):
    if set(user.roles) == {"handler"}:
        # A handler's list is its own unit's, whatever it asks for.
        role, unit = "handler", user.unit_code
    items, total = service.list_tasks(
        engine,
        settings,
        role,
        grid=grid,
        supervisor=supervisor,
        unit=unit,
        within=within,
        limit=page.limit,
        offset=page.offset,
    )
    return {"role": role, "numberMatched": total, "numberReturned": len(items), "items": items}
