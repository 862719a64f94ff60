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
        name = EXCLUDED.name, name_en = EXCLUDED.name_en, source = EXCLUDED.source
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
