"""Repository: events (cases) and their log."""

from __future__ import annotations

from sqlalchemy import Connection, text

from app.db.pool import IntakeConnection, Statement


def count_grids(conn: Connection) -> int:
    return int(conn.execute(text("SELECT count(*) FROM grid WHERE valid_to IS NULL")).scalar_one())


EVENT_SELECT = """
SELECT e.id, e.status, e.scheme, e.class_kind, e.class_code, k.name AS class_name,
       k.name_en AS class_name_en, k.major_name AS class_major_name,
       ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat, e.location_text, e.description, e.source,
       e.reporter, e.reported_by, e.photo_urls, e.idempotency_key, e.public_token, e.observed_at, e.reported_at,
       e.grid_code, e.community_code, e.subdistrict_code, e.district_code,
       e.street_id, e.component_id, c.identifier AS component_identifier,
       u.code AS unit_code, u.name AS unit_name, e.deadline_at, e.closed_at, e.updated_at,
       e.assignment, e.reporter_contact, e.service_notice
FROM event e
CROSS JOIN LATERAL (
    SELECT k.name, k.name_en, k.major_name FROM classification k
    WHERE k.scheme = e.scheme AND k.kind = e.class_kind AND k.code = e.class_code LIMIT 1
) k
LEFT JOIN LATERAL (SELECT c.identifier FROM component c WHERE c.id = e.component_id LIMIT 1) c
       ON true
LEFT JOIN LATERAL (SELECT u.code, u.name FROM responsible_unit u WHERE u.id = e.unit_id LIMIT 1) u
       ON true
"""
# (The LIMITs keep each look-up a probe by key: the intake's generic plan guesses 100 rows
# for its batches, and with plain joins hashed whole tables for one or two cases, +0.3 ms.)

# Cases from the intake's batches (``app.services.intake.reports``), each with its first log line,
# read back, in one statement: atomic without a transaction around it. The rows come as one
# array per column. INSERT … SELECT … ORDER BY draws the ids in the rows' order (SQLAlchemy's
# insertmanyvalues relies on the same for PostgreSQL), so the cases read back in id order are
# the rows in order, less those whose idempotency key was taken (ON CONFLICT DO NOTHING).
# A key is taken per account (``reported_by``; migration 0016): the conflict target names the
# partial unique index, so another account's case with the same key never answers for this one.
INSERT_REPORTED = Statement(
    """
WITH ins AS (
    INSERT INTO event (scheme, class_kind, class_code, geom, location_text, description, source,
                       reporter, reported_by, reporter_contact, photo_urls, idempotency_key, public_token,
                       observed_at, reported_at, grid_id, grid_code, community_code,
                       subdistrict_code, district_code, street_id, street_distance_m,
                       component_id, component_distance_m, unit_id, assignment, deadline_at,
                       status)
    SELECT scheme, class_kind, class_code, ST_SetSRID(ST_MakePoint(lon, lat), 4326),
           location_text, description, source, reporter, reported_by, reporter_contact,
           CASE WHEN photo_urls IS NOT NULL
                THEN ARRAY(SELECT jsonb_array_elements_text(photo_urls)) END,
           idempotency_key, public_token, observed_at, reported_at, grid_id, grid_code,
           community_code, subdistrict_code, district_code, street_id, street_distance_m,
           component_id, component_distance_m, unit_id, assignment, deadline_at, 'reported'
    FROM unnest(
        CAST(:scheme AS text[]), CAST(:class_kind AS text[]), CAST(:class_code AS text[]),
        CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:location_text AS text[]),
        CAST(:description AS text[]), CAST(:source AS text[]), CAST(:reporter AS text[]),
        CAST(:reported_by AS text[]), CAST(:reporter_contact AS jsonb[]), CAST(:photo_urls AS jsonb[]),
        CAST(:idempotency_key AS text[]), CAST(:public_token AS text[]),
        CAST(:observed_at AS timestamptz[]), CAST(:reported_at AS timestamptz[]),
        CAST(:grid_id AS int8[]), CAST(:grid_code AS text[]), CAST(:community_code AS text[]),
        CAST(:subdistrict_code AS text[]), CAST(:district_code AS text[]),
        CAST(:street_id AS int4[]), CAST(:street_distance_m AS float8[]),
        CAST(:component_id AS int8[]), CAST(:component_distance_m AS float8[]),
        CAST(:unit_id AS int4[]), CAST(:assignment AS jsonb[]), CAST(:deadline_at AS timestamptz[])
    ) WITH ORDINALITY AS t(
        scheme, class_kind, class_code, lon, lat, location_text, description, source, reporter,
        reported_by, reporter_contact, photo_urls, idempotency_key, public_token, observed_at, reported_at,
        grid_id, grid_code, community_code, subdistrict_code, district_code, street_id,
        street_distance_m, component_id, component_distance_m, unit_id, assignment, deadline_at, i
    )
    ORDER BY i
    ON CONFLICT (idempotency_key, reported_by) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING *
), log AS (
    -- The actor is the signed-in account (an anonymous Open311 request: 'public'), never the
    -- free text the reporter typed.
    INSERT INTO case_log (event_id, actor, action, from_status, to_status, note)
    SELECT id, COALESCE(reported_by, 'public'), 'report', NULL, 'reported', 'source=' || source
    FROM ins
)
"""
    + EVENT_SELECT.replace("FROM event e", "FROM ins e")
    + " ORDER BY e.id"
)
EVENT_BY_IDEMPOTENCY_KEY = Statement(
    EVENT_SELECT
    + " WHERE e.idempotency_key = :key AND e.reported_by IS NOT DISTINCT FROM :reported_by"
)


async def insert_reported_events(conn: IntakeConnection, rows: list[dict]) -> list[dict | None]:
    """Store cases, each with its "report" log line; each is returned as :func:`get_event`
    returns it, in order, or None where its idempotency key was taken (nothing stored)."""
    stored = await conn.rows(
        INSERT_REPORTED, {name: [row[name] for row in rows] for name in INSERT_REPORTED.names}
    )
    out: list[dict | None] = []
    n = 0
    for row in rows:
        if n < len(stored) and _same_key(stored[n], row):
            out.append(stored[n])
            n += 1
        else:  # a key already taken: by an earlier case, or by a row before it here
            out.append(None)
    assert n == len(stored), "cases read back out of order"
    return out


def _same_key(stored: dict, row: dict) -> bool:
    return (stored["idempotency_key"], stored["reported_by"]) == (
        row["idempotency_key"],
        row["reported_by"],
    )


async def get_event_by_idempotency_key(
    conn: IntakeConnection, key: str, reported_by: str | None
) -> dict | None:
    """The case ``reported_by`` (None: anonymous) stored under ``key``, if any."""
    rows = await conn.rows(EVENT_BY_IDEMPOTENCY_KEY, {"key": key, "reported_by": reported_by})
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
