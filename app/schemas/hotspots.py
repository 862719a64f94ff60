"""Response models of the hotspot analysis (热点分析) and the street statistics."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from app.schemas.common import Feature, FeatureCollection


class EventFilterOut(BaseModel):
    """The event filter as understood (``to`` is exclusive)."""

    class_: list[str] = Field(..., alias="class")
    kind: str | None
    major: list[str]
    from_: str | None = Field(..., alias="from")
    to: str | None
    source: list[str]
    status: list[str]
    area: str | None


class StreetHotspot(BaseModel):
    rank: int
    street_id: int
    segment_id: int | None = None
    name: str
    name_en: str | None = None
    grade: str | None = None
    events: int
    length_m: float
    per_100m: float | None
    z: float | None = None
    p: float | None = None
    bin: int | None = None
    previous: int | None = None
    change: int | None = None
    change_pct: float | None = None
    trend: str | None = None


class StreetHotspots(BaseModel):
    filter: dict
    level: Literal["street", "segment"]
    order: str
    count: int
    items: list[StreetHotspot]


class StreetHotspotFeature(Feature[StreetHotspot]):
    """A ranked street (merged centreline) or segment."""


class StreetHotspotCollection(FeatureCollection[StreetHotspotFeature]):
    """``format=geojson``: the ranking as features."""

    filter: EventFilterOut


class GridHotspotProperties(BaseModel):
    """Gi* of one grid: events, z-score, p-value and confidence bin (-3 … 3)."""

    code: str
    community_code: str
    events: int
    z: float | None
    p: float | None
    bin: int = Field(..., description="3 = hot spot at 99 % … -3 = cold spot at 99 %")
    previous: int | None = Field(None, description="trend=true: events the period before")
    change: int | None = None
    trend: str | None = None


class GridHotspotFeature(Feature[GridHotspotProperties]):
    """One grid (id = code); geometry null with ``geometry=false``."""


class HotspotSummary(BaseModel):
    grids: int
    events: int
    fdr: bool
    bins: dict[str, int] = Field(..., description="bin → grids")
    confidence: dict[str, float] = Field(..., description="bin → confidence level")


class Period(BaseModel):
    from_: str = Field(..., alias="from")
    to: str


class GridHotspotCollection(FeatureCollection[GridHotspotFeature]):
    """Gi* per current grid."""

    filter: EventFilterOut
    summary: HotspotSummary
    bins: dict[str, str] = Field(..., description="bin → its name in the asked language")
    numberMatched: int
    numberReturned: int
    previous: Period | None = Field(None, description="trend=true: the period compared")


class StreetClassCount(BaseModel):
    kind: str
    code: str
    name: str
    name_en: str | None
    events: int


class StreetStats(BaseModel):
    """Events of one street, by class."""

    street_id: int
    name: str
    name_en: str | None
    grade: str | None
    events: int
    classes: list[StreetClassCount]


class StreetStatsOut(BaseModel):
    """Events per street and class for the filter: streets by total."""

    filter: EventFilterOut
    streets: int = Field(..., description="streets with events")
    events: int
    items: list[StreetStats]
