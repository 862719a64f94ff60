"""Repository: the spatial facts behind an event's assignment, for 1 to 10,000 points at once.

One set-based query gathers, per point: the class, the grid version valid at the report time,
the nearest street segment, the component (given by identifier, with its own class, or the
nearest of the report's class), the most specific
dispatch rule, the grid's unit, the sub-district office (属地兜底), the rows of those units and
of the command centre, and possible duplicates — one round trip for a single intake. The
service turns those facts into the decision and its reasons, so the API, the preview and the
tests share one rule book.

Distances are metres in the UTM zone of the point (``citygrid_utm_srid``). The ``&&`` box
around each point only lets the GiST index prefilter: its half-size is the search radius
converted to degrees with a 50 % margin, and the exact test is the metric distance.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from app.db.pool import IntakeConnection, Statement
from app.states import is_open

FACTS = f"""
WITH p AS (
    SELECT t.i, t.lon, t.lat, t.kind, t.code, t.ident, t.at,
           ST_SetSRID(ST_MakePoint(t.lon, t.lat), 4326) AS pt,
           citygrid_utm_srid(t.lon, t.lat) AS srid,
           -- degrees per metre, with a 50 % margin (prefilter only)
           1.5 / (111320.0 * greatest(cos(radians(t.lat)), 0.01)) AS dlon,
           1.5 / 110574.0 AS dlat
    FROM unnest(CAST(:lon AS float8[]), CAST(:lat AS float8[]), CAST(:kind AS text[]),
                CAST(:code AS text[]), CAST(:ident AS text[]), CAST(:at AS timestamptz[]))
         WITH ORDINALITY AS t(lon, lat, kind, code, ident, at, i)
), q AS (
    SELECT p.*, ST_Transform(p.pt, p.srid) AS mpt FROM p
)
SELECT q.i,
       g.id AS grid_id, g.code AS grid_code, g.version AS grid_version, g.unit_id AS grid_unit_id,
       g.community_code, cm.name AS community_name,
       left(g.code, 9) AS subdistrict_code, sd.name AS subdistrict_name,
       left(g.code, 6) AS district_code, dt.name AS district_name,
       st.segment_id, st.street_id, st.street_name, st.street_grade, st.distance_m AS street_distance_m,
       cp.id AS component_id, cp.identifier AS component_identifier,
       cp.scheme AS component_scheme, cp.class_code AS component_class_code,
       ck.name AS component_class_name, ck.name_en AS component_class_name_en,
       cp.status AS component_status,
       cp.maintainer_unit_id, cp.owner_unit_id, cp.distance_m AS component_distance_m,
       cp.matched_by AS component_matched_by,
       r.id AS rule_id, r.unit_id AS rule_unit_id, r.area_code AS rule_area_code,
       office.id AS office_unit_id,
       dup.cases AS duplicates,
       -- the class row with the time-limit table's default limit (criterion '') joined in
       to_jsonb(k) || jsonb_build_object('limit_value', tl.limit_value, 'limit_unit', tl.limit_unit)
           AS class,
       (SELECT json_object_agg(u.id, json_build_object(
                   'id', u.id, 'code', u.code, 'name', u.name, 'name_en', u.name_en,
                   'kind', u.kind))
        FROM responsible_unit u
        WHERE u.id IN (cp.maintainer_unit_id, cp.owner_unit_id, r.unit_id, g.unit_id,
                       office.id)) AS units,
       -- the command centre takes what no sub-district office can (read only then)
       CASE WHEN office.id IS NULL THEN
           (SELECT json_build_object('id', u.id, 'code', u.code, 'name', u.name,
                                     'name_en', u.name_en, 'kind', u.kind)
            FROM responsible_unit u WHERE u.kind = 'command_centre'
            ORDER BY u.id LIMIT 1) END AS centre
FROM q
LEFT JOIN classification k ON k.scheme = :scheme AND k.kind = q.kind AND k.code = q.code
LEFT JOIN time_limit tl ON tl.scheme = :scheme AND tl.class_kind = q.kind AND tl.class_code = q.code
      AND tl.criterion = ''
