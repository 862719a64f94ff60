"""SQLAlchemy + GeoAlchemy2 models. Alembic owns the schema; these mirror it for queries.

All geometry is EPSG:4326. Areas and lengths are generated columns computed on the
geography type, so they are always in metres and can never drift from the geometry.
"""

from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Computed,
    DateTime,
    Float,
    ForeignKey,
    Index,
    ForeignKeyConstraint,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

SRID = 4326

UNIT_KINDS = ("department", "subdistrict_office", "contractor", "command_centre")
AREA_LEVELS = ("district", "subdistrict", "community")
STREET_GRADES = ("严管街", "控制街", "标准街")
CLASS_SCHEMES = ("2013", "2026")
CLASS_KINDS = ("component", "event")
COMPONENT_STATUSES = ("in_service", "damaged", "missing", "occupied", "retired")
TIME_LIMIT_UNITS = ("urgent_hours", "working_hours", "working_days", "calendar_days")
EVENT_SOURCES = ("supervisor", "hotline", "public_app", "video", "higher_order")
EVENT_STATUSES = (
    "reported", "verifying", "filed", "voided", "dispatched", "handling",
    "handled", "checking", "closed", "shelved",
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Base(DeclarativeBase):
    metadata = metadata


class AdminArea(Base):
    """District 区 (6-digit GB/T 2260), sub-district 街道 (+3) or community 社区 (+3)."""

    __tablename__ = "admin_area"
    __table_args__ = (
        CheckConstraint(_in("level", AREA_LEVELS), name="level"),
        CheckConstraint(
            "(level = 'district' AND code ~ '^[0-9]{6}$' AND parent_code IS NULL)"
            " OR (level = 'subdistrict' AND code ~ '^[0-9]{9}$' AND parent_code = left(code, 6))"
            " OR (level = 'community' AND code ~ '^[0-9]{12}$' AND parent_code = left(code, 9))",
            name="code_hierarchy",
        ),
    )

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    level: Mapped[str] = mapped_column(String(12))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("admin_area.code"), index=True)
    name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=False)
    area_m2: Mapped[float] = mapped_column(Float, Computed("ST_Area(geom::geography)"))


