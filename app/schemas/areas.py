"""Response models of the administrative areas (district 区, sub-district 街道, community 社区)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.common import Feature, FeaturePage


class AreaProperties(BaseModel):
    """An area's attributes; its polygon is the feature's geometry."""

    code: str = Field(..., description="6 / 9 / 12 位编码")
    level: Literal["district", "subdistrict", "community"]
    parent_code: str | None
    name: str
    name_en: str | None
    area_m2: float | None = Field(..., description="面积（平方米）/ area in m²")
    grid_count: int = Field(..., description="现行网格数 / current grids inside")


class AreaFeature(Feature[AreaProperties]):
    """One area as a GeoJSON Feature (id = code)."""


class AreaPage(FeaturePage[AreaFeature]):
    """A page of areas."""
