"""Component inventory (部件), the reads: pages, one component, its history and cases,
summaries per area or street, CSV exports."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from sqlalchemy import Connection, Engine

from app.db.components import inventory as repo
from app.errors import InvalidInputError, NotFoundError
from app.settings import Settings
from gis.io.layers import COMPONENT_STATUSES

SUMMARY_BY = tuple(repo.SUMMARY_GROUPS)


def list_components(
    engine: Engine, filters: dict, limit: int, offset: int
) -> tuple[list[dict], int]:
    """One page of components matching ``filters`` (see app.db.components.inventory._where)."""
    with engine.connect() as conn:
        return repo.list_components(conn, filters, limit, offset)


def components_csv(engine: Engine, filters: dict, limit: int | None, offset: int) -> Iterator[str]:
    """CSV text (UTF-8 BOM first, for spreadsheet programs) of the matching components."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(repo.CSV_COLUMNS)
    yield "\ufeff" + buffer.getvalue()
    with engine.connect() as conn:
        for batch in repo.stream_components(conn, filters, limit, offset):
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(batch)  # None is written as an empty field
            yield buffer.getvalue()


def get_component(engine: Engine, identifier: str) -> dict:
    """One component with its source keys."""
    with engine.connect() as conn:
        row = repo.get_component(conn, identifier)
        if row is None:
            raise not_found(identifier)
        row["sources"] = repo.sources(conn, row["id"])
    return row


def component_history(engine: Engine, identifier: str) -> list[dict]:
    """A component's history rows, oldest first."""
    with engine.connect() as conn:
        return repo.history(conn, _id(conn, identifier))


def component_cases(
    engine: Engine, identifier: str, limit: int, offset: int
) -> tuple[list[dict], int]:
    """One page of the cases about a component (newest first) and how many there are."""
    with engine.connect() as conn:
        return repo.cases(conn, _id(conn, identifier), limit, offset)


def summary(
    engine: Engine,
    settings: Settings,
    by: str,
    filters: dict,
    limit: int | None = None,
    offset: int = 0,
) -> dict:
    """Counts per (group, class) — group = grid, community, sub-district, district or street.

    ``totals`` (per class, retired left out) cover every group; ``items`` are one page of
    the (group, class) rows when ``limit`` is given.
    """
    if by not in SUMMARY_BY:
        raise InvalidInputError(
            f"by 应为 {'、'.join(SUMMARY_BY)}", f"by must be one of {', '.join(SUMMARY_BY)}"
        )
    with engine.connect() as conn:
        # every status is counted, retired apart: the filter's default to hide them is moot
        rows = repo.summary(
            conn, by, {**filters, "scheme": settings.class_scheme, "active_only": False}
        )
    totals: dict[str, int] = {}
    for row in rows:
        totals[row["class_code"]] = totals.get(row["class_code"], 0) + row["total"]
    page = rows[offset : None if limit is None else offset + limit]
    return {
        "by": by,
        "scheme": settings.class_scheme,
        "numberMatched": len(rows),
        "numberReturned": len(page),
        "totals": dict(sorted(totals.items())),
        "items": page,
    }


def summary_csv(result: dict) -> str:
    """A summary's items as CSV (UTF-8 BOM first)."""
    columns = (
        "key",
        "name",
        "class_code",
        "class_name",
        "class_name_en",
        "total",
        *COMPONENT_STATUSES,
    )
    return "\ufeff" + _csv(result["items"], columns, True)


def not_found(identifier: str) -> NotFoundError:
    """404: no component has this identifier."""
    return NotFoundError(f"没有标识码为 {identifier} 的部件", f"no component {identifier}")


def _id(conn: Connection, identifier: str) -> int:
    cid = repo.component_id(conn, identifier)
    if cid is None:
        raise not_found(identifier)
    return cid


def _csv(rows: list[dict], columns: tuple[str, ...], header: bool) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    if header:
        writer.writerow(columns)
    writer.writerows([[row.get(c) for c in columns] for row in rows])
    return buffer.getvalue()
