"""Repository: event counts for hotspots, stored contiguity weights, and the rows maps draw.

Counts are grouped in SQL (one row per grid / street / segment / class comes back, never
one per event). Stored weights are read and written with COPY: at city scale they are
hundreds of thousands of pairs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import shapely
from sqlalchemy import Connection, text

from app.db.session import driver_cursor
from app.db.sql import copy_out
from app.states import is_open


@dataclass(frozen=True)
class EventFilter:
    """A validated selection of events (see ``app.services.hotspots.analysis.parse_filter``)."""

    scheme: str
    kind: str | None = None
    classes: tuple[str, ...] = ()
    majors: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    sources: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    open_only: bool = False
    area: str | None = None

    def shifted(self, start: datetime, end: datetime) -> EventFilter:
        """The same selection over another period."""
        return EventFilter(**{**self.__dict__, "start": start, "end": end})


def _where(f: EventFilter, alias: str = "e", prefix: str = "") -> tuple[str, dict]:
    """SQL conditions and bound parameters (names starting with ``prefix``) for ``f``."""
    e, where, params = alias, [f"{alias}.grid_code IS NOT NULL"], {}

    def add(condition: str, **values) -> None:
        for name, value in values.items():
            condition = condition.replace(f":{name}", f":{prefix}{name}")
            params[prefix + name] = value
        where.append(condition)

    if f.classes or f.majors or f.kind:
        add(f"{e}.scheme = :scheme", scheme=f.scheme)
    if f.kind:
        add(f"{e}.class_kind = :kind", kind=f.kind)
    if f.classes:
        add(f"{e}.class_code = ANY(:classes)", classes=list(f.classes))
    if f.majors:
        add(f"left({e}.class_code, 2) = ANY(:majors)", majors=list(f.majors))
    if f.start is not None:
        add(f"{e}.reported_at >= :start", start=f.start)
    if f.end is not None:
        add(f"{e}.reported_at < :end", end=f.end)
    if f.sources:
        add(f"{e}.source = ANY(:sources)", sources=list(f.sources))
    if f.statuses:
        add(f"{e}.status = ANY(:statuses)", statuses=list(f.statuses))
    if f.open_only:
        add(is_open(f"{e}.status"))
    if f.area:
        # A code range (':' sorts right after '9') is a prefix match a btree index can use.
        add(f"{e}.grid_code >= :area AND {e}.grid_code < :area || ':'", area=f.area)
    return " AND ".join(where), params


def _pairs(conn: Connection, sql: str, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """(keys, counts) of a two-column grouped query, read with COPY: at 100,000 groups the
    driver's per-row conversion would cost more than the query itself."""
    values = copy_out(conn, sql, params).getvalue().split()
    return np.array(values[0::2], dtype=object), np.array(values[1::2], dtype=np.int64)


def counts_by_grid(conn: Connection, f: EventFilter) -> tuple[np.ndarray, np.ndarray]:
    """(grid codes, event counts) of the grids with at least one selected event."""
    where, params = _where(f)
    return _pairs(
        conn, f"SELECT e.grid_code, count(*) FROM event e WHERE {where} GROUP BY 1", params
    )


def counts_by_street(conn: Connection, f: EventFilter) -> tuple[np.ndarray, np.ndarray]:
    """(street ids, event counts) of the streets with at least one selected event."""
    where, params = _where(f)
    sql = f"SELECT e.street_id, count(*) FROM event e WHERE {where} AND e.street_id IS NOT NULL GROUP BY 1"
    keys, counts = _pairs(conn, sql, params)
    return keys.astype(np.int64), counts


def counts_by_segment(conn: Connection, f: EventFilter) -> tuple[np.ndarray, np.ndarray]:
    """(segment ids, event counts) from the stored event → nearest segment matches."""
    where, params = _where(f)
    sql = (
        f"SELECT s.segment_id, count(*) FROM event e JOIN event_segment s ON s.event_id = e.id "
        f"WHERE {where} GROUP BY 1"
    )
    keys, counts = _pairs(conn, sql, params)
    return keys.astype(np.int64), counts


