"""Repository: cases read as Open311 GeoReport v2 service requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, text

from app.db.intake.events import EVENT_SELECT
from app.states import is_open, is_terminal

# GeoReport v2 knows only open and closed: every terminal state (结案, 作废, 核实不属实) is
# closed. Written out (not bound) so the planner can use the partial index ix_event_class_open.
_OPEN_SQL = is_open("e.status")
_CLOSED_SQL = is_terminal("e.status")


def find_requests(
    conn: Connection,
    *,
    ids: Sequence[int] | None = None,
    scheme: str | None = None,
    classes: Sequence[tuple[str, str]] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    status: Literal["open", "closed"] | None = None,
    sources: Sequence[str] = (),
    limit: int = 1000,
) -> list[dict]:
    """Cases of the channels ``sources`` matching every given filter, newest report first,
    at most ``limit``."""
    where: list[str] = ["e.source = ANY(:sources)"]
    params: dict = {"limit": limit, "sources": list(sources)}
    if ids is not None:
        where.append("e.id = ANY(CAST(:ids AS bigint[]))")
        params["ids"] = list(ids)
    if classes is not None:
        where.append(
            "e.scheme = :scheme AND (e.class_kind, e.class_code) IN "
            "(SELECT * FROM unnest(CAST(:kinds AS text[]), CAST(:codes AS text[])))"
        )
        params.update(scheme=scheme, kinds=[k for k, _ in classes], codes=[c for _, c in classes])
    if start is not None:
        where.append("e.reported_at >= :start")
        params["start"] = start
    if end is not None:
        where.append("e.reported_at <= :end")
        params["end"] = end
    if status is not None:
        where.append(_OPEN_SQL if status == "open" else _CLOSED_SQL)
    sql = EVENT_SELECT + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY e.reported_at DESC, e.id DESC LIMIT :limit"
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]
