"""Response models of the streets (named centrelines made of segments)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas.common import Feature, FeaturePage


class StreetProperties(BaseModel):
    """A street's attributes; its segments are the feature's MultiLineString."""

    id: int
    name: str
    name_en: str | None
    grade: str | None = Field(..., description="严管街 / 控制街 / 标准街")
    district_code: str | None
    segment_count: int
    length_m: float | None = Field(..., description="长度（米）/ length in metres")


class StreetFeature(Feature[StreetProperties]):
    """One street as a GeoJSON Feature (id = street id)."""


class StreetPage(FeaturePage[StreetFeature]):
    """A page of streets."""
