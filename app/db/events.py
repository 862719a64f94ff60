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
