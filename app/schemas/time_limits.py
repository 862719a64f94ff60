"""Request and response models of the time limits (处置时限) per class and filing criterion."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.calendar import LimitUnit

Kind = Literal["event", "component"]


class TimeLimitBody(BaseModel):
    """One time limit: class, filing criterion ('' = the class default), value and unit."""

    class_kind: Kind = "event"
    class_code: str = Field(..., pattern="^[0-9]{4,5}$")
    criterion: str = Field("", max_length=200, description="立案条件；空 = 该分类默认")
    # At most 1,000 of any unit: longer limits run past the working calendar's 10-year horizon
    # (a dispatch with them could not compute its deadline).
    value: float = Field(..., gt=0, le=1_000)
    unit: LimitUnit
    note: str | None = Field(None, max_length=1000)


class TimeLimitOut(BaseModel):
    """A stored time limit."""

    class_kind: Kind
    class_code: str
    criterion: str
    limit_value: float
    limit_unit: str = Field(..., description="urgent_hours / working_hours / …")
    note: str | None


class TimeLimitRow(TimeLimitOut):
    """A stored time limit with its scheme and class name."""

    scheme: str
    class_name: str | None


class TimeLimitList(BaseModel):
    count: int
    items: list[TimeLimitRow]
