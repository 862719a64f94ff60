"""Repository: working calendars (per year) and time limits per class and filing criterion."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import Connection, text


def calendar_years(conn: Connection) -> list[dict]:
    """Every stored year with its work periods, source and number of listed days."""
    rows = conn.execute(
        text(
            "SELECT c.year, c.work_periods, c.source, c.updated_at, count(d.day) AS days "
            "FROM work_calendar c LEFT JOIN work_calendar_day d ON d.year = c.year "
            "GROUP BY c.year ORDER BY c.year"
        )
    ).mappings()
    return [dict(r) for r in rows]


def calendar_days(conn: Connection, year: int | None = None) -> list[dict]:
    """Listed days (holidays and make-up workdays), of one year or all, in date order."""
    sql = "SELECT day, year, is_workday, name FROM work_calendar_day"
    if year is not None:
        sql += " WHERE year = :year"
    return [dict(r) for r in conn.execute(text(sql + " ORDER BY day"), {"year": year}).mappings()]


def replace_year(
    conn: Connection,
    year: int,
    work_periods: str | None,
    source: str | None,
    days: Iterable[tuple[date, bool, str | None]],
) -> int:
    """Store ``year`` anew (its listed days are replaced); returns the number of days."""
    conn.execute(
        text(
            "INSERT INTO work_calendar (year, work_periods, source, updated_at) "
            "VALUES (:y, :p, :s, now()) ON CONFLICT (year) DO UPDATE SET "
            "work_periods = EXCLUDED.work_periods, source = EXCLUDED.source, updated_at = now()"
        ),
        {"y": year, "p": work_periods, "s": source},
    )
    conn.execute(text("DELETE FROM work_calendar_day WHERE year = :y"), {"y": year})
    rows = [{"d": d, "y": year, "w": w, "n": n} for d, w, n in days]
    if rows:
        conn.execute(
            text(
                "INSERT INTO work_calendar_day (day, year, is_workday, name) "
                "VALUES (:d, :y, :w, :n)"
            ),
            rows,
        )
    return len(rows)


LIMIT_COLUMNS = "scheme, class_kind, class_code, criterion, limit_value, limit_unit, note"


def upsert_time_limits(conn: Connection, rows: list[dict], overwrite: bool) -> int:
    """Insert limits; existing (class, criterion) rows are kept unless ``overwrite``."""
    if not rows:
        return 0
    conflict = (
        "DO UPDATE SET limit_value = EXCLUDED.limit_value, limit_unit = EXCLUDED.limit_unit, "
        "note = EXCLUDED.note"
        if overwrite
        else "DO NOTHING"
    )
    result = conn.execute(
        text(
            f"INSERT INTO time_limit ({LIMIT_COLUMNS}) VALUES (:scheme, :class_kind, :class_code, "
            ":criterion, :limit_value, :limit_unit, :note) "
            f"ON CONFLICT (scheme, class_kind, class_code, criterion) {conflict}"
        ),
        rows,
    )
    return result.rowcount


def class_limits(conn: Connection, scheme: str, kind: str, code: str) -> list[dict]:
    """The limits of one class, the default ('' criterion) first."""
    rows = conn.execute(
        text(
            f"SELECT {LIMIT_COLUMNS} FROM time_limit WHERE scheme = :s AND class_kind = :k "
            "AND class_code = :c ORDER BY criterion"
        ),
        {"s": scheme, "k": kind, "c": code},
    ).mappings()
    return [dict(r) for r in rows]


def all_limits(
    conn: Connection, scheme: str, kind: str | None = None, code: str | None = None
) -> list[dict]:
    """Limits of a scheme with the class names, optionally of one kind or class."""
    sql = (
        f"SELECT t.{LIMIT_COLUMNS.replace(', ', ', t.')}, k.name AS class_name "
        "FROM time_limit t JOIN classification k ON k.scheme = t.scheme "
        "AND k.kind = t.class_kind AND k.code = t.class_code WHERE t.scheme = :s"
    )
    if kind:
        sql += " AND t.class_kind = :k"
    if code:
        sql += " AND t.class_code = :c"
    rows = conn.execute(
        text(sql + " ORDER BY t.class_kind, t.class_code, t.criterion"),
        {"s": scheme, "k": kind, "c": code},
    ).mappings()
    return [dict(r) for r in rows]


def class_default_limit(conn: Connection, scheme: str, kind: str, code: str) -> dict | None:
    """The class's own time_limit_value / unit columns (the classification table's)."""
    row = (
        conn.execute(
            text(
                "SELECT time_limit_value AS limit_value, time_limit_unit AS limit_unit FROM classification "
                "WHERE scheme = :s AND kind = :k AND code = :c"
            ),
            {"s": scheme, "k": kind, "c": code},
        )
        .mappings()
        .first()
    )
    return dict(row) if row and row["limit_value"] is not None else None


def existing_class_keys(conn: Connection, scheme: str) -> set[tuple[str, str]]:
    """(kind, code) of every class of a scheme."""
    result = conn.execute(
        text("SELECT kind, code FROM classification WHERE scheme = :s"), {"s": scheme}
    )
    return {(r[0], r[1]) for r in result}
