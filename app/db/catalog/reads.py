"""Repository: read access to areas, streets, units and components."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

BBoxT = tuple[float, float, float, float] | None


def _bbox_clause(column: str, bbox: BBoxT, params: dict) -> str | None:
    if not bbox:
        return None
    params.update(x1=bbox[0], y1=bbox[1], x2=bbox[2], y2=bbox[3])
    return f"{column} && ST_MakeEnvelope(:x1, :y1, :x2, :y2, 4326)"


def _page(session: Session, select: str, frm: str, where: list[str], order: str, params: dict):
    cond = (" WHERE " + " AND ".join(where)) if where else ""
    rows = session.execute(
        text(f"{select} {frm}{cond} ORDER BY {order} LIMIT :limit OFFSET :offset"), params
    ).mappings()
    out = [dict(r) for r in rows]
    matched = session.execute(text(f"SELECT count(*) {frm}{cond}"), params).scalar_one()
    return out, int(matched)


# -- areas ---------------------------------------------------------------------------------

AREA_SELECT = """
SELECT a.code, a.level, a.parent_code, a.name, a.name_en,
       round(a.area_m2::numeric, 1)::float AS area_m2,
       -- a code range (':' sorts right after '9') is a prefix match the btree index can use
       (SELECT count(*) FROM grid g WHERE g.valid_to IS NULL
          AND g.code >= a.code AND g.code < a.code || ':') AS grid_count,
       ST_AsGeoJSON(a.geom, 7)::json AS geometry
"""


def list_areas(
    session: Session, *, level: str | None, parent: str | None, bbox: BBoxT, limit: int, offset: int
) -> tuple[list[dict], int]:
    """Administrative areas, filtered by level, parent and bbox, in code order."""
    params: dict = {"limit": limit, "offset": offset, "level": level, "parent": parent}
    where = [
        c
        for c in (
            "a.level = :level" if level else None,
            "a.parent_code = :parent" if parent else None,
            _bbox_clause("a.geom", bbox, params),
        )
        if c
    ]
    return _page(session, AREA_SELECT, "FROM admin_area a", where, "a.code", params)


def get_area(session: Session, code: str) -> dict | None:
    row = (
        session.execute(
            text(AREA_SELECT + " FROM admin_area a WHERE a.code = :code"), {"code": code}
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


# -- streets -------------------------------------------------------------------------------

STREET_SELECT = """
SELECT s.id, s.name, s.name_en, s.grade, s.district_code,
       (SELECT count(*) FROM street_segment x WHERE x.street_id = s.id) AS segment_count,
       (SELECT round(sum(x.length_m)::numeric, 1)::float FROM street_segment x
         WHERE x.street_id = s.id) AS length_m,
       (SELECT ST_AsGeoJSON(ST_Collect(x.geom ORDER BY x.id), 7)::json FROM street_segment x
         WHERE x.street_id = s.id) AS geometry
"""


def list_streets(
    session: Session, *, name: str | None, grade: str | None, bbox: BBoxT, limit: int, offset: int
) -> tuple[list[dict], int]:
    """Named streets (centerline = all segments), filtered, in name order."""
    params: dict = {"limit": limit, "offset": offset, "name": f"%{name}%", "grade": grade}
    where = [
        c
        for c in (
            "s.name ILIKE :name" if name else None,
            "s.grade = :grade" if grade else None,
        )
        if c
    ]
    box = _bbox_clause("x.geom", bbox, params)
    if box:
        where.append(f"EXISTS (SELECT 1 FROM street_segment x WHERE x.street_id = s.id AND {box})")
    return _page(session, STREET_SELECT, "FROM street s", where, "s.name, s.id", params)


def get_street(session: Session, street_id: int) -> dict | None:
    row = (
        session.execute(text(STREET_SELECT + " FROM street s WHERE s.id = :id"), {"id": street_id})
        .mappings()
        .first()
    )
    return dict(row) if row else None


# -- units ---------------------------------------------------------------------------------

UNIT_SELECT = """
SELECT u.id, u.code, u.name, u.name_en, u.kind, u.contact, u.phone, u.area_code,
       (SELECT count(*) FROM grid g WHERE g.unit_id = u.id AND g.valid_to IS NULL) AS grid_count
"""


def list_units(session: Session, *, kind: str | None, limit: int, offset: int):
    params: dict = {"limit": limit, "offset": offset, "kind": kind}
    where = ["u.kind = :kind"] if kind else []
    return _page(session, UNIT_SELECT, "FROM responsible_unit u", where, "u.code", params)


def get_unit(session: Session, code: str) -> dict | None:
    row = (
        session.execute(
            text(UNIT_SELECT + " FROM responsible_unit u WHERE u.code = :code"), {"code": code}
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


# -- components ----------------------------------------------------------------------------

COMPONENT_SELECT = """
SELECT c.id, c.identifier, c.scheme, c.class_code, k.name AS class_name, k.name_en AS class_name_en,
       c.grid_code, c.street_id, s.name AS street_name, c.status,
       ou.code AS owner_unit_code, mu.code AS maintainer_unit_code, c.attributes,
       ST_AsGeoJSON(c.geom, 7)::json AS geometry
"""
COMPONENT_FROM = """
FROM component c
JOIN classification k ON k.scheme = c.scheme AND k.kind = c.kind AND k.code = c.class_code
LEFT JOIN street s ON s.id = c.street_id
LEFT JOIN responsible_unit ou ON ou.id = c.owner_unit_id
LEFT JOIN responsible_unit mu ON mu.id = c.maintainer_unit_id
"""


def list_components(
    session: Session,
    *,
    bbox: BBoxT,
    grid: str | None,
    class_code: str | None,
    status: str | None,
    limit: int,
    offset: int,
):
    """Components filtered by bbox, grid, class and status, in identifier order."""
    params: dict = {
        "limit": limit,
        "offset": offset,
        "grid": grid,
        "cls": class_code,
        "status": status,
    }
    where = [
        c
        for c in (
            _bbox_clause("c.geom", bbox, params),
            "c.grid_code = :grid" if grid else None,
            "c.class_code = :cls" if class_code else None,
            "c.status = :status" if status else None,
        )
        if c
    ]
    return _page(session, COMPONENT_SELECT, COMPONENT_FROM, where, "c.identifier", params)


def get_component(session: Session, identifier: str) -> dict | None:
    row = (
        session.execute(
            text(COMPONENT_SELECT + COMPONENT_FROM + " WHERE c.identifier = :ident"),
            {"ident": identifier},
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None
