"""Time limits 处置时限 per class and filing criterion (立案条件), as editable data."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.api.audit import audit_object
from app.api.auth import require
from app.api.deps import EngineDep, SettingsDep
from app.services.workflow import calendar as service

router = APIRouter(prefix="/api/v1/time-limits", tags=["calendar 工作日历"])
Kind = Literal["event", "component"]


class TimeLimitBody(BaseModel):
    """One time limit: class, filing criterion ('' = the class default), value and unit."""

    class_kind: Kind = "event"
    class_code: str = Field(..., pattern="^[0-9]{4,5}$")
    criterion: str = Field("", max_length=200, description="立案条件；空 = 该分类默认")
    value: float = Field(..., gt=0, le=100_000)
    unit: Literal["urgent_hours", "working_hours", "working_days", "calendar_days"]
    note: str | None = Field(None, max_length=1000)


@router.get("", summary="处置时限列表 / time limits")
def read_time_limits(
    engine: EngineDep,
    settings: SettingsDep,
    kind: Kind | None = None,
    class_code: str | None = Query(None, alias="class", pattern="^[0-9]{4,5}$"),
):
    items = service.list_time_limits(engine, settings, kind, class_code)
    return {"count": len(items), "items": items}


@router.put(
    "",
    summary="设置处置时限 / create or change a time limit",
    dependencies=[require("shift_leader")],
)
def set_time_limit(body: TimeLimitBody, engine: EngineDep, settings: SettingsDep):
    audit_object(class_kind=body.class_kind, class_code=body.class_code, criterion=body.criterion)
    return service.set_time_limit(
        engine,
        settings,
        body.class_kind,
        body.class_code,
        body.criterion,
        body.value,
        body.unit,
        body.note,
    )
