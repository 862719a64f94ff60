"""Repository: bulk loading of historical events (the demo district's year of cases)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from sqlalchemy import Connection, text

LOAD_COLUMNS = ("class_kind", "class_code", "source", "description", "location_text",
                "reporter", "observed_at", "lon", "lat")

# Grid: the current grid covering the point, smallest code on shared boundaries (the same
# rule as /grids/locate). Street: nearest segment within 50 m on the spheroid; the ST_Expand
# box only lets the GiST index prefilter (its margin is generous), the distance is metres.
# Unit: the grid's own unit, else the sub-district office (属地兜底).
INSERT_ASSIGNED = """
INSERT INTO event (scheme, class_kind, class_code, geom, location_text, description, source,
                   reporter, observed_at, reported_at, grid_id, grid_code, community_code,
                   subdistrict_code, district_code, street_id, street_distance_m, unit_id,
                   status, assignment)
SELECT :scheme, l.class_kind, l.class_code, l.pt, l.location_text, l.description, l.source,
       l.reporter, l.observed_at, l.observed_at, g.id, g.code, g.community_code,
       left(g.code, 9), left(g.code, 6), st.street_id, round(st.distance_m::numeric, 1),
       COALESCE(g.unit_id, o.id), 'reported',
       jsonb_build_object('method', 'bulk-load', 'unit_rule',
                          CASE WHEN g.unit_id IS NOT NULL THEN 'grid' ELSE 'fallback' END)
FROM (SELECT *, ST_SetSRID(ST_MakePoint(lon, lat), 4326) AS pt FROM event_load) l
JOIN LATERAL (
    SELECT id, code, community_code, unit_id FROM grid
    WHERE valid_to IS NULL AND ST_Covers(grid.geom, l.pt) ORDER BY code LIMIT 1
) g ON true
LEFT JOIN LATERAL (
    SELECT s.street_id, ST_Distance(s.geom::geography, l.pt::geography) AS distance_m
    FROM street_segment s
    WHERE s.geom && ST_Expand(l.pt, 0.0006 / cos(radians(l.lat)), 0.0006)
      AND ST_DWithin(s.geom::geography, l.pt::geography, 50)
    ORDER BY 2 LIMIT 1
) st ON true
LEFT JOIN responsible_unit o ON o.kind = 'subdistrict_office' AND o.area_code = left(g.code, 9)
"""


def bulk_load_events(conn: Connection, scheme: str, rows: Iterable[dict]) -> tuple[int, int]:
    """COPY rows into a staging table, insert those inside a grid; (given, inserted)."""
    conn.execute(text(
        "CREATE TEMP TABLE event_load (class_kind text, class_code text, source text, "
        "description text, location_text text, reporter text, observed_at timestamptz, "
        "lon float8, lat float8) ON COMMIT DROP"
    ))
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    given = 0
    for row in rows:
        writer.writerow([row.get(c) for c in LOAD_COLUMNS])
        given += 1
    buffer.seek(0)
    cursor = conn.connection.driver_connection.cursor()
    cursor.copy_expert(f"COPY event_load ({', '.join(LOAD_COLUMNS)}) FROM STDIN (FORMAT csv)", buffer)
    inserted = conn.execute(text(INSERT_ASSIGNED), {"scheme": scheme}).rowcount
    return given, inserted


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

INSERT_EVENT = """
INSERT INTO event (scheme, class_kind, class_code, geom, location_text, description, source,
                   reporter, reporter_contact, photo_urls, idempotency_key, public_token,
                   observed_at, reported_at, grid_id, grid_code, community_code,
                   subdistrict_code, district_code, street_id, street_distance_m, component_id,
                   component_distance_m, unit_id, assignment, deadline_at, status)
VALUES (:scheme, :class_kind, :class_code, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
        :location_text, :description, :source, :reporter, CAST(:reporter_contact AS jsonb),
        CAST(:photo_urls AS text[]), :idempotency_key, :public_token, :observed_at, :reported_at,
        :grid_id, :grid_code, :community_code, :subdistrict_code, :district_code, :street_id,
        :street_distance_m, :component_id, :component_distance_m, :unit_id,
        CAST(:assignment AS jsonb), :deadline_at, 'reported')
ON CONFLICT (idempotency_key) DO NOTHING
RETURNING id
"""


def insert_event(conn: Connection, values: dict) -> int | None:
    """Insert one case; None when its idempotency key already exists (nothing inserted)."""
    return conn.execute(text(INSERT_EVENT), values).scalar()


def insert_case_log(conn: Connection, event_id: int, action: str, actor: str | None,
                    from_status: str | None, to_status: str | None, note: str | None = None) -> None:
    conn.execute(
        text("INSERT INTO case_log (event_id, actor, action, from_status, to_status, note) "
             "VALUES (:e, :actor, :action, :f, :t, :note)"),
        {"e": event_id, "actor": actor, "action": action, "f": from_status, "t": to_status, "note": note},
    )


def get_event(conn: Connection, event_id: int) -> dict | None:
    row = conn.execute(text(EVENT_SELECT + " WHERE e.id = :id"), {"id": event_id}).mappings().first()
    return dict(row) if row else None


def get_event_by_key(conn: Connection, column: str, value: str) -> dict | None:
    """The case with this idempotency key or public token."""
    assert column in ("idempotency_key", "public_token")
    row = conn.execute(text(EVENT_SELECT + f" WHERE e.{column} = :v"), {"v": value}).mappings().first()
    return dict(row) if row else None


def idempotency_fingerprint(conn: Connection, key: str) -> str | None:
    return conn.execute(
        text("SELECT assignment->>'request_fingerprint' FROM event WHERE idempotency_key = :k"),
        {"k": key},
    ).scalar()
