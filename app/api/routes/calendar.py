"""Working calendars 工作日历: holidays and make-up working days per year, deadline preview."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from app.api.auth import require
from app.api.deps import EngineDep, SettingsDep
from app.schemas.common import Moment
from app.services.workflow import calendar as service

router = APIRouter(prefix="/api/v1/calendar", tags=["calendar 工作日历"])
Unit = Literal["urgent_hours", "working_hours", "working_days", "calendar_days"]
YearPath = Path(..., ge=2000, le=2100)


class CalendarDay(BaseModel):
    """A day off (public holiday) or a make-up working day (调休)."""

    date: dt.date
    kind: Literal["holiday", "workday"] = Field(..., description="holiday 放假 / workday 调休上班")
    name: str | None = Field(None, max_length=100)


class CalendarYear(BaseModel):
    """One year's calendar: work periods and the days that break the Monday-to-Friday rule."""

    work_periods: str | None = Field(
        None,
        examples=["09:00-12:00,13:30-17:30"],
        description="空 = 部署默认 / empty = deployment default",
    )
    source: str | None = Field(None, max_length=500)
    days: list[CalendarDay] = Field(default_factory=list, max_length=366)


@router.get("/deadline", summary="计算时限 / where a time limit runs out")
def read_deadline(
    engine: EngineDep,
    settings: SettingsDep,
    start: Moment,
    value: float = Query(..., gt=0, le=10_000),
    unit: Unit = "working_hours",
):
    return service.compute_deadline(engine, settings, start, value, unit)


@router.get("/{year}", summary="某年工作日历 / one year's calendar")
def read_year(engine: EngineDep, settings: SettingsDep, year: int = YearPath):
    return service.read_year(engine, settings, year)


@router.put(
    "/{year}",
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