def counts_by_street_class(conn: Connection, f: EventFilter) -> list[dict]:
    """Events per street and class (kind, code, names), most events first."""
    where, params = _where(f)
    sql = f"""
    SELECT x.street_id, s.name AS street_name, s.name_en AS street_name_en, s.grade,
           x.class_kind, x.class_code, k.name AS class_name, k.name_en AS class_name_en,
           x.events
    FROM (SELECT e.street_id, e.scheme, e.class_kind, e.class_code, count(*) AS events
          FROM event e WHERE {where} AND e.street_id IS NOT NULL GROUP BY 1, 2, 3, 4) x
    JOIN street s ON s.id = x.street_id
    LEFT JOIN classification k ON k.scheme = x.scheme AND k.kind = x.class_kind
                              AND k.code = x.class_code
    ORDER BY x.street_id, x.events DESC, x.class_kind, x.class_code"""
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def count_events(conn: Connection, f: EventFilter) -> int:
    where, params = _where(f)
    return int(
        conn.execute(text(f"SELECT count(*) FROM event e WHERE {where}"), params).scalar_one()
    )


# -- classes --------------------------------------------------------------------------------


def known_classes(conn: Connection, scheme: str, codes: list[str], kind: str | None) -> set[str]:
    """Those of ``codes`` that are classes of ``scheme`` (of ``kind`` when given)."""
    sql = "SELECT code FROM classification WHERE scheme = :s AND code = ANY(:codes)"
    params: dict = {"s": scheme, "codes": codes}
    if kind:
        sql += " AND kind = :kind"
        params["kind"] = kind
    return set(conn.execute(text(sql), params).scalars())


def class_names(
    conn: Connection, scheme: str, codes: list[str]
) -> dict[str, tuple[str, str | None]]:
    sql = "SELECT code, name, name_en FROM classification WHERE scheme = :s AND code = ANY(:c)"
    return {r[0]: (r[1], r[2]) for r in conn.execute(text(sql), {"s": scheme, "c": codes})}


# -- stored weights -------------------------------------------------------------------------

FINGERPRINT = {
    # Grid versions are never edited in place: a change closes a row and adds one, so the
    # ids of the current rows identify the current map.
    "grid_queen": "SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(id), 0) "
    "FROM grid WHERE valid_to IS NULL",
    "segment_node": "SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(sum(id), 0) "
    "FROM street_segment",
}
FINGERPRINT["event_segment"] = FINGERPRINT["segment_node"]
PAIR_TABLES = {
    "grid_queen": ("grid_neighbour", "grid_id"),
    "segment_node": ("street_segment_neighbour", "segment_id"),
}


def fingerprint(conn: Connection, kind: str) -> str:
    return str(conn.execute(text(FINGERPRINT[kind])).scalar_one())


def stored_weights(conn: Connection, kind: str) -> dict | None:
    row = (
        conn.execute(text("SELECT * FROM spatial_weights WHERE kind = :k"), {"k": kind})
        .mappings()
        .first()
    )
    return dict(row) if row else None


def lock_weights(conn: Connection, kind: str) -> None:
    """Serialise recomputations of one kind (held until the transaction ends)."""
    conn.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('citygrid.weights.' || :k))"), {"k": kind}
    )


def save_weights(
    conn: Connection,
    kind: str,
    a: np.ndarray,
    b: np.ndarray,
    *,
    fingerprint: str,
    units: int,
    tolerance_m: float,
    replace: bool = True,
) -> None:
    """Store pairs of ``kind`` (ids, a < b): all anew, or added to the kept ones; record the
    fingerprint they now match."""
    table, first = PAIR_TABLES[kind]
    if replace:
        conn.execute(text(f"TRUNCATE {table}"))
    buffer = io.StringIO(
        "".join(f"{x}\t{y}\n" for x, y in zip(a.tolist(), b.tolist(), strict=True))
    )
    cursor = driver_cursor(conn)
    cursor.copy_expert(f"COPY {table} ({first}, neighbour_id) FROM STDIN", buffer)
    pairs = (
        len(a) if replace else int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())
    )
    _record(conn, kind, fingerprint, units, pairs, tolerance_m, None)


