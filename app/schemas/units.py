"""Response models of the responsible units 责任单位."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas.common import Counted


class Unit(BaseModel):
    """A responsible unit and how many current grids fall back to it."""

    id: int
    code: str
    name: str
    name_en: str | None
    kind: str = Field(..., description="department / subdistrict_office / contractor / …")
    # for signed-in staff only: an anonymous answer leaves them out
    contact: str | None = None
    phone: str | None = None
    area_code: str | None
    grid_count: int


class UnitList(Counted):
    """A page of units."""

    items: list[Unit]
