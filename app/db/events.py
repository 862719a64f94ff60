"""Repository: events (cases) and their log."""

from __future__ import annotations

from sqlalchemy import Connection, text

from app.db.prepared import PreparedStatement


def count_grids(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM grid WHERE valid_to IS NULL")).scalar_one())


EVENT_SELECT = """
SELECT e.id, e.status, e.scheme, e.class_kind, e.class_code, k.name AS class_name,
       k.name_en AS class_name_en, k.major_name AS class_major_name,
       ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat, e.location_text, e.description, e.source,
       e.reporter, e.photo_urls, e.idempotency_key, e.public_token, e.observed_at, e.reported_at,
       e.grid_code, e.community_code, e.subdistrict_code, e.district_code,
       e.street_id, e.component_id, c.identifier AS component_identifier,
       u.code AS unit_code, u.name AS unit_name, e.deadline_at, e.closed_at, e.updated_at,
       e.assignment, e.reporter_contact, e.service_notice
FROM event e
JOIN classification k ON k.scheme = e.scheme AND k.kind = e.class_kind AND k.code = e.class_code
LEFT JOIN component c ON c.id = e.component_id
LEFT JOIN responsible_unit u ON u.id = e.unit_id
"""

# The case, its first log line and the case as read back, in one statement (one round trip
# on the intake path).
INSERT_REPORTED = PreparedStatement("citygrid_insert_reported_v1", """
WITH ins AS (
    INSERT INTO event (scheme, class_kind, class_code, geom, location_text, description, source,
                       reporter, reporter_contact, photo_urls, idempotency_key, public_token,
                       observed_at, reported_at, grid_id, grid_code, community_code,
                       subdistrict_code, district_code, street_id, street_distance_m,
                       component_id, component_distance_m, unit_id, assignment, deadline_at,
                       status)
    VALUES (:scheme, :class_kind, :class_code, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
            :location_text, :description, :source, :reporter, CAST(:reporter_contact AS jsonb),
            CAST(:photo_urls AS text[]), :idempotency_key, :public_token, :observed_at,
            :reported_at, :grid_id, :grid_code, :community_code, :subdistrict_code,
            :district_code, :street_id, :street_distance_m, :component_id,
            :component_distance_m, :unit_id, CAST(:assignment AS jsonb), :deadline_at,
            'reported')
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING *
), log AS (
    INSERT INTO case_log (event_id, actor, action, from_status, to_status, note)
    SELECT id, :reporter, 'report', NULL, 'reported', :log_note FROM ins
)
""" + EVENT_SELECT.replace("FROM event e", "FROM ins e"), (
    ("scheme", "text"), ("class_kind", "text"), ("class_code", "text"), ("lon", "float8"),
    ("lat", "float8"), ("location_text", "text"), ("description", "text"), ("source", "text"),
    ("reporter", "text"), ("reporter_contact", "jsonb"), ("photo_urls", "text[]"),
    ("idempotency_key", "text"), ("public_token", "text"), ("observed_at", "timestamptz"),
    ("reported_at", "timestamptz"), ("grid_id", "int8"), ("grid_code", "text"),
    ("community_code", "text"), ("subdistrict_code", "text"), ("district_code", "text"),
    ("street_id", "int8"), ("street_distance_m", "float8"), ("component_id", "int8"),
    ("component_distance_m", "float8"), ("unit_id", "int8"), ("assignment", "jsonb"),
    ("deadline_at", "timestamptz"), ("log_note", "text"),
))


def insert_reported_event(conn: Connection, values: dict, log_note: str) -> dict | None:
    """Insert one case with its "report" log line and return it as :func:`get_event` would;
    None when its idempotency key already exists (nothing inserted)."""
    rows = INSERT_REPORTED.rows(conn, {**values, "log_note": log_note})
    return rows[0] if rows else None


EVENT_BY_ID = text(EVENT_SELECT + " WHERE e.id = :id")


def get_event(conn: Connection, event_id: int) -> dict | None:
    row = conn.execute(EVENT_BY_ID, {"id": event_id}).mappings().first()
    return dict(row) if row else None


def get_event_by_key(conn: Connection, column: str, value: str) -> dict | None:
    """The case with this idempotency key or public token."""
    assert column in ("idempotency_key", "public_token")
    row = (
        conn.execute(text(EVENT_SELECT + f" WHERE e.{column} = :v"), {"v": value})
        .mappings()
        .first()
    )
    return dict(row) if row else None


def idempotency_fingerprint(conn: Connection, key: str) -> str | None:
    return conn.execute(
        text("SELECT assignment->>'request_fingerprint' FROM event WHERE idempotency_key = :k"),
        {"k": key},
    ).scalar()
