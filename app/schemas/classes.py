"""Request and response models of the component and event classes (分类)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.common import Number

Kind = Literal["component", "event"]


class ClassIn(BaseModel):
    """A city's own class (本地扩展分类) in the deployment's scheme."""

    code: str = Field(
        ..., pattern=r"^\d{4,5}$", description="4 digits (2013) or 5 (2026)", examples=["2140"]
    )
    kind: Kind = "component"
    name: str = Field(..., min_length=1, description="中文名称 / Chinese name")
    name_en: str | None = None
    major_code: str | None = Field(
        None, pattern=r"^\d{2}$", description="optional: the first two digits of code"
    )
    major_name: str | None = Field(None, description="required when the major is new")
    geometry_type: Literal["point", "line", "polygon", "Point", "LineString", "Polygon"] | None = (
        Field(None, description="component classes: how the component is drawn (default point)")
    )
    source: str | None = None


class ClassOut(BaseModel):
    """A class of the scheme in use, standard or the city's own."""

    scheme: str = Field(..., description="2013 or 2026")
    kind: Kind
    code: str
    major_code: str
    major_name: str
    name: str
    name_en: str | None
    geometry_type: str | None
    geometry: str | None = Field(..., description="component classes: Point / LineString / …")
    time_limit_value: Number | None
    time_limit_unit: str | None
    is_custom: bool
    source: str | None


class ClassList(BaseModel):
    """The classes of the scheme in use."""

    scheme: str
    count: int
    items: list[ClassOut]
