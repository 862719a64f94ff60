"""Repository: evaluation counts (GB/T 30428.4) for a period, straight from the case log.

Every count reads ``case_log`` rows, whose ``data`` froze the unit, the deadline and the
stage due time in force when the action happened, so a later extension or re-dispatch never
rewrites history. A case's state at the end of the period is its last log row before it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, text

from app import states

AREA_COLUMNS = {
    "district": "district_code",
    "subdistrict": "subdistrict_code",
    "community": "community_code",
    "grid": "grid_code",
}

# Log rows up to the end of the period and each case's state at the end.
_BASE = """
lg AS (
    SELECT id, event_id, at, action, actor, to_status, data FROM case_log WHERE at < :to
),
last AS (
    SELECT DISTINCT ON (event_id) event_id, to_status,
           NULLIF(data->>'unit_id', '')::int AS unit_id,
           (data->>'deadline_at')::timestamptz AS deadline_at,
           (data->>'due_at')::timestamptz AS due_at
    FROM lg ORDER BY event_id, at DESC, id DESC
)
"""
# A report is valid when it was filed by the end of the period. EXISTS on the indexed event_id
# stays fast whatever the planner believes about the size of the CTEs.
_FILED = (
    "EXISTS (SELECT 1 FROM case_log c WHERE c.event_id = {0}.id AND c.action = 'file' "
    "AND c.at < :to)"
)

# An open case whose deadline fell inside the period and that is still open at its end counts
# against the on-time rates (to-handle / to-close) of the period: overdue work is not hidden.
# A close is on time (按期结案) when the handling it closes, the unit's last feedback, met the
# deadline: the deadline is the handling limit (处置时限); the check after it has its own stage
# limit, judged on the supervisor.
_AREA_UNIT = """
WITH {base},
acts AS (
    SELECT event_id, action, at, NULLIF(data->>'unit_id', '')::int AS unit_id,
           (data->>'deadline_at')::timestamptz AS deadline_at
    FROM lg WHERE at >= :from AND action IN ('file', 'dispatch', 'return', 'handle', 'rework',
                                              'close', 'approve_extension', 'approve_shelving')
),
overdue AS (
    SELECT * FROM last WHERE deadline_at >= :from AND deadline_at < :to
      AND {no_clock}
),
facts AS (
    SELECT e.id AS event_id, {key_e} AS key, 'reported' AS metric,
           e.source = ANY(:public) AS public, {filed_e} AS flag
    FROM event e
    WHERE e.reported_at >= :from AND e.reported_at < :to AND e.grid_code LIKE :within
  UNION ALL
    SELECT a.event_id, {key_a}, a.action, false,
           CASE WHEN a.action = 'close' THEN h.on_time ELSE a.at <= a.deadline_at END
    FROM acts a JOIN event e ON e.id = a.event_id
    LEFT JOIN LATERAL (
        SELECT h.at <= (h.data->>'deadline_at')::timestamptz AS on_time FROM case_log h
        WHERE a.action = 'close' AND h.event_id = a.event_id AND h.action = 'handle'
          AND h.at <= a.at
        ORDER BY h.at DESC, h.id DESC LIMIT 1
    ) h ON true
    WHERE e.grid_code LIKE :within
  UNION ALL
    SELECT o.event_id, {key_o},
           CASE WHEN {unit_states} THEN 'overdue_unhandled'
                ELSE 'overdue_unclosed' END, false, false
    FROM overdue o JOIN event e ON e.id = o.event_id WHERE e.grid_code LIKE :within
)
SELECT CAST(key AS text) AS key,
       count(*) FILTER (WHERE metric = 'reported') AS reported,
       count(*) FILTER (WHERE metric = 'reported' AND public) AS public_reported,
       count(*) FILTER (WHERE metric = 'reported' AND flag) AS valid,
       count(*) FILTER (WHERE metric = 'file') AS filed,
       count(DISTINCT event_id) FILTER (WHERE metric = 'dispatch') AS dispatched,
       count(*) FILTER (WHERE metric = 'return') AS returned,
       count(*) FILTER (WHERE metric = 'handle') AS handled,
       count(*) FILTER (WHERE metric = 'handle' AND flag) AS handled_on_time,
       count(*) FILTER (WHERE metric = 'overdue_unhandled') AS overdue_unhandled,
       count(*) FILTER (WHERE metric IN ('overdue_unhandled', 'overdue_unclosed')) AS overdue_open,
       count(*) FILTER (WHERE metric = 'rework') AS rework,
       count(*) FILTER (WHERE metric = 'close') AS closed,
       count(*) FILTER (WHERE metric = 'close' AND flag) AS closed_on_time,
       count(*) FILTER (WHERE metric = 'approve_extension') AS extended,
       count(*) FILTER (WHERE metric = 'approve_shelving') AS shelved
