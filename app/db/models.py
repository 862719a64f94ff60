"""SQLAlchemy + GeoAlchemy2 models. Alembic owns the schema; these mirror it for queries.

All geometry is EPSG:4326. Areas and lengths are generated columns computed on the
geography type, so they are always in metres and can never drift from the geometry.
"""

from __future__ import annotations

from datetime import date, datetime

from geoalchemy2 import Geometry
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Float,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app import states

SRID = 4326

UNIT_KINDS = ("department", "subdistrict_office", "contractor", "command_centre")
AREA_LEVELS = ("district", "subdistrict", "community")
STREET_GRADES = ("严管街", "控制街", "标准街")
CLASS_SCHEMES = ("2013", "2026")
CLASS_KINDS = ("component", "event")
COMPONENT_STATUSES = ("in_service", "damaged", "missing", "occupied", "retired")
TIME_LIMIT_UNITS = ("urgent_hours", "working_hours", "working_days", "calendar_days")
EVENT_SOURCES = ("supervisor", "hotline", "public_app", "video", "higher_order")
EVENT_STATUSES = states.ALL  # app.states decides which exist

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
            "uq_responsible_unit_office_area",
            "area_code",
            unique=True,
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
        Index(
            "uq_grid_current_code", "code", unique=True, postgresql_where=text("valid_to IS NULL")
        ),
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
            "district_code",
            "name",
            name="uq_street_district_name",
            postgresql_nulls_not_distinct=True,
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
            "ix_event_class_open",
            "scheme",
            "class_kind",
            "class_code",
            "reported_at",
            postgresql_where=text(states.is_open()),
        ),
        Index(
            "ix_event_open_geom",
            "geom",
            "reported_at",
            postgresql_using="gist",
            postgresql_where=text(states.is_open()),
        ),
        # An idempotency key is the account's own (migration 0016); anonymous reports share
        # one scope (NULLs equal), reports without a key never conflict.
        Index(
            "uq_event_idempotency_key_reported_by",
            "idempotency_key",
            "reported_by",
            unique=True,
            postgresql_nulls_not_distinct=True,
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    scheme: Mapped[str] = mapped_column(String(4))
    class_kind: Mapped[str] = mapped_column(String(10))
    class_code: Mapped[str] = mapped_column(String(5))
    # No index of its own: places are looked up among open cases (ix_event_open_geom).
    geom = mapped_column(Geometry("POINT", srid=SRID, spatial_index=False), nullable=False)
    location_text: Mapped[str | None] = mapped_column(String(256))
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    reporter: Mapped[str | None] = mapped_column(Text)  # what the reporter typed
    # the account that filed it through the API (NULL: anonymous Open311) or a bulk import's
    reported_by: Mapped[str | None] = mapped_column(Text)
    photo_urls: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    public_token: Mapped[str | None] = mapped_column(String(36), unique=True)
    reporter_contact: Mapped[dict | None] = mapped_column(JSONB)
    service_notice: Mapped[str | None] = mapped_column(Text)
    observed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
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


# -- Case workflow, deadlines and calendars (migration 0005) ---------------------------------


class TimeLimit(Base):
    """处置时限 of a class under one filing criterion (立案条件); '' is the class default."""

    __tablename__ = "time_limit"
    __table_args__ = (
        ForeignKeyConstraint(
            ["scheme", "class_kind", "class_code"],
            ["classification.scheme", "classification.kind", "classification.code"],
            name="fk_time_limit_class",
            ondelete="CASCADE",
        ),
        UniqueConstraint(
            "scheme", "class_kind", "class_code", "criterion", name="uq_time_limit_class_criterion"
        ),
        CheckConstraint("limit_value > 0", name="value"),
        CheckConstraint(_in("limit_unit", TIME_LIMIT_UNITS), name="unit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme: Mapped[str] = mapped_column(String(4))
    class_kind: Mapped[str] = mapped_column(String(10))
    class_code: Mapped[str] = mapped_column(String(5))
    criterion: Mapped[str] = mapped_column(Text, server_default="")
    limit_value: Mapped[float] = mapped_column(Numeric)
    limit_unit: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class WorkCalendar(Base):
    """One year's working calendar: work periods (NULL = deployment default) and its source."""

    __tablename__ = "work_calendar"
    __table_args__ = (
        CheckConstraint("year BETWEEN 2000 AND 2100", name="year"),
        CheckConstraint(
            "work_periods IS NULL OR work_periods ~ '^([0-9]{2}:[0-9]{2}-[0-9]{2}:[0-9]{2},?)+$'",
            name="periods",
        ),
    )

    year: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    work_periods: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class WorkCalendarDay(Base):
    """A day that breaks the Monday-to-Friday rule: a public holiday or a make-up workday (调休)."""

    __tablename__ = "work_calendar_day"
    __table_args__ = (CheckConstraint("extract(year FROM day) = year", name="day_in_year"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(
        SmallInteger, ForeignKey("work_calendar.year", ondelete="CASCADE"), index=True
    )
    is_workday: Mapped[bool] = mapped_column(Boolean)
    name: Mapped[str | None] = mapped_column(Text)


class CaseWorkflow(Base):
    """The running clock of one case: limit in force, extensions, shelving, stage due time."""

    __tablename__ = "case_workflow"
    __table_args__ = (
        CheckConstraint(
            f"limit_unit IS NULL OR {_in('limit_unit', TIME_LIMIT_UNITS)}", name="limit_unit"
        ),
        CheckConstraint(
            "pending_request IS NULL OR pending_request IN ('extension', 'shelving')",
            name="pending_request",
        ),
        CheckConstraint("(shelved_at IS NULL) = (resume_status IS NULL)", name="shelved"),
    )

    event_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("event.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    criterion: Mapped[str | None] = mapped_column(Text)
    limit_value: Mapped[float | None] = mapped_column(Numeric)
    limit_unit: Mapped[str | None] = mapped_column(String(16))
    clock_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    extension_hours: Mapped[float] = mapped_column(Numeric, server_default="0")
    stage_due_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), index=True)
    stage_yellow_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    shelved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resume_status: Mapped[str | None] = mapped_column(String(12))
    pending_request: Mapped[str | None] = mapped_column(String(12))
    pending_hours: Mapped[float | None] = mapped_column(Numeric)
    dispatched_by: Mapped[str | None] = mapped_column(Text)
    rework_count: Mapped[int] = mapped_column(Integer, server_default="0")
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# -- Hotspots: stored contiguity weights (migration 0007) -----------------------------------
WEIGHT_KINDS = ("grid_queen", "segment_node", "event_segment")

# Hotspot counts filter and group on these columns only: index-only scans (migration 0007).
Index(
    "ix_event_hotspot",
    Event.reported_at,
    postgresql_include=[
        "grid_code",
        "street_id",
        "scheme",
        "class_kind",
        "class_code",
        "source",
        "status",
        "id",
    ],
)


class SpatialWeights(Base):
    """One stored set of weights and the fingerprint of the rows it was computed from."""

    __tablename__ = "spatial_weights"
    __table_args__ = (CheckConstraint(_in("kind", WEIGHT_KINDS), name="kind"),)

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(Text)
    units: Mapped[int] = mapped_column(Integer)
    pairs: Mapped[int] = mapped_column(Integer)
    tolerance_m: Mapped[float] = mapped_column(Float)
    last_event_id: Mapped[int | None] = mapped_column(BigInteger)
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class GridNeighbour(Base):
    """Queen contiguity between current grids, each pair once (grid_id < neighbour_id)."""

    __tablename__ = "grid_neighbour"
    __table_args__ = (CheckConstraint("grid_id < neighbour_id", name="ordered"),)

    grid_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("grid.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    neighbour_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("grid.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
        index=True,
    )


class StreetSegmentNeighbour(Base):
    """Street segments sharing an intersection node, each pair once (segment_id < neighbour_id)."""

    __tablename__ = "street_segment_neighbour"
    __table_args__ = (CheckConstraint("segment_id < neighbour_id", name="ordered"),)

    segment_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("street_segment.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    neighbour_id: Mapped[int] = mapped_column(
        BigInteger,
        ForeignKey("street_segment.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
        index=True,
    )


class EventSegment(Base):
    """The nearest segment of its own street for a street-assigned event (a derived cache)."""

    __tablename__ = "event_segment"

    event_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    segment_id: Mapped[int] = mapped_column(BigInteger, index=True)  # no FK: see migration 0007
    distance_m: Mapped[float] = mapped_column(Float)


ROLES = (
    "supervisor",
    "acceptor",
    "shift_leader",
    "dispatcher",
    "handler",
    "planner",
    "analyst",
    "admin",
)


class AppUser(Base):
    """An account: roles, and for a handler the unit it works for."""

    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint(
            "roles <@ ARRAY['supervisor', 'acceptor', 'shift_leader', 'dispatcher', 'handler', "
            "'planner', 'analyst', 'admin']::varchar(16)[]",
            name="roles",
        ),
        CheckConstraint(
            "NOT ('handler' = ANY (roles)) OR unit_id IS NOT NULL", name="handler_unit"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(Text)
    password_hash: Mapped[str] = mapped_column(Text)
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(16)), server_default="{}")
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("responsible_unit.id"))
    is_active: Mapped[bool] = mapped_column(Boolean, server_default="true")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # tokens issued before (a password change) are refused
    tokens_valid_after: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RevokedSession(Base):
    """A browser session signed out before it expired."""

    __tablename__ = "revoked_session"

    jti: Mapped[str] = mapped_column(Text, primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


# Rate-limit counters (app.db.ratelimit): a row per counted call, no key of its own.
rate_hit = Table(
    "rate_hit",
    Base.metadata,
    Column("bucket", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_rate_hit_bucket_key_at", "bucket", "key", "at"),
)


class AuditLog(Base):
    """Every write through the API: who, when, what."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), index=True
    )
    username: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    client: Mapped[str | None] = mapped_column(Text)
    object: Mapped[dict | None] = mapped_column(JSONB)  # what it changed: {"event_id": 12}


# -- Component inventory: sequences, import keys, history (migration 0004) -------------------
COMPONENT_HISTORY_ACTIONS = ("created", "imported", "updated", "retired", "case")
COMPONENT_HISTORY_FIELDS = (
    "status",
    "owner_unit",
    "maintainer_unit",
    "geometry",
    "grid_code",
    "street_id",
    "attributes",
)


class ComponentSequence(Base):
    """The highest identifier sequence ever issued per (scheme, admin area, class)."""

    __tablename__ = "component_sequence"
    __table_args__ = (
        CheckConstraint("admin_code ~ '^[0-9]{6}$'", name="admin_code"),
        CheckConstraint("last_sequence BETWEEN 0 AND 999999", name="range"),
    )

    scheme: Mapped[str] = mapped_column(String(4), primary_key=True)
    admin_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    class_code: Mapped[str] = mapped_column(String(5), primary_key=True)
    last_sequence: Mapped[int] = mapped_column(Integer)


class ComponentSource(Base):
    """The source feature (layer + its own id or geometry fingerprint) of an imported component."""

    __tablename__ = "component_source"

    source_layer: Mapped[str] = mapped_column(Text, primary_key=True)
    source_id: Mapped[str] = mapped_column(Text, primary_key=True)
    component_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("component.id", ondelete="CASCADE"), index=True
    )
    imported_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class ComponentHistory(Base):
    """One change of one field of a component (who, when, old → new, the causing case)."""

    __tablename__ = "component_history"
    __table_args__ = (
        CheckConstraint(_in("action", COMPONENT_HISTORY_ACTIONS), name="action"),
        CheckConstraint(f"field IS NULL OR {_in('field', COMPONENT_HISTORY_FIELDS)}", name="field"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    component_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("component.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str | None] = mapped_column(Text)
    action: Mapped[str] = mapped_column(String(16))
    field: Mapped[str | None] = mapped_column(String(24))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    event_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("event.id", ondelete="SET NULL"), index=True
    )
    note: Mapped[str | None] = mapped_column(Text)


# Indexes 0004 adds to tables defined above (list filters, summaries, a component's cases).
Index("ix_component_street_id", Component.__table__.c.street_id)
Index("ix_component_owner_unit_id", Component.__table__.c.owner_unit_id)
Index("ix_event_component_id", Event.__table__.c.component_id)


# -- Grid edits, retired codes, renumbering, coverage (migration 0006) -----------------------
GRID_EDIT_KINDS = ("reshape", "split", "merge", "create", "retire", "renumber")


class GridEdit(Base):
    """One planner edit of the grids of a community: what ended, what started, what moved."""

    __tablename__ = "grid_edit"
    __table_args__ = (CheckConstraint(_in("kind", GRID_EDIT_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    actor: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    community_code: Mapped[str] = mapped_column(ForeignKey("admin_area.code"), index=True)
    retired_codes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    started_codes: Mapped[list[str]] = mapped_column(ARRAY(Text), server_default="{}")
    summary: Mapped[dict] = mapped_column(JSONB, server_default="{}")


class GridCodeRetired(Base):
    """A grid code that no longer names a grid; never given to a new grid."""

    __tablename__ = "grid_code_retired"
    __table_args__ = (CheckConstraint("left(code, 12) = community_code", name="code_in_community"),)

    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    community_code: Mapped[str] = mapped_column(ForeignKey("admin_area.code"), index=True)
    retired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    edit_id: Mapped[int | None] = mapped_column(ForeignKey("grid_edit.id"))


class GridRenumbering(Base):
    """Old code → new code of one renumbering edit."""

    __tablename__ = "grid_renumbering"
    __table_args__ = (
        UniqueConstraint("edit_id", "new_code", name="uq_grid_renumbering_edit_new_code"),
    )

    edit_id: Mapped[int] = mapped_column(ForeignKey("grid_edit.id"), primary_key=True)
    old_code: Mapped[str] = mapped_column(String(15), primary_key=True, index=True)
    new_code: Mapped[str] = mapped_column(String(15), index=True)


class GridCoverage(Base):
    """Whether a community's grids cover it (kept by the topology trigger)."""

    __tablename__ = "grid_coverage"

    community_code: Mapped[str] = mapped_column(
        ForeignKey("admin_area.code", ondelete="CASCADE"), primary_key=True
    )
    complete_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    uncovered_m2: Mapped[float] = mapped_column(Float)
    checked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
