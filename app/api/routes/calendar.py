"""Working calendars 工作日历: holidays and make-up working days per year, deadline preview."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query

from app.api.auth import require
from app.api.deps import EngineDep, SettingsDep
from app.api.openapi import problems
from app.schemas.calendar import CalendarYear, CalendarYearOut, Deadline, LimitUnit
from app.schemas.values import Moment
from app.services.workflow import calendar as service

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar 工作日历"])
YearPath = Path(..., ge=2000, le=2100)


@router.get(
    "/deadline",
    response_model=Deadline,
    responses=problems(),
    summary="计算时限 / where a time limit runs out",
)
def read_deadline(
    engine: EngineDep,
    settings: SettingsDep,
    start: Moment,
    value: float = Query(..., gt=0, le=10_000),
    unit: LimitUnit = "working_hours",
):
    return service.compute_deadline(engine, settings, start, value, unit)


# exclude_unset: the warning is there only for a year without a stored calendar.
@router.get(
    "/{year}",
    response_model=CalendarYearOut,
    response_model_exclude_unset=True,
    responses=problems(),
    summary="某年工作日历 / one year's calendar",
)
def read_year(engine: EngineDep, settings: SettingsDep, year: int = YearPath):
    return service.read_year(engine, settings, year)


@router.put(
    "/{year}",
    response_model=CalendarYearOut,
    response_model_exclude_unset=True,
    responses=problems(401, 403),
    summary="设置某年工作日历 / replace one year's calendar",
    dependencies=[require("shift_leader")],
)
def replace_year(
    body: CalendarYear, engine: EngineDep, settings: SettingsDep, year: int = YearPath
):
    service.replace_year(
        engine, year, body.work_periods, body.source, [d.model_dump() for d in body.days]
    )
    return service.read_year(engine, settings, year)
