"""Request and response models of the street components (部件)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from app.schemas.common import Counted, Feature, FeaturePage, Timestamp

Status = Literal["in_service", "damaged", "missing", "occupied", "retired"]


class ComponentIn(BaseModel):
    """A new component: class (or a given identifier) and where it stands."""

    class_code: str | None = Field(None, pattern="^[0-9]{4,5}$", examples=["0118"])
    identifier: str | None = Field(
        None, pattern="^[0-9]{16,17}$", description="keep an identifier issued elsewhere"
    )
    geometry: dict = Field(..., examples=[{"type": "Point", "coordinates": [120.6, 31.3]}])
    district_code: str | None = Field(
        None, pattern="^[0-9]{6}$", description="when the point lies in no stored district"
    )
    status: Status | None = None
    owner_unit_code: str | None = None
    maintainer_unit_code: str | None = None
    attributes: dict[str, Any] | None = None
    source_layer: str | None = Field(None, description="with source_id: idempotent creation")
    source_id: str | None = None
    note: str | None = None
    actor: str | None = None


class ComponentPatch(BaseModel):
    """Changes; fields left out stay as they are (null clears a unit, removes an attribute)."""

    status: Status | None = None
    owner_unit_code: str | None = None
    maintainer_unit_code: str | None = None
    attributes: dict[str, Any] | None = None
    geometry: dict | None = None
    event_id: int | None = Field(None, description="the case that caused the change")
    note: str | None = None
    actor: str | None = None


class ComponentSource(BaseModel):
    """Where an imported component came from (layer + id: re-imports are idempotent)."""

    source_layer: str
    source_id: str
    imported_at: Timestamp


class ComponentProperties(BaseModel):
    """A component's attributes; where it stands is the feature's geometry."""

    id: int
    identifier: str = Field(..., description="部件标识码 (16/17 digits)")
    scheme: str
    class_code: str
    class_name: str
    class_name_en: str | None
    grid_code: str | None
    community_code: str | None
    district_code: str | None
    street_id: int | None
    street_name: str | None
    status: Status
    owner_unit_code: str | None
    maintainer_unit_code: str | None
    attributes: dict[str, Any] | None = Field(..., description="the class's own attributes")
    created_at: Timestamp
    updated_at: Timestamp
    sources: list[ComponentSource] | None = Field(
        None, description="one component's answers only: its import sources"
    )


class ComponentFeature(Feature[ComponentProperties]):
    """One component as a GeoJSON Feature (id = identifier)."""


class ComponentPage(FeaturePage[ComponentFeature]):
    """A page of components (or CSV with ``format=csv``)."""


class SummaryRow(BaseModel):
    """Components of one class in one group, by status."""

    key: str | None = Field(..., description="grid / area code or street id; null = none")
    name: str | None
    class_code: str
    class_name: str
    class_name_en: str | None
    total: int
    in_service: int
    damaged: int
    missing: int
    occupied: int
    retired: int


class ComponentSummary(Counted):
    """Counts per class per group (grid, community, sub-district, district or street)."""

    by: str
    scheme: str
    totals: dict[str, int] = Field(..., description="class code → components")
    items: list[SummaryRow]


class HistoryEntry(BaseModel):
    """One change of a component."""

    id: int
    at: Timestamp
    actor: str
    action: str
    field: str | None
    old_value: str | None
    new_value: str | None
    event_id: int | None
    note: str | None


class ComponentHistory(BaseModel):
    identifier: str
    count: int
    items: list[HistoryEntry]


class ComponentCase(BaseModel):
    """A case (event) about a component."""

    id: int
    status: str
    class_kind: str
    class_code: str
    class_name: str
    source: str
    reported_at: Timestamp
    closed_at: Timestamp | None
    grid_code: str | None
    location_text: str | None
    description: str | None
    unit_code: str | None


class ComponentCases(Counted):
    identifier: str
    items: list[ComponentCase]