class ResponsibleUnit(Base):
    """责任单位 / 专业部门: who acts on a case."""

    __tablename__ = "responsible_unit"
    __table_args__ = (
        CheckConstraint(_in("kind", UNIT_KINDS), name="kind"),
        Index(
            "uq_responsible_unit_office_area", "area_code", unique=True,
            postgresql_where=text("kind = 'subdistrict_office'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(24))
    contact: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(Text)
    # For a sub-district office: the sub-district it answers for (the 属地兜底 fallback).
    area_code: Mapped[str | None] = mapped_column(ForeignKey("admin_area.code"), index=True)


class Grid(Base):
    """单元网格, one version of it. The current version has ``valid_to IS NULL``."""

    __tablename__ = "grid"
    __table_args__ = (
        CheckConstraint("code ~ '^[0-9]{15}$'", name="code_format"),
        CheckConstraint("left(code, 12) = community_code", name="code_in_community"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_range"),
        CheckConstraint("ST_IsValid(geom) AND NOT ST_IsEmpty(geom)", name="geom_valid"),
        Index("uq_grid_current_code", "code", unique=True, postgresql_where=text("valid_to IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(String(15), index=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("admin_area.code"), index=True)
    name: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("MULTIPOLYGON", srid=SRID, spatial_index=True), nullable=False)
    area_m2: Mapped[float] = mapped_column(Float, Computed("ST_Area(geom::geography)"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("responsible_unit.id"))
    supervisor: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, server_default="1")
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Street(Base):
    """A named street; its centerline is the set of its segments."""

    __tablename__ = "street"
    __table_args__ = (
        CheckConstraint(f"grade IS NULL OR {_in('grade', STREET_GRADES)}", name="grade"),
        UniqueConstraint(
            "district_code", "name", name="uq_street_district_name", postgresql_nulls_not_distinct=True
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    grade: Mapped[str | None] = mapped_column(String(8))
    district_code: Mapped[str | None] = mapped_column(ForeignKey("admin_area.code"))


class StreetSegment(Base):
    """A centerline piece between intersections, the unit of street hotspots."""

    __tablename__ = "street_segment"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    street_id: Mapped[int] = mapped_column(ForeignKey("street.id", ondelete="CASCADE"), index=True)
    source_id: Mapped[str | None] = mapped_column(Text)
    geom = mapped_column(Geometry("LINESTRING", srid=SRID, spatial_index=True), nullable=False)
    length_m: Mapped[float] = mapped_column(Float, Computed("ST_Length(geom::geography)"))


class ClassificationClass(Base):
    """A component or event class of one scheme (2013 or 2026); custom classes are rows too."""

    __tablename__ = "classification"
    __table_args__ = (
        CheckConstraint(_in("scheme", CLASS_SCHEMES), name="scheme"),
        CheckConstraint(_in("kind", CLASS_KINDS), name="kind"),
        CheckConstraint(
            "(scheme = '2013' AND code ~ '^[0-9]{4}$') OR (scheme = '2026' AND code ~ '^[0-9]{5}$')",
            name="code_format",
        ),
        CheckConstraint("left(code, 2) = major_code", name="code_in_major"),
        CheckConstraint(
            f"time_limit_unit IS NULL OR {_in('time_limit_unit', TIME_LIMIT_UNITS)}",
            name="time_limit_unit",
        ),
    )

    scheme: Mapped[str] = mapped_column(String(4), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    major_code: Mapped[str] = mapped_column(String(2))
    major_name: Mapped[str] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str | None] = mapped_column(Text)
    geometry_type: Mapped[str | None] = mapped_column(String(16))
    time_limit_value: Mapped[float | None] = mapped_column(Numeric)
    time_limit_unit: Mapped[str | None] = mapped_column(String(16))
    is_custom: Mapped[bool] = mapped_column(Boolean, server_default="false")
    source: Mapped[str | None] = mapped_column(Text)


class Component(Base):
    """部件: a street facility, identified per the scheme (16 or 17 digits)."""

    __tablename__ = "component"
    __table_args__ = (
        CheckConstraint("kind = 'component'", name="kind"),
        CheckConstraint(_in("status", COMPONENT_STATUSES), name="status"),
        CheckConstraint(
            "identifier ~ '^[0-9]+$' AND length(identifier) = length(class_code) + 12"
            " AND substr(identifier, 7, length(class_code)) = class_code",
            name="identifier_format",
        ),
        ForeignKeyConstraint(
            ["scheme", "kind", "class_code"],
            ["classification.scheme", "classification.kind", "classification.code"],
            name="fk_component_class",
        ),
        Index("ix_component_class", "scheme", "class_code"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    identifier: Mapped[str] = mapped_column(String(17), unique=True)
    scheme: Mapped[str] = mapped_column(String(4))
    kind: Mapped[str] = mapped_column(String(10), server_default="component")
    class_code: Mapped[str] = mapped_column(String(5))
    geom = mapped_column(Geometry("GEOMETRY", srid=SRID, spatial_index=True), nullable=False)
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    street_id: Mapped[int | None] = mapped_column(ForeignKey("street.id"))
    owner_unit_id: Mapped[int | None] = mapped_column(ForeignKey("responsible_unit.id"))
    maintainer_unit_id: Mapped[int | None] = mapped_column(ForeignKey("responsible_unit.id"))
    status: Mapped[str] = mapped_column(String(12), server_default="in_service")
    attributes: Mapped[dict] = mapped_column(JSONB, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Event(Base):
    """事件/案件: a reported problem and where the assignment put it."""

    __tablename__ = "event"
    __table_args__ = (
        CheckConstraint(_in("source", EVENT_SOURCES), name="source"),
        CheckConstraint(_in("status", EVENT_STATUSES), name="status"),
        ForeignKeyConstraint(
            ["scheme", "class_kind", "class_code"],
            ["classification.scheme", "classification.kind", "classification.code"],
            name="fk_event_class",
        ),
        Index(
            "ix_event_class_open", "scheme", "class_kind", "class_code", "reported_at",
            postgresql_where=text("status NOT IN ('closed', 'voided')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scheme: Mapped[str] = mapped_column(String(4))
    class_kind: Mapped[str] = mapped_column(String(10))
    class_code: Mapped[str] = mapped_column(String(5))
    geom = mapped_column(Geometry("POINT", srid=SRID, spatial_index=True), nullable=False)
    location_text: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    reporter: Mapped[str | None] = mapped_column(Text)
    photo_urls: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    idempotency_key: Mapped[str | None] = mapped_column(String(128), unique=True)
    public_token: Mapped[str | None] = mapped_column(String(36), unique=True)
    reporter_contact: Mapped[dict | None] = mapped_column(JSONB)
    service_notice: Mapped[str | None] = mapped_column(Text)
    observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now(), index=True)
    grid_id: Mapped[int | None] = mapped_column(ForeignKey("grid.id"))
    grid_code: Mapped[str | None] = mapped_column(String(15), index=True)
    community_code: Mapped[str | None] = mapped_column(String(12))
    subdistrict_code: Mapped[str | None] = mapped_column(String(9))
    district_code: Mapped[str | None] = mapped_column(String(6))
    street_id: Mapped[int | None] = mapped_column(ForeignKey("street.id"))
    street_distance_m: Mapped[float | None] = mapped_column(Float)
    component_id: Mapped[int | None] = mapped_column(ForeignKey("component.id"))
    component_distance_m: Mapped[float | None] = mapped_column(Float)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("responsible_unit.id"), index=True)
    assignment: Mapped[dict | None] = mapped_column(JSONB)
    deadline_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), server_default="reported")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class CaseLog(Base):
    """Every workflow transition of a case: who, when, what, with a note."""

    __tablename__ = "case_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(12))
    to_status: Mapped[str | None] = mapped_column(String(12))
    note: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict | None] = mapped_column(JSONB)


class DispatchRule(Base):
    """Cases of a class in an area go to a unit; the most specific area wins."""

    __tablename__ = "dispatch_rule"
    __table_args__ = (
        CheckConstraint(
            "area_code ~ '^([0-9]{6}|[0-9]{9}|[0-9]{12}|[0-9]{15})$'", name="area_code"
        ),
        ForeignKeyConstraint(
            ["scheme", "class_kind", "class_code"],
            ["classification.scheme", "classification.kind", "classification.code"],
            name="fk_dispatch_rule_class",
        ),
        UniqueConstraint(
            "scheme", "class_kind", "class_code", "area_code", name="uq_dispatch_rule_class_area"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme: Mapped[str] = mapped_column(String(4))
    class_kind: Mapped[str] = mapped_column(String(10))
    class_code: Mapped[str] = mapped_column(String(5))
    area_code: Mapped[str] = mapped_column(String(15), index=True)
    area_level: Mapped[int] = mapped_column(SmallInteger, Computed("length(area_code)"))
    unit_id: Mapped[int] = mapped_column(ForeignKey("responsible_unit.id"))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
