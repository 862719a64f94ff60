"""Repository: dispatch rules (class × area → unit) and their coverage."""

from __future__ import annotations

from sqlalchemy import Connection, text

SELECT = """
SELECT r.id, r.scheme, r.class_kind, r.class_code, k.name AS class_name, r.area_code,
       r.area_level, u.code AS unit_code, u.name AS unit_name, r.note, r.created_at
FROM dispatch_rule r
JOIN classification k ON k.scheme = r.scheme AND k.kind = r.class_kind AND k.code = r.class_code
JOIN responsible_unit u ON u.id = r.unit_id
"""


def list_rules(
    conn: Connection,
    scheme: str,
    class_code: str | None,
    area_code: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict], int]:
    where = ["r.scheme = :scheme"]
    if class_code:
        where.append("r.class_code = :cls")
    if area_code:
        where.append("r.area_code = :area")
    cond = " WHERE " + " AND ".join(where)
    params = {
        "scheme": scheme,
        "cls": class_code,
        "area": area_code,
        "limit": limit,
        "offset": offset,
    }
    rows = conn.execute(text(SELECT + cond + " ORDER BY r.id LIMIT :limit OFFSET :offset"), params)
    total = conn.execute(text("SELECT count(*) FROM dispatch_rule r" + cond), params).scalar_one()
    return [dict(r) for r in rows.mappings()], int(total)


def get_rule(conn: Connection, rule_id: int) -> dict | None:
    row = conn.execute(text(SELECT + " WHERE r.id = :id"), {"id": rule_id}).mappings().first()
    return dict(row) if row else None


def insert_rule(conn: Connection, values: dict) -> int | None:
    """Insert; None when a rule for the same class and area exists."""
    return conn.execute(
        text(
            "INSERT INTO dispatch_rule (scheme, class_kind, class_code, area_code, unit_id, note) "
            "VALUES (:scheme, :class_kind, :class_code, :area_code, :unit_id, :note) "
            "ON CONFLICT (scheme, class_kind, class_code, area_code) DO NOTHING RETURNING id"
        ),
        values,
    ).scalar()


def update_rule(
    conn: Connection, rule_id: int, unit_id: int | None, note: str | None, set_note: bool
) -> bool:
    result = conn.execute(
        text(
            "UPDATE dispatch_rule SET unit_id = COALESCE(:unit_id, unit_id), "
            "note = CASE WHEN :set_note THEN :note ELSE note END WHERE id = :id"
        ),
        {"id": rule_id, "unit_id": unit_id, "note": note, "set_note": set_note},
    )
    return result.rowcount == 1


def delete_rule(conn: Connection, rule_id: int) -> bool:
    return (
        conn.execute(text("DELETE FROM dispatch_rule WHERE id = :id"), {"id": rule_id}).rowcount
        == 1
    )


def unit_id(conn: Connection, code: str) -> int | None:
    return conn.execute(
        text("SELECT id FROM responsible_unit WHERE code = :c"), {"c": code}
    ).scalar()


def area_exists(conn: Connection, code: str) -> bool:
    """A current grid (15 digits) or an administrative area (6/9/12 digits) with this code."""
    sql = (
        "SELECT EXISTS (SELECT 1 FROM grid WHERE code = :c AND valid_to IS NULL)"
        if len(code) == 15
        else "SELECT EXISTS (SELECT 1 FROM admin_area WHERE code = :c)"
    )
    return bool(conn.execute(text(sql), {"c": code}).scalar())


# Grids with their own unit never fall through; for the others, a class falls through when
# no rule names it for the grid or any area above it.
COVERAGE = """
WITH g AS (
    SELECT code FROM grid
    WHERE valid_to IS NULL AND unit_id IS NULL AND code >= :prefix AND code < :prefix || ':'
), c AS (
    SELECT kind, code, name, name_en FROM classification
    WHERE scheme = :scheme AND (CAST(:kind AS text) IS NULL OR kind = :kind)
)
SELECT left(g.code, :len) AS area_code, a.name AS area_name, c.kind AS class_kind,
       c.code AS class_code, c.name AS class_name, c.name_en AS class_name_en,
       count(*) AS grids
FROM g CROSS JOIN c
LEFT JOIN admin_area a ON a.code = left(g.code, :len)
WHERE NOT EXISTS (
    SELECT 1 FROM dispatch_rule r
    WHERE r.scheme = :scheme AND r.class_kind = c.kind AND r.class_code = c.code
      AND r.area_code IN (g.code, left(g.code, 12), left(g.code, 9), left(g.code, 6))
)
GROUP BY 1, 2, 3, 4, 5, 6
ORDER BY 1, 3, 4
"""


def coverage_gaps(
    conn: Connection, scheme: str, kind: str | None, level_len: int, prefix: str
) -> list[dict]:
    """(area, class, grids) triples where cases would fall through to the fallback unit."""
    rows = conn.execute(
        text(COVERAGE), {"scheme": scheme, "kind": kind, "len": level_len, "prefix": prefix}
    )
    return [dict(r) for r in rows.mappings()]
