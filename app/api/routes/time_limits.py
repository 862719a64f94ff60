"""Time limits 处置时限 per class and filing criterion (立案条件), as editable data."""

from __future__ import annotations

from fastapi import APIRouter, Query

from app.api.audit import audit_object
from app.api.auth import require
from app.api.deps import EngineDep, SettingsDep
from app.api.openapi import problems
from app.schemas.time_limits import Kind, TimeLimitBody, TimeLimitList, TimeLimitOut
from app.services.workflow import calendar as service

router = APIRouter(prefix="/api/v1/time-limits", tags=["calendar 工作日历"])


@router.get(
    "", response_model=TimeLimitList, responses=problems(), summary="处置时限列表 / time limits"
)
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
    response_model=TimeLimitOut,
    responses=problems(401, 403),
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
