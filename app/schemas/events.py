"""Request and response models of the event (case) API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

from app.schemas.values import Moment, Text

# A contact is a few short fields (name, phone, e-mail): not a place to store a file.
ContactKey = Annotated[Text, Field(max_length=40)]
ContactValue = Annotated[Text, Field(max_length=200)]

Source = Literal["supervisor", "hotline", "public_app", "video", "higher_order"]
Kind = Literal["event", "component"]
# Practice prefixes: BJ = 部件 (component), SJ = 事件 (event), e.g. "BJ0101".
PREFIXES = {"BJ": "component", "SJ": "event"}


class PointGeometry(BaseModel):
    type: Literal["Point"]
    coordinates: tuple[float, float] | tuple[float, float, float]


class ClassRef(BaseModel):
    """A class given as kind + code; ``BJ0101`` / ``SJ0102`` prefixes set the kind."""

    class_code: str = Field(..., description="分类代码，如 0102 或 SJ0102 / class code")
    class_kind: Kind | None = Field(
        None, description="event (事件) or component (部件); default event"
    )

    @model_validator(mode="after")
    def _split_prefix(self) -> ClassRef:
        code = self.class_code.strip().upper()
        prefix = code[:2]
        if prefix in PREFIXES:
            if self.class_kind and self.class_kind != PREFIXES[prefix]:
                raise ValueError(
                    f"class_code prefix {prefix} contradicts class_kind {self.class_kind}"
                )
            self.class_kind, code = PREFIXES[prefix], code[2:]  # type: ignore[assignment]
        if not code.isdigit() or len(code) not in (4, 5):
            raise ValueError("class_code must be 4 (2013 scheme) or 5 (2026 scheme) digits")
        self.class_code = code
        self.class_kind = self.class_kind or "event"
        return self


class LocatedClassRef(ClassRef):
    """A class plus a WGS84 (or CGCS2000) point, as lon/lat or a GeoJSON Point."""

    lon: float | None = Field(None, ge=-180, le=180)
    lat: float | None = Field(None, ge=-90, le=90)
    location: PointGeometry | None = None
    crs: Literal["EPSG:4326", "EPSG:4490"] = Field(
        "EPSG:4326",
        description="EPSG:4490 (CGCS2000) is taken as WGS84: they differ by centimetres",
    )
    component_identifier: str | None = Field(None, pattern=r"^[0-9]{16,17}$")

    @model_validator(mode="after")
    def _one_location(self) -> LocatedClassRef:
        if self.location is not None:
            if self.lon is not None or self.lat is not None:
                raise ValueError("give either lon/lat or location, not both")
            lon, lat = self.location.coordinates[:2]
            if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                raise ValueError("location coordinates are outside WGS84 bounds")
            self.lon, self.lat = lon, lat
        elif self.lon is None or self.lat is None:
            raise ValueError("a location is required: lon and lat, or a GeoJSON Point")
        return self


class EventCreate(LocatedClassRef):
    """A reported event (事件/案件)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "class_code": "0102",
                "class_kind": "event",
                "lon": 120.6,
                "lat": 31.3,
                "location_text": "长宁路与桂花巷交叉口东北角",
                "description": "路边堆放生活垃圾",
                "source": "supervisor",
                "reporter": "监督员 张三",
                "observed_at": "2026-11-21T09:30:00+08:00",
                "idempotency_key": "patrol-app-7f3c2a",
            }
        }
    )

    location_text: str | None = Field(None, max_length=256, description="事发位置（≤256 字）")
    description: str | None = Field(None, max_length=4000)
    source: Source = "supervisor"
    reporter: str | None = Field(None, max_length=200)
    reporter_contact: dict[ContactKey, ContactValue] | None = Field(
        None,
        max_length=10,
        description="上报人联系方式（不公开）/ reporter contact, never published",
    )
    observed_at: Moment | None = None
    photo_urls: list[HttpUrl] = Field(default_factory=list, max_length=20)
    idempotency_key: str | None = Field(None, min_length=1, max_length=128)

    @field_validator("observed_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("observed_at needs a UTC offset, e.g. 2026-11-21T09:30:00+08:00")
        return value


class AssignRequest(BaseModel):
    """Points to assign without storing anything (dispatch preview, pre-submit check)."""

    points: list[LocatedClassRef] = Field(..., min_length=1, max_length=10_000)
    at: Moment | None = Field(None, description="report time for grid versions; default now")


class EventOut(BaseModel):
    """A stored case with its assignment."""

    id: int
    status: str
    class_kind: str
    class_code: str
    class_name: str
    class_name_en: str | None
    lon: float
    lat: float
    location_text: str | None
    description: str | None
    source: str
    reporter: str | None  # what the reporter typed
    reported_by: str | None = None  # the account that filed it (None: anonymous Open311)
    photo_urls: list[str] | None
    idempotency_key: str | None
    observed_at: datetime | None
    reported_at: datetime
    grid_code: str | None
    community_code: str | None
    subdistrict_code: str | None
    district_code: str | None
    unit_code: str | None
    unit_name: str | None
    component_identifier: str | None
    deadline_at: datetime | None
    assignment: dict[str, Any] | None


class Assignment(BaseModel):
    """Where one point falls and who must act: grid, areas, street, unit, deadline and
    possible duplicates, each with its reason (zh/en). Open-ended: the parts present depend
    on what the point meets (e.g. ``component`` for a component case)."""

    model_config = ConfigDict(extra="allow")

    grid: dict[str, Any] | None = None
    unit: dict[str, Any] | None = None
    deadline: dict[str, Any] | None = None


class AssignedPoint(BaseModel):
    """One previewed point: inside the managed area or not, and its assignment."""

    index: int = Field(..., description="position in the request's points")
    lon: float
    lat: float
    inside: bool
    reason: str | None = Field(None, description="outside points only: why")
    reason_en: str | None = None
    assignment: Assignment | None = Field(None, description="inside points only")


class AssignResults(BaseModel):
    """The assignment preview of every point; nothing is stored."""

    count: int
    results: list[AssignedPoint]
