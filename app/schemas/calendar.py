"""Request and response models of the working calendars (工作日历) and deadline previews."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

LimitUnit = Literal["urgent_hours", "working_hours", "working_days", "calendar_days"]


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


class CalendarYearOut(BaseModel):
    """A year as stored, with its count of working days; ``warning`` when none is stored."""

    year: int
    defined: bool = Field(..., description="该年日历已录入 / the year's calendar is stored")
    work_periods: str
    work_periods_default: bool
    source: str | None
    working_days: int
    days: list[CalendarDay]
    warning: str | None = Field(None, description="only when the year is not stored")
    warning_en: str | None = Field(None, description="only when the year is not stored")


class LimitOut(BaseModel):
    value: float
    unit: str = Field(..., description="urgent_hours / working_hours / …")
    text: str = Field(..., description="如 “2 个工作日” / the limit in words")


class Deadline(BaseModel):
    """Where a time limit starting at ``start`` runs out on the stored calendar."""

    start: str = Field(..., description="ISO 8601 in the deployment's time zone")
    deadline: str = Field(..., description="ISO 8601 in the deployment's time zone")
    limit: LimitOut
    clock_seconds: float = Field(..., description="start → deadline, seconds of wall clock")
