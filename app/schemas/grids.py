"""Request and response models of the grid units (单元网格): reads, validation and edits."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from app.schemas.common import Feature, FeatureCollection, FeaturePage, Geometry, Number, Timestamp


class GridEditBody(BaseModel):
    actor: str | None = Field(
        None, max_length=200, description="代为编辑 / on whose behalf (the user is recorded too)"
    )
    note: str | None = Field(None, max_length=2000)


class ReshapeBody(GridEditBody):
    geometry: dict[str, Any] = Field(..., description="新形状 GeoJSON Polygon (WGS84)")
    adjust_neighbours: bool = Field(True, description="相邻网格随之调整 / neighbours follow")


class SplitBody(GridEditBody):
    line: dict[str, Any] = Field(..., description="切分线 GeoJSON LineString, edge to edge")


class MergeBody(GridEditBody):
    codes: list[str] = Field(..., min_length=2)


class CreateBody(GridEditBody):
    geometry: dict[str, Any] = Field(..., description="所画范围 GeoJSON Polygon (WGS84)")
    community: str | None = Field(None, description="社区编码; default: the one under the shape")


class RetireBody(GridEditBody):
    codes: list[str] = Field(..., min_length=1)


class RenumberBody(GridEditBody):
    community: str


class GridProperties(BaseModel):
    """One version of a grid with its areas and units; the polygon is the geometry."""

    id: int = Field(..., description="version row id")
    code: str = Field(..., description="15 位网格编码 (GB/T 30428.1)")
    name: str | None
    community_code: str
    community_name: str
    subdistrict_code: str
    subdistrict_name: str | None
    district_code: str
    district_name: str | None
    area_m2: float | None
    supervisor: str | None = Field(..., description="监督员")
    unit_code: str | None
    unit_name: str | None
    fallback_unit_code: str | None = Field(..., description="属地兜底单位 / fallback unit")
    fallback_unit_name: str | None
    version: int
    valid_from: Timestamp
    valid_to: Timestamp | None


class GridFeature(Feature[GridProperties]):
    """One grid as a GeoJSON Feature (id = code, or the version id in a history)."""


class GridPage(FeaturePage[GridFeature]):
    """A page of grids."""


class ViolationProperties(BaseModel):
    """One broken topology rule (a gap, an overlap, an area out of band, …)."""

    rule: str
    severity: str = Field(..., description="error / warning")
    community_code: str | None
    codes: list[str]
    area_m2: Number | None
    width_m: Number | None
    message_zh: str
    message_en: str


class Violation(ViolationProperties):
    """A violation in an edit's verdict, its shape inline."""

    geometry: Geometry | None


class ViolationFeature(Feature[ViolationProperties]):
    """A violation where it is."""


class ValidationReport(FeatureCollection[ViolationFeature]):
    """Every topology violation in the gridded communities checked."""

    communities_checked: int
    errors: int
    warnings: int
    by_rule: dict[str, int] = Field(..., description="severity:rule → count")


class GridEdit(BaseModel):
    """One edit that ended or started a version of the grid."""

    id: int
    kind: str
    at: Timestamp
    actor: str | None
    note: str | None
    retired_codes: list[str] | None
    started_codes: list[str] | None
    summary: Any = Field(..., description="what the edit moved (as stored)")


class Renumbering(BaseModel):
    edit_id: int
    at: Timestamp
    old_code: str
    new_code: str


class Retirement(BaseModel):
    retired_at: Timestamp
    edit_id: int | None


class GridHistory(FeatureCollection[GridFeature]):
    """Every version of a code (features, oldest first), its edits and renumberings."""

    code: str
    edits: list[GridEdit]
    renumbered: list[Renumbering]
    retired: Retirement | None


class NewGrids(FeatureCollection[GridFeature]):
    """The versions an edit starts."""


class StartedGrid(BaseModel):
    code: str
    version: int
    area_m2: float | None


class MovedCase(BaseModel):
    """A case whose grid code followed the edit."""

    id: int
    status: str
    from_code: str | None
    to_code: str | None


class MovedComponent(BaseModel):
    id: int
    identifier: str
    from_code: str | None
    to_code: str | None


class Moved(BaseModel):
    events: list[MovedCase]
    components: list[MovedComponent]


class GridEditResult(BaseModel):
    """An edit's verdict and effects; with ``dry_run`` nothing is stored (``edit_id`` null)."""

    edit_id: int | None
    kind: str
    community_code: str
    valid: bool
    dry_run: bool
    retired: list[str]
    started: list[StartedGrid]
    moved: Moved
    closed_cases_kept: int = Field(..., description="closed cases keep their old code")
    grids: NewGrids = Field(..., description="the new versions")
    violations: list[Violation]
    warnings: list[Violation]
    clipped_m2: float | None = Field(None, description="reshape, create: area clipped off")
    mapping: dict[str, str] | None = Field(None, description="renumber: old code → new code")
