"""Repository: a case's workflow state, its log, task lists, and bulk writes for the simulator."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, text

from app.db.session import driver_cursor

CASE_SELECT = """
SELECT e.id, e.status, e.source, e.reporter, e.scheme, e.class_kind, e.class_code,
       e.reported_at, e.grid_code, e.unit_id, e.deadline_at, e.closed_at,
       w.event_id IS NOT NULL AS has_workflow, w.criterion, w.limit_value, w.limit_unit,
       w.clock_started_at, w.extension_hours, w.stage_due_at, w.stage_yellow_at, w.shelved_at,
       w.resume_status,
       w.pending_request, w.pending_hours, w.dispatched_by, w.rework_count,
       u.code AS unit_code, u.name AS unit_name
FROM event e
LEFT JOIN case_workflow w ON w.event_id = e.id
LEFT JOIN responsible_unit u ON u.id = e.unit_id
WHERE e.id = :id
"""


def get_case(conn: Connection, event_id: int, lock: bool = False) -> dict | None:
    """The case and its clock; ``lock`` holds the event row until the transaction ends."""
    sql = CASE_SELECT + (" FOR UPDATE OF e" if lock else "")
    row = conn.execute(text(sql), {"id": event_id}).mappings().first()
    return dict(row) if row else None


WORKFLOW_COLUMNS = (
    "criterion",
    "limit_value",
    "limit_unit",
    "clock_started_at",
    "extension_hours",
    "stage_due_at",
    "stage_yellow_at",
    "shelved_at",
    "resume_status",
    "pending_request",
    "pending_hours",
    "dispatched_by",
    "rework_count",
)


def save_case(conn: Connection, event_id: int, event: dict, workflow: dict, at: datetime) -> None:
    """Write the new state: the event's status columns and the case_workflow row."""
    conn.execute(
        text(
            "UPDATE event SET status = :status, unit_id = :unit_id, deadline_at = :deadline_at, "
            "closed_at = :closed_at, updated_at = :at WHERE id = :id"
        ),
        {**event, "id": event_id, "at": at},
    )
    cols = ", ".join(WORKFLOW_COLUMNS)
    params = ", ".join(f":{c}" for c in WORKFLOW_COLUMNS)
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in WORKFLOW_COLUMNS)
    conn.execute(
        text(
            f"INSERT INTO case_workflow (event_id, {cols}, updated_at) VALUES (:id, {params}, :at) "
            f"ON CONFLICT (event_id) DO UPDATE SET {updates}, updated_at = EXCLUDED.updated_at"
        ),
        {**workflow, "id": event_id, "at": at},
    )


def cases_missing_yellow(conn: Connection) -> list[dict]:
    """Cases with a stage due time but no stored yellow moment (rows older than migration
    0015), as :func:`get_case` reads them."""
    sql = CASE_SELECT.replace(
        "WHERE e.id = :id", "WHERE w.stage_due_at IS NOT NULL AND w.stage_yellow_at IS NULL"
    )
    return [dict(r) for r in conn.execute(text(sql)).mappings()]


def set_stage_yellow(conn: Connection, moments: Sequence[tuple[int, datetime | None]]) -> None:
    """Store each case's stage yellow moment."""
    if moments:
        conn.execute(
            text("UPDATE case_workflow SET stage_yellow_at = :y WHERE event_id = :id"),
            [{"id": i, "y": y} for i, y in moments],
        )


def insert_log(
    conn: Connection,
    event_id: int,
    at: datetime,
    actor: str,
    action: str,
    from_status: str | None,
    to_status: str | None,
    note: str | None,
    data: dict,
) -> int:
    """Append one case_log row; returns its id."""
    return conn.execute(
        text(
            "INSERT INTO case_log (event_id, at, actor, action, from_status, to_status, note, data) "
            "VALUES (:e, :at, :actor, :action, :f, :t, :note, CAST(:data AS jsonb)) RETURNING id"
        ),
        {
            "e": event_id,
            "at": at,
            "actor": actor,
            "action": action,
            "f": from_status,
            "t": to_status,
            "note": note,
            "data": json.dumps(data, ensure_ascii=False),
        },
    ).scalar_one()