def drop_retired_pairs(conn: Connection) -> int:
    """Delete grid pairs that involve a grid version no longer current."""
    sql = (
        "DELETE FROM grid_neighbour n USING grid g WHERE g.valid_to IS NOT NULL "
        "AND g.id IN (n.grid_id, n.neighbour_id)"
    )
    return conn.execute(text(sql)).rowcount


def _record(
    conn: Connection,
    kind: str,
    fingerprint: str,
    units: int,
    pairs: int,
    tolerance_m: float,
    last_event_id: int | None,
) -> None:
    conn.execute(
        text("""
        INSERT INTO spatial_weights (kind, fingerprint, units, pairs, tolerance_m, last_event_id)
        VALUES (:k, :f, :u, :p, :t, :e)
        ON CONFLICT (kind) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, units = EXCLUDED.units,
            pairs = EXCLUDED.pairs, tolerance_m = EXCLUDED.tolerance_m,
            last_event_id = EXCLUDED.last_event_id, computed_at = now()"""),
        {"k": kind, "f": fingerprint, "u": units, "p": pairs, "t": tolerance_m, "e": last_event_id},
    )


def load_pairs(conn: Connection, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """The stored pairs of ``kind`` as two id arrays."""
    table, first = PAIR_TABLES[kind]
    buffer = io.StringIO()
    cursor = driver_cursor(conn)
    cursor.copy_expert(f"COPY {table} ({first}, neighbour_id) TO STDOUT", buffer)
    values = np.array(buffer.getvalue().split(), dtype=np.int64).reshape(-1, 2)
    return values[:, 0], values[:, 1]


def current_grids(conn: Connection, area: str | None = None) -> dict[str, np.ndarray]:
    """Current grids in id order: id, code, community, supervisor, WKB geometry."""
    sql = (
        "SELECT g.id, g.code, g.community_code, c.name AS community_name, g.supervisor, "
        "ST_AsBinary(g.geom) AS wkb FROM grid g JOIN admin_area c ON c.code = g.community_code "
        "WHERE g.valid_to IS NULL"
    )
    params: dict = {}
    if area:
        sql += " AND g.code >= :area AND g.code < :area || ':'"
        params["area"] = area
    rows = conn.execute(text(sql + " ORDER BY g.id"), params).all()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 6
    return {
        "id": np.array(cols[0], dtype=np.int64),
        "code": np.array(cols[1], dtype=object),
        "community_code": np.array(cols[2], dtype=object),
        "community_name": np.array(cols[3], dtype=object),
        "supervisor": np.array(cols[4], dtype=object),
        "geometry": shapely.from_wkb([bytes(b) for b in cols[5]])
        if rows
        else np.array([], dtype=object),
    }


def street_segments(conn: Connection) -> dict[str, np.ndarray]:
    """Every street segment in id order: id, street id, length in metres, WKB geometry."""
    rows = conn.execute(
        text("SELECT id, street_id, length_m, ST_AsBinary(geom) FROM street_segment ORDER BY id")
    ).all()
    cols = list(zip(*rows, strict=True)) if rows else [()] * 4
    return {
        "id": np.array(cols[0], dtype=np.int64),
        "street_id": np.array(cols[1], dtype=np.int64),
        "length_m": np.array(cols[2], dtype=float),
        "geometry": shapely.from_wkb([bytes(b) for b in cols[3]])
        if rows
        else np.array([], dtype=object),
    }


def streets(conn: Connection) -> list[dict]:
    """Every street with its length (sum of its segments) in metres."""
    sql = (
        "SELECT s.id, s.name, s.name_en, s.grade, coalesce(sum(g.length_m), 0) AS length_m "
        "FROM street s LEFT JOIN street_segment g ON g.street_id = s.id GROUP BY s.id ORDER BY s.id"
    )
    return [dict(r) for r in conn.execute(text(sql)).mappings()]


# -- event → nearest segment ----------------------------------------------------------------


def last_event_id(conn: Connection) -> int:
    return int(conn.execute(text("SELECT coalesce(max(id), 0) FROM event")).scalar_one())


def unmatched_events(conn: Connection, after_id: int, up_to_id: int) -> dict[str, np.ndarray]:
    """Street-assigned events with ``after_id < id <= up_to_id``: id, street id, lon, lat."""
    # COPY, not a SELECT: a first match reads a million rows.
    buffer = copy_out(
        conn,
        "SELECT id, street_id, ST_X(geom), ST_Y(geom) FROM event "
        "WHERE id > :after AND id <= :up_to AND street_id IS NOT NULL ORDER BY id",
        {"after": after_id, "up_to": up_to_id},
    )
    values = np.array(buffer.getvalue().split(), dtype=float).reshape(-1, 4)
    return {
        "id": values[:, 0].astype(np.int64),
        "street_id": values[:, 1].astype(np.int64),
        "lon": values[:, 2],
        "lat": values[:, 3],
    }


def save_event_segments(
    conn: Connection,
    event_ids: np.ndarray,
    segment_ids: np.ndarray,
    distances: np.ndarray,
    *,
    replace: bool,
    fingerprint: str,
    units: int,
    tolerance_m: float,
    last_event_id: int,
) -> None:
    """Store event → segment matches (all of them anew when ``replace``)."""
    if replace:
        conn.execute(text("TRUNCATE event_segment"))
    rows = zip(
        event_ids.tolist(), segment_ids.tolist(), np.round(distances, 2).tolist(), strict=True
    )
    buffer = io.StringIO("".join(f"{e}\t{s}\t{d}\n" for e, s, d in rows))
    cursor = driver_cursor(conn)
    cursor.copy_expert("COPY event_segment (event_id, segment_id, distance_m) FROM STDIN", buffer)
    total = conn.execute(text("SELECT count(*) FROM event_segment")).scalar_one()
    _record(conn, "event_segment", fingerprint, units, int(total), tolerance_m, last_event_id)


def grid_geojson(conn: Connection, decimals: int) -> tuple[list[int], list[str]]:
    """(ids, GeoJSON geometry text) of the current grids, coordinates to ``decimals``."""
    rows = conn.execute(
        text("SELECT id, ST_AsGeoJSON(geom, :d) FROM grid WHERE valid_to IS NULL"), {"d": decimals}
    ).all()
    return [r[0] for r in rows], [r[1] for r in rows]


def segments_in_area(conn: Connection, area: str) -> np.ndarray:
    """Ids of the segments that touch a current grid of ``area`` (a code prefix)."""
    sql = (
        "SELECT s.id FROM street_segment s WHERE EXISTS (SELECT 1 FROM grid g "
        "WHERE g.valid_to IS NULL AND g.code >= :a AND g.code < :a || ':' "
        "AND ST_Intersects(g.geom, s.geom))"
    )
    return np.array(conn.execute(text(sql), {"a": area}).scalars().all(), dtype=np.int64)


def line_geojson(conn: Connection, level: str, ids: list[int], decimals: int) -> dict[int, str]:
    """GeoJSON geometry text per street (its segments merged) or per segment."""
    if level == "segment":
        sql = "SELECT id, ST_AsGeoJSON(geom, :d) FROM street_segment WHERE id = ANY(:ids)"
    else:
        sql = (
            "SELECT street_id, ST_AsGeoJSON(ST_LineMerge(ST_Collect(geom)), :d) FROM street_segment "
            "WHERE street_id = ANY(:ids) GROUP BY street_id"
        )
    return dict(conn.execute(text(sql), {"d": decimals, "ids": ids}).all())


# -- what the maps draw ---------------------------------------------------------------------


def supervisor_grids(conn: Connection, *, grid: str | None, supervisor: str | None) -> list[dict]:
    """Current grids by code, or all of one supervisor's, with community names and WKB."""
    sql = (
        "SELECT g.code, g.community_code, c.name AS community_name, c.name_en AS community_name_en, "
        "g.supervisor, ST_AsBinary(g.geom) AS wkb FROM grid g "
        "JOIN admin_area c ON c.code = g.community_code WHERE g.valid_to IS NULL AND "
    )
    sql += "g.code = :v" if grid else "g.supervisor = :v"
    return [
        dict(r)
        for r in conn.execute(text(sql + " ORDER BY g.code"), {"v": grid or supervisor}).mappings()
    ]


def open_cases(conn: Connection, codes: list[str], limit: int) -> list[dict]:
    """Unfinished cases of the grids ``codes``, newest first, with class names."""
    sql = f"""
    SELECT e.id, e.class_kind, e.class_code, k.name AS class_name, k.name_en AS class_name_en,
           e.status, e.source, e.unit_id, e.reported_at, e.deadline_at, e.closed_at,
           e.location_text, e.description, ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat,
           -- the workflow's clock: the light is the workflow's (transitions.case_light)
           w.event_id IS NOT NULL AS has_workflow, w.criterion, w.limit_value, w.limit_unit,
           w.clock_started_at, w.extension_hours, w.stage_due_at, w.stage_yellow_at,
           w.shelved_at, w.resume_status, w.pending_request, w.pending_hours, w.dispatched_by,
           w.rework_count
    FROM event e
    LEFT JOIN classification k ON k.scheme = e.scheme AND k.kind = e.class_kind AND k.code = e.class_code
    LEFT JOIN case_workflow w ON w.event_id = e.id
    WHERE e.grid_code = ANY(:codes) AND {is_open("e.status")}
    ORDER BY e.reported_at DESC, e.id DESC LIMIT :limit"""
    rows = conn.execute(text(sql), {"codes": codes, "limit": limit})
    return [dict(r) for r in rows.mappings()]


def grid_components(conn: Connection, codes: list[str], limit: int) -> list[dict]:
    """Components recorded in the grids ``codes`` with their class names."""
    sql = """
    SELECT c.identifier, c.class_code, k.name AS class_name, k.name_en AS class_name_en, c.status,
           ST_X(ST_PointOnSurface(c.geom)) AS lon, ST_Y(ST_PointOnSurface(c.geom)) AS lat
    FROM component c
    LEFT JOIN classification k ON k.scheme = c.scheme AND k.kind = 'component' AND k.code = c.class_code
    WHERE c.grid_code = ANY(:codes) ORDER BY c.identifier LIMIT :limit"""
    return [dict(r) for r in conn.execute(text(sql), {"codes": codes, "limit": limit}).mappings()]


def segments_near(
    conn: Connection, bounds: tuple[float, float, float, float], margin: float
) -> list[dict]:
    """Street segments crossing ``bounds`` (lon/lat) grown by ``margin`` degrees, with names."""
    sql = (
        "SELECT s.name, s.name_en, ST_AsBinary(g.geom) AS wkb FROM street_segment g "
        "JOIN street s ON s.id = g.street_id "
        "WHERE g.geom && ST_Expand(ST_MakeEnvelope(:x1, :y1, :x2, :y2, 4326), :m)"
    )
    x1, y1, x2, y2 = (float(b) for b in bounds)
    rows = conn.execute(text(sql), {"x1": x1, "y1": y1, "x2": x2, "y2": y2, "m": margin})
    return [dict(r) for r in rows.mappings()]


def communities(conn: Connection, area: str | None) -> list[dict]:
    """Community areas (code, names, WKB), of ``area`` when given."""
    sql = "SELECT code, name, name_en, ST_AsBinary(geom) AS wkb FROM admin_area WHERE level = 'community'"
    params: dict = {}
    if area:
        sql += " AND code >= :a AND code < :a || ':'"
        params["a"] = area[:12]
    return [dict(r) for r in conn.execute(text(sql + " ORDER BY code"), params).mappings()]


def supervisor_workload(
    conn: Connection,
    f: EventFilter,
    at: datetime,
    waiting: Sequence[tuple[str, datetime | None, datetime | None]],
) -> list[dict]:
    """Per supervisor: grids, events of ``f``, and the cases open now (any reporting time,
    same class/source/area) by light at ``at``.

    The light is the workflow's (`app.services.workflow.deadlines.light_at` on the current
    stage): red once ``at`` is past the stored stage due time, yellow from the stored moment it
    turns yellow. ``waiting`` gives, per status, the latest report times at which a case with
    no workflow step yet is red, or yellow (`transitions.waiting_light_bounds`)."""
    where, params = _where(f)
    now = EventFilter(
        **{**f.__dict__, "start": None, "end": None, "statuses": (), "open_only": True}
    )
    where_open, open_params = _where(now, "o", prefix="o_")
    params.update(open_params)
    sql = f"""
    WITH g AS (SELECT supervisor, code FROM grid WHERE valid_to IS NULL AND supervisor IS NOT NULL
               AND (CAST(:grid_area AS text) IS NULL OR (code >= :grid_area AND code < :grid_area || ':'))),
    x AS (SELECT e.grid_code, count(*) AS events FROM event e WHERE {where} GROUP BY 1),
    b AS (SELECT * FROM unnest(CAST(:wait_status AS text[]), CAST(:wait_red AS timestamptz[]),
                               CAST(:wait_yellow AS timestamptz[])) AS b(status, red, yellow)),
    lit AS (
        SELECT o.grid_code, CASE
            WHEN w.event_id IS NOT NULL THEN CASE
                WHEN w.stage_due_at IS NULL THEN 'none'
                WHEN :at > w.stage_due_at THEN 'red'
                WHEN :at >= w.stage_yellow_at THEN 'yellow'
                ELSE 'green' END
            WHEN b.status IS NULL THEN 'none'
            WHEN o.reported_at <= b.red THEN 'red'
            WHEN o.reported_at <= b.yellow THEN 'yellow'
            ELSE 'green' END AS light
        FROM event o
        LEFT JOIN case_workflow w ON w.event_id = o.id
        LEFT JOIN b ON w.event_id IS NULL AND b.status = o.status
        WHERE {where_open}),
    y AS (
        SELECT grid_code, count(*) AS open,
               count(*) FILTER (WHERE light = 'red') AS red,
               count(*) FILTER (WHERE light = 'yellow') AS yellow,
               count(*) FILTER (WHERE light = 'none') AS no_limit
        FROM lit GROUP BY 1)
    SELECT g.supervisor, count(*) AS grids, coalesce(sum(x.events), 0)::int AS events,
           coalesce(sum(y.open), 0)::int AS open, coalesce(sum(y.red), 0)::int AS red,
           coalesce(sum(y.yellow), 0)::int AS yellow, coalesce(sum(y.no_limit), 0)::int AS no_limit
    FROM g LEFT JOIN x ON x.grid_code = g.code LEFT JOIN y ON y.grid_code = g.code
    GROUP BY g.supervisor ORDER BY open DESC, events DESC, g.supervisor"""
    params.update(
        at=at,
        grid_area=f.area,
        wait_status=[w[0] for w in waiting],
        wait_red=[w[1] for w in waiting],
        wait_yellow=[w[2] for w in waiting],
    )
    return [dict(r) for r in conn.execute(text(sql), params).mappings()]
