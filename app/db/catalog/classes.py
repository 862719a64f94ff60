"""Repository: component and event classes."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, text

UPSERT = text(
    """
    INSERT INTO classification (scheme, kind, code, major_code, major_name, name, name_en,
                                geometry_type, is_custom, source)
    VALUES (:scheme, :kind, :code, :major_code, :major_name, :name, :name_en,
            :geometry_type, :is_custom, :source)
    ON CONFLICT (scheme, kind, code) DO UPDATE SET
        major_code = EXCLUDED.major_code, major_name = EXCLUDED.major_name,
        name = EXCLUDED.name, name_en = EXCLUDED.name_en, source = EXCLUDED.source,
        geometry_type = EXCLUDED.geometry_type
    """
)


def upsert_classes(conn: Connection, rows: Iterable[dict]) -> int:
    """Insert or refresh class rows; returns how many were given."""
    rows = list(rows)
    if rows:
        conn.execute(UPSERT, rows)
    return len(rows)


def list_classes(conn: Connection, scheme: str, kind: str | None = None) -> list[dict]:
    """Classes of ``scheme`` (optionally one kind), ordered by kind then code."""
    sql = "SELECT * FROM classification WHERE scheme = :scheme"
    if kind:
        sql += " AND kind = :kind"
    result = conn.execute(text(sql + " ORDER BY kind, code"), {"scheme": scheme, "kind": kind})
    return [dict(r) for r in result.mappings()]


def existing_codes(conn: Connection, scheme: str, kind: str) -> set[str]:
    """The class codes of one kind in ``scheme``."""
    result = conn.execute(
        text("SELECT code FROM classification WHERE scheme = :s AND kind = :k"),
        {"s": scheme, "k": kind},
    )
    return {r[0] for r in result}


# With the time-limit table's default limit of each class (criterion ''), as intake's facts.
CLASSES_BY_KEY = text(
    "SELECT c.*, t.limit_value, t.limit_unit FROM classification c JOIN unnest(CAST(:kinds AS text[]), "
    "CAST(:codes AS text[])) AS k(kind, code) ON c.kind = k.kind AND c.code = k.code "
    "LEFT JOIN time_limit t ON t.scheme = c.scheme AND t.class_kind = c.kind "
    "AND t.class_code = c.code AND t.criterion = '' "
    "WHERE c.scheme = :scheme"
)


def get_classes(
    conn: Connection, scheme: str, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], dict]:
    """Class rows for the given (kind, code) pairs of ``scheme``; missing pairs are absent."""
    if not keys:
        return {}
    kinds, codes = zip(*keys, strict=True)
    result = conn.execute(
        CLASSES_BY_KEY,
        {"scheme": scheme, "kinds": list(kinds), "codes": list(codes)},
    ).mappings()
    return {(r["kind"], r["code"]): dict(r) for r in result}


def component_geometry_types(conn: Connection, scheme: str) -> dict[str, str | None]:
    """Component class codes of ``scheme`` with the geometry type each expects."""
    result = conn.execute(
        text(
            "SELECT code, geometry_type FROM classification WHERE scheme = :s "
            "AND kind = 'component'"
        ),
        {"s": scheme},
    )
    return dict(result.all())
