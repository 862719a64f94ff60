"""Repository: events (cases) and their log."""

from __future__ import annotations

from sqlalchemy import Connection, text

from app.db.intake import IntakeConnection, Statement


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
# on the intake path, and atomic without a transaction around it).
INSERT_REPORTED = Statement(
    """
WITH ins AS (
    INSERT INTO event (scheme, class_kind, class_code, geom, location_text, description, source,
                       reporter, reporter_contact, photo_urls, idempotency_key, public_token,
                       observed_at, reported_at, grid_id, grid_code, community_code,
                       subdistrict_code, district_code, street_id, street_distance_m,
                       component_id, component_distance_m, unit_id, assignment, deadline_at,
                       status)
    VALUES (:scheme, :class_kind, :class_code,
            ST_SetSRID(ST_MakePoint(CAST(:lon AS float8), CAST(:lat AS float8)), 4326),
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
"""
    + EVENT_SELECT.replace("FROM event e", "FROM ins e")
)
EVENT_BY_IDEMPOTENCY_KEY = Statement(EVENT_SELECT + " WHERE e.idempotency_key = :key")


async def insert_reported_event(conn: IntakeConnection, values: dict, log_note: str) -> dict | None:
    """Insert one case with its "report" log line and return it as :func:`get_event` would;
    None when its idempotency key already exists (nothing inserted)."""
    rows = await conn.rows(INSERT_REPORTED, {**values, "log_note": log_note})
    return rows[0] if rows else None


async def get_event_by_idempotency_key(conn: IntakeConnection, key: str) -> dict | None:
    rows = await conn.rows(EVENT_BY_IDEMPOTENCY_KEY, {"key": key})
    return rows[0] if rows else None


EVENT_BY_ID = text(EVENT_SELECT + " WHERE e.id = :id")


def get_event(conn: Connection, event_id: int) -> dict | None:
    row = conn.execute(EVENT_BY_ID, {"id": event_id}).mappings().first()
    return dict(row) if row else None


def get_event_by_public_token(conn: Connection, token: str) -> dict | None:
    row = (
        conn.execute(text(EVENT_SELECT + " WHERE e.public_token = :v"), {"v": token})
        .mappings()
        .first()
    )
    return dict(row) if row else None