FROM facts WHERE key IS NOT NULL GROUP BY key ORDER BY key
"""


def area_unit_counts(
    conn: Connection,
    level: str,
    area_level: str,
    start: datetime,
    end: datetime,
    public_sources: list[str],
    within: str | None,
) -> list[dict]:
    """Counts per area (of ``area_level``) or per unit (id as text) for [start, end)."""
    if level == "area":
        column = f"e.{AREA_COLUMNS[area_level]}"
        keys = {"key_e": column, "key_a": column, "key_o": column}
    else:
        # A unit answers for what it held when it acted (the log's unit), not today's holder.
        keys = {"key_e": "e.unit_id", "key_a": "a.unit_id", "key_o": "o.unit_id"}
    sql = _AREA_UNIT.format(
        base=_BASE,
        filed_e=_FILED.format("e"),
        no_clock=states.is_not_in("to_status", states.NO_CLOCK),
        unit_states=states.is_in("o.to_status", states.UNIT_STATES),
        **keys,
    )
    rows = conn.execute(
        text(sql),
        {"from": start, "to": end, "public": public_sources, "within": f"{within or ''}%"},
    ).mappings()
    return [dict(r) for r in rows]


# Supervisors are named as their accounts' display names (a grid's ``supervisor`` holds the
# same). Each answers for their own reports and their validity — credited to the account that
# filed them (``reported_by``), never to the free-text ``reporter`` — and their own
# verifications (核实, the account that acted); and, for the grids they hold now, for public
# reports there that proved valid (missed by the patrol, 漏报) and the check (核查) tasks, on
# time when done before the stage was due.
_SUPERVISOR = """
WITH {base},
sup AS (
    SELECT e.id, e.source, e.reported_at, g.supervisor,
           COALESCE(a.display_name, e.reported_by) AS reported_by
    FROM event e LEFT JOIN grid g ON g.code = e.grid_code AND g.valid_to IS NULL
    LEFT JOIN app_user a ON a.username = e.reported_by
    WHERE e.grid_code LIKE :within
),
facts AS (
    SELECT s.reported_by AS key, 'reported' AS metric, {filed_s} AS flag
    FROM sup s
    WHERE s.source = 'supervisor' AND s.reported_at >= :from AND s.reported_at < :to
  UNION ALL
    SELECT s.supervisor, 'missed', true FROM sup s
    WHERE s.source = ANY(:public) AND s.reported_at >= :from AND s.reported_at < :to
      AND {filed_s}
  UNION ALL
    SELECT CASE WHEN l.action IN ('confirm', 'invalidate')
                THEN COALESCE(a.display_name, l.actor) ELSE s.supervisor END,
           CASE WHEN l.action IN ('confirm', 'invalidate') THEN 'verify' ELSE 'check' END,
           l.at <= COALESCE((l.data->>'stage_due_at')::timestamptz, 'infinity')
    FROM lg l JOIN sup s ON s.id = l.event_id
    LEFT JOIN app_user a ON a.username = l.actor
    WHERE l.at >= :from AND l.action IN ('confirm', 'invalidate', 'close', 'rework')
  UNION ALL
    SELECT s.supervisor, CASE WHEN o.to_status = 'verifying' THEN 'verify' ELSE 'check' END, false
    FROM last o JOIN sup s ON s.id = o.event_id
    WHERE {supervisor_tasks} AND o.due_at >= :from AND o.due_at < :to
)
SELECT key,
       count(*) FILTER (WHERE metric = 'reported') AS reported,
       count(*) FILTER (WHERE metric = 'reported' AND flag) AS valid,
       count(*) FILTER (WHERE metric = 'missed') AS missed,
       count(*) FILTER (WHERE metric = 'verify') AS to_verify,
       count(*) FILTER (WHERE metric = 'verify' AND flag) AS verified_on_time,
       count(*) FILTER (WHERE metric = 'check') AS to_check,
       count(*) FILTER (WHERE metric = 'check' AND flag) AS checked_on_time
FROM facts WHERE key IS NOT NULL GROUP BY key ORDER BY key
"""


def supervisor_counts(
    conn: Connection, start: datetime, end: datetime, public_sources: list[str], within: str | None
) -> list[dict]:
    """Counts per supervisor (by name) for [start, end)."""
    rows = conn.execute(
        text(
            _SUPERVISOR.format(
                base=_BASE,
                filed_s=_FILED.format("s"),
                supervisor_tasks=states.is_in("o.to_status", states.SUPERVISOR_TASKS),
            )
        ),
        {"from": start, "to": end, "public": public_sources, "within": f"{within or ''}%"},
    ).mappings()
    return [dict(r) for r in rows]


# Command-centre posts: the actions logged under the post's role by each person, on time when
# done before the stage was due; a dispatcher also answers for dispatches sent back (退回).
_POST = """
WITH acts AS (
    SELECT l.actor AS key, 'act' AS metric,
           l.at <= COALESCE((l.data->>'stage_due_at')::timestamptz, 'infinity') AS flag
    FROM case_log l JOIN event e ON e.id = l.event_id
    WHERE l.at >= :from AND l.at < :to AND l.data->>'role' = :role
      AND l.action = ANY(:actions) AND e.grid_code LIKE :within
  UNION ALL
    SELECT l.data->>'dispatched_by', 'returned', false
    FROM case_log l JOIN event e ON e.id = l.event_id
    WHERE :role = 'dispatcher' AND l.at >= :from AND l.at < :to AND l.action = 'return'
      AND e.grid_code LIKE :within
)
SELECT key, count(*) FILTER (WHERE metric = 'act') AS actions,
       count(*) FILTER (WHERE metric = 'act' AND flag) AS on_time,
       count(*) FILTER (WHERE metric = 'returned') AS returned
FROM acts WHERE key IS NOT NULL GROUP BY key ORDER BY key
"""


def post_counts(
    conn: Connection,
    role: str,
    actions: list[str],
    start: datetime,
    end: datetime,
    within: str | None,
) -> list[dict]:
    """Counts per person of a command-centre post for [start, end)."""
    rows = conn.execute(
        text(_POST),
        {"from": start, "to": end, "role": role, "actions": actions, "within": f"{within or ''}%"},
    ).mappings()
    return [dict(r) for r in rows]


def area_names(conn: Connection) -> dict[str, str]:
    """Area code → name."""
    rows = conn.execute(text("SELECT code, name FROM admin_area"))
    return {r[0]: r[1] for r in rows}


def unit_names(conn: Connection) -> dict[str, tuple[str, str]]:
    """Unit id (as text) → (code, name)."""
    rows = conn.execute(text("SELECT id, code, name FROM responsible_unit"))
    return {str(r[0]): (r[1], r[2]) for r in rows}
