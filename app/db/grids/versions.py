"""Repository: grids (all versions), located by code, point or area."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from app.states import is_open

# A grid row with its area hierarchy, its own unit and the sub-district office that backs it
# up (属地兜底). left(code, 9)/left(code, 6) are the sub-district/district by the code rules.
SELECT = """
SELECT g.id, g.code, g.name, g.community_code, c.name AS community_name,
       left(g.code, 9) AS subdistrict_code, s.name AS subdistrict_name,
       left(g.code, 6) AS district_code, d.name AS district_name,
       round(g.area_m2::numeric, 1)::float AS area_m2, g.supervisor,
       u.code AS unit_code, u.name AS unit_name,
       o.code AS fallback_unit_code, o.name AS fallback_unit_name,
       g.version, g.valid_from, g.valid_to,
       ST_AsGeoJSON(g.geom, 7)::json AS geometry
FROM grid g
JOIN admin_area c ON c.code = g.community_code
LEFT JOIN admin_area s ON s.code = left(g.code, 9)
LEFT JOIN admin_area d ON d.code = left(g.code, 6)
LEFT JOIN responsible_unit u ON u.id = g.unit_id
LEFT JOIN responsible_unit o ON o.kind = 'subdistrict_office' AND o.area_code = left(g.code, 9)
"""

VALID_AT = """(CASE WHEN CAST(:at AS timestamptz) IS NULL THEN g.valid_to IS NULL
               ELSE g.valid_from <= CAST(:at AS timestamptz)
                    AND (g.valid_to IS NULL OR g.valid_to > CAST(:at AS timestamptz)) END)"""


def list_grids(
    session: Session,
    *,
    bbox: tuple[float, float, float, float] | None,
    area_code: str | None,
    at: datetime | None,
    limit: int,
    offset: int,
) -> tuple[list[dict], int]:
    """Grid versions valid at ``at`` (default: now), filtered, in code order; plus the total."""
    where = [VALID_AT]
    params: dict = {"at": at, "limit": limit, "offset": offset}
    if bbox:
        where.append("g.geom && ST_MakeEnvelope(:x1, :y1, :x2, :y2, 4326)")
        params.update(x1=bbox[0], y1=bbox[1], x2=bbox[2], y2=bbox[3])
    if area_code:
        # a code range (':' sorts right after '9') is a prefix match the btree index can use
        where.append("g.code >= :prefix AND g.code < :prefix || ':'")
        params["prefix"] = area_code
    sql = SELECT + " WHERE " + " AND ".join(where) + " ORDER BY g.code LIMIT :limit OFFSET :offset"
    rows = [dict(r) for r in session.execute(text(sql), params).mappings()]
    count_sql = "SELECT count(*) FROM grid g WHERE " + " AND ".join(where)
    return rows, int(session.execute(text(count_sql), params).scalar_one())


def get_grid(session: Session, code: str, at: datetime | None = None) -> dict | None:
    """The version of grid ``code`` valid at ``at`` (default: the current one)."""
    sql = SELECT + " WHERE g.code = :code AND " + VALID_AT
    row = session.execute(text(sql), {"code": code, "at": at}).mappings().first()
    return dict(row) if row else None


def locate_grid(
    session: Session, lon: float, lat: float, at: datetime | None = None
) -> dict | None:
    """The grid covering a WGS84 point.

    A point on a boundary shared by several grids goes to the one with the smallest code:
    ST_Covers counts the boundary as inside, and code order makes the choice deterministic.
    """
    sql = (
        SELECT
        + " WHERE ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) AND "
        + VALID_AT
        + " ORDER BY g.code LIMIT 1"
    )
    row = session.execute(text(sql), {"lon": lon, "lat": lat, "at": at}).mappings().first()
    return dict(row) if row else None


def coverage_extent(session: Session) -> tuple[float, float, float, float] | None:
    """The WGS84 bounding box of the current grids, or None when there are none."""
    row = session.execute(
        text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
            "FROM (SELECT ST_Extent(geom) AS e FROM grid WHERE valid_to IS NULL) x"
        )
    ).first()
    return None if row is None or row[0] is None else tuple(row)  # type: ignore[return-value]


def grid_workload(
    conn: Connection, area: str | None, since: datetime
) -> dict[str, tuple[int, int]]:
    """Per current grid (of ``area`` when given): components in service or awaiting repair,
    and cases reported since ``since``: {code: (components, cases)}."""
    prefix = f"{area or ''}%"
    sql = """
    SELECT g.code, coalesce(c.n, 0) AS components, coalesce(e.n, 0) AS cases
    FROM grid g
    LEFT JOIN (SELECT grid_code, count(*) AS n FROM component
               WHERE status <> 'retired' AND grid_code LIKE :prefix GROUP BY 1) c
           ON c.grid_code = g.code
    LEFT JOIN (SELECT grid_code, count(*) AS n FROM event
               WHERE reported_at >= :since AND grid_code LIKE :prefix GROUP BY 1) e
           ON e.grid_code = g.code
    WHERE g.valid_to IS NULL AND g.code LIKE :prefix"""
    rows = conn.execute(text(sql), {"prefix": prefix, "since": since})
    return {r.code: (r.components, r.cases) for r in rows}


def busiest_supervisor(conn: Connection) -> str | None:
    """The supervisor whose current grids hold the most unfinished cases."""
    return conn.execute(
        text(
            "SELECT g.supervisor FROM event e JOIN grid g ON g.code = e.grid_code "
            f"WHERE g.valid_to IS NULL AND {is_open('e.status')} "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1"
        )
    ).scalar()
