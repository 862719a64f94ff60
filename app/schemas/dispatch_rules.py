"""Request and response models of the dispatch rules (派遣规则): class × area → unit."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas.common import Counted, Timestamp
from app.schemas.events import ClassRef


class RuleCreate(ClassRef):
    area_code: str = Field(
        ...,
        pattern=r"^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{15})$",
        description="区 6 / 街道 9 / 社区 12 / 网格 15 位编码",
    )
    unit_code: str = Field(..., min_length=1, max_length=32)
    note: str | None = Field(None, max_length=1000)


class RuleUpdate(BaseModel):
    unit_code: str | None = Field(None, min_length=1, max_length=32)
    note: str | None = Field(None, max_length=1000)


class Rule(BaseModel):
    """Cases of this class inside this area go to this unit (the most specific area wins)."""

    id: int
    scheme: str
    class_kind: str
    class_code: str
    class_name: str | None
    area_code: str
    area_level: int = Field(..., description="编码位数 6/9/12/15 / the area code's length")
    unit_code: str
    unit_name: str | None
    note: str | None
    created_at: Timestamp


class RuleList(Counted):
    items: list[Rule]


class UncoveredClass(BaseModel):
    """A class whose cases in an area fall through to the fallback unit."""

    class_kind: str
    class_code: str
    class_name: str
    class_name_en: str | None
    grids: int = Field(..., description="grids of the area without a rule for the class")


class UncoveredArea(BaseModel):
    area_code: str
    area_name: str | None
    classes: list[UncoveredClass]


class Coverage(BaseModel):
    """Per area, the classes no rule covers."""

    level: str
    areas: list[UncoveredArea]