LEFT JOIN LATERAL (
    SELECT g.id, g.code, g.version, g.unit_id, g.community_code FROM grid g
    WHERE ST_Covers(g.geom, q.pt) AND g.valid_from <= q.at AND (g.valid_to IS NULL OR g.valid_to > q.at)
    ORDER BY g.code LIMIT 1
) g ON true
LEFT JOIN admin_area cm ON cm.code = g.community_code
LEFT JOIN admin_area sd ON sd.code = left(g.code, 9)
LEFT JOIN admin_area dt ON dt.code = left(g.code, 6)
LEFT JOIN LATERAL (
    SELECT x.* FROM (
        SELECT s.id AS segment_id, s.street_id, n.name AS street_name, n.grade AS street_grade,
               ST_Distance(ST_Transform(s.geom, q.srid), q.mpt) AS distance_m
        FROM street_segment s JOIN street n ON n.id = s.street_id
        WHERE s.geom && ST_Expand(q.pt, :street_m * q.dlon, :street_m * q.dlat)
    ) x WHERE x.distance_m <= :street_m
    ORDER BY x.distance_m, x.segment_id LIMIT 1
) st ON true
LEFT JOIN LATERAL (
    SELECT x.* FROM (
        SELECT c.id, c.identifier, c.scheme, c.class_code, c.status, c.maintainer_unit_id,
               c.owner_unit_id, ST_Distance(ST_Transform(c.geom, q.srid), q.mpt) AS distance_m,
               'identifier' AS matched_by
        FROM component c WHERE q.ident IS NOT NULL AND c.identifier = q.ident
        UNION ALL
        SELECT c.id, c.identifier, c.scheme, c.class_code, c.status, c.maintainer_unit_id,
               c.owner_unit_id, ST_Distance(ST_Transform(c.geom, q.srid), q.mpt) AS distance_m,
               'nearest'
        FROM component c
        WHERE q.ident IS NULL AND q.kind = 'component' AND c.scheme = :scheme
          AND c.class_code = q.code AND c.status <> 'retired'
          AND c.geom && ST_Expand(q.pt, :component_m * q.dlon, :component_m * q.dlat)
    ) x WHERE x.matched_by = 'identifier' OR x.distance_m <= :component_m
    ORDER BY x.distance_m, x.id LIMIT 1
) cp ON true
-- the named component's own class, for the refusal of a report of another class
LEFT JOIN classification ck ON ck.scheme = cp.scheme AND ck.kind = 'component'
                           AND ck.code = cp.class_code
LEFT JOIN LATERAL (
    SELECT r.id, r.unit_id, r.area_code FROM dispatch_rule r
    WHERE r.scheme = :scheme AND r.class_kind = q.kind AND r.class_code = q.code
      AND r.area_code IN (g.code, left(g.code, 12), left(g.code, 9), left(g.code, 6))
    ORDER BY r.area_level DESC LIMIT 1
) r ON true
LEFT JOIN responsible_unit office
       ON office.kind = 'subdistrict_office' AND office.area_code = left(g.code, 9)
LEFT JOIN LATERAL (
    SELECT coalesce(json_agg(json_build_object(
               'id', x.id, 'status', x.status, 'reported_at', x.reported_at,
               'distance_m', round(x.distance_m::numeric, 1)) ORDER BY x.distance_m, x.id),
           '[]'::json) AS cases
    FROM (
        SELECT e.id, e.status, e.reported_at,
               ST_Distance(ST_Transform(e.geom, q.srid), q.mpt) AS distance_m
        FROM event e
        WHERE e.scheme = :scheme AND e.class_kind = q.kind
          AND e.class_code = q.code AND {is_open("e.status")}
          AND e.reported_at <= q.at AND e.reported_at >= q.at - make_interval(secs => :window_s)
          AND e.geom && ST_Expand(q.pt, :dup_m * q.dlon, :dup_m * q.dlat)
    ) x WHERE x.distance_m <= :dup_m
) dup ON true
ORDER BY q.i
"""


STATEMENT = Statement(FACTS)


async def gather_facts(
    conn: IntakeConnection,
    *,
    scheme: str,
    lon: Sequence[float],
    lat: Sequence[float],
    kind: Sequence[str],
    code: Sequence[str],
    ident: Sequence[str | None],
    at: Sequence[datetime],
    street_m: float,
    component_m: float,
    dup_m: float,
    window_s: float,
) -> list[dict]:
    """The assignment facts for each point, in input order."""
    return await conn.rows(
        STATEMENT,
        {
            "lon": list(lon),
            "lat": list(lat),
            "kind": list(kind),
            "code": list(code),
            "ident": list(ident),
            "at": list(at),
            "scheme": scheme,
            "street_m": street_m,
            "component_m": component_m,
            "dup_m": dup_m,
            "window_s": window_s,
        },
    )