def read_log(conn: Connection, event_id: int) -> list[dict]:
    """A case's log, oldest first."""
    rows = conn.execute(
        text(
            "SELECT id, at, actor, action, from_status, to_status, note, data FROM case_log "
            "WHERE event_id = :e ORDER BY at, id"
        ),
        {"e": event_id},
    ).mappings()
    return [dict(r) for r in rows]


def unit_by_code(conn: Connection, code: str) -> dict | None:
    """One responsible unit by its code."""
    row = (
        conn.execute(
            text("SELECT id, code, name, kind FROM responsible_unit WHERE code = :c"), {"c": code}
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def all_units(conn: Connection) -> list[dict]:
    """Every responsible unit (the simulator picks departments from them)."""
    rows = conn.execute(text("SELECT id, code, name, kind, area_code FROM responsible_unit"))
    return [dict(r) for r in rows.mappings()]


TASK_SELECT = """
SELECT e.id AS event_id, e.status, e.source, e.class_kind, e.class_code, k.name AS class_name,
       e.grid_code, e.community_code, e.subdistrict_code, g.supervisor, u.code AS unit_code,
       u.name AS unit_name, e.location_text, e.description, e.reported_at, e.deadline_at,
       w.stage_due_at, w.stage_yellow_at, w.pending_request, w.pending_hours, w.limit_value, w.limit_unit,
       w.extension_hours, w.clock_started_at,
       COALESCE(w.stage_due_at, e.reported_at + make_interval(secs => :fallback_s)) AS due_at
"""
TASK_FROM = """
FROM event e
JOIN classification k ON k.scheme = e.scheme AND k.kind = e.class_kind AND k.code = e.class_code
LEFT JOIN case_workflow w ON w.event_id = e.id
LEFT JOIN grid g ON g.code = e.grid_code AND g.valid_to IS NULL
LEFT JOIN responsible_unit u ON u.id = e.unit_id
"""


def list_tasks(
    conn: Connection,
    *,
    statuses: Sequence[str],
    reported_sources: Sequence[str] | None,
    pending: bool,
    grid: str | None,
    supervisor: str | None,
    unit_code: str | None,
    within: str | None,
    fallback_s: float,
    limit: int,
    offset: int,
) -> tuple[list[dict], int]:
    """Open cases waiting on one role, most urgent (earliest due) first; (page, total)."""
    # 'reported' cases without a case_workflow row were bulk-loaded: their stage is due a fixed
    # time after the report, which keeps the order right without a row per case.
    which = "e.status = ANY(:statuses)"
    if reported_sources is not None:
        which += " AND (e.status <> 'reported' OR e.source = ANY(:sources))"
    if pending:
        which = f"(({which}) OR w.pending_request IS NOT NULL)"
    where = [which]
    if grid:
        where.append("e.grid_code = :grid")
    if supervisor:
        where.append("g.supervisor = :supervisor")
    if unit_code:
        where.append("u.code = :unit")
    if within:
        where.append("e.grid_code LIKE :within")
    params = {
        "statuses": list(statuses),
        "sources": list(reported_sources or []),
        "grid": grid,
        "supervisor": supervisor,
        "unit": unit_code,
        "within": f"{within}%",
        "fallback_s": fallback_s,
        "limit": limit,
        "offset": offset,
    }
    clause = " WHERE " + " AND ".join(where)
    total = conn.execute(text("SELECT count(*)" + TASK_FROM + clause), params).scalar_one()
    rows = conn.execute(
        text(
            TASK_SELECT + TASK_FROM + clause + " ORDER BY due_at, e.id LIMIT :limit OFFSET :offset"
        ),
        params,
    )
    return [dict(r) for r in rows.mappings()], int(total)


# -- bulk, for the simulator ----------------------------------------------------------------


def unprocessed_reports(conn: Connection, until: datetime) -> list[dict]:
    """Cases still 'reported' with no workflow yet, reported before ``until``, oldest first."""
    rows = conn.execute(
        text(
            "SELECT e.id, e.source, e.reporter, e.class_kind, e.class_code, e.reported_at, "
            "e.grid_code, e.subdistrict_code, e.unit_id, g.supervisor FROM event e "
            "LEFT JOIN grid g ON g.code = e.grid_code AND g.valid_to IS NULL "
            "WHERE e.status = 'reported' AND e.reported_at < :until "
            "AND NOT EXISTS (SELECT 1 FROM case_workflow w WHERE w.event_id = e.id) "
            "ORDER BY e.reported_at, e.id"
        ),
        {"until": until},
    )
    return [dict(r) for r in rows.mappings()]


def _copy(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    buffer.seek(0)
    cursor = driver_cursor(conn)
    # Empty CSV fields are NULL (the default for FORMAT csv); quoted "" would be an empty string.
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv)", buffer)


LOG_COLUMNS = ("event_id", "at", "actor", "action", "from_status", "to_status", "note", "data")
CASE_COLUMNS = (
    "event_id",
    "status",
    "unit_id",
    "deadline_at",
    "closed_at",
    "updated_at",
) + WORKFLOW_COLUMNS


def write_simulated(conn: Connection, cases: Sequence[Sequence], logs: Sequence[Sequence]) -> None:
    """Apply simulated cases (CASE_COLUMNS) and log rows (LOG_COLUMNS, data as JSON text)."""
    conn.execute(
        text(
            "CREATE TEMP TABLE sim_case (event_id bigint, status text, unit_id integer, "
            "deadline_at timestamptz, closed_at timestamptz, updated_at timestamptz, criterion text, "
            "limit_value numeric, limit_unit text, clock_started_at timestamptz, "
            "extension_hours numeric, stage_due_at timestamptz, stage_yellow_at timestamptz, "
            "shelved_at timestamptz, "
            "resume_status text, pending_request text, pending_hours numeric, dispatched_by text, "
            "rework_count integer) ON COMMIT DROP"
        )
    )
    _copy(conn, "sim_case", CASE_COLUMNS, cases)
    # Bulk-loaded cases have no 'report' row; intake through the API writes one.
    conn.execute(
        text(
            "INSERT INTO case_log (event_id, at, actor, action, from_status, to_status, note, data) "
            "SELECT e.id, e.reported_at, COALESCE(e.reporter, e.source), 'report', NULL, 'reported', "
            "'source=' || e.source, jsonb_build_object('role', 'reporter') "
            "FROM sim_case s JOIN event e ON e.id = s.event_id "
            "WHERE NOT EXISTS (SELECT 1 FROM case_log l WHERE l.event_id = e.id)"
        )
    )
    _copy(conn, "case_log", LOG_COLUMNS, logs)
    conn.execute(
        text(
            "UPDATE event e SET status = s.status, unit_id = s.unit_id, deadline_at = s.deadline_at, "
            "closed_at = s.closed_at, updated_at = s.updated_at FROM sim_case s WHERE e.id = s.event_id"
        )
    )
    cols = ", ".join(WORKFLOW_COLUMNS)
    conn.execute(
        text(
            f"INSERT INTO case_workflow (event_id, {cols}, updated_at) "
            f"SELECT event_id, {cols}, updated_at FROM sim_case ON CONFLICT (event_id) DO NOTHING"
        )
    )
    # Fresh statistics: evaluation queries join these tables, and a planner that still
    # believes they are empty picks nested loops over hundreds of thousands of rows.
    for table in ("event", "case_log", "case_workflow"):
        conn.execute(text(f"ANALYZE {table}"))
