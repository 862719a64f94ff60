"""Repository: the component inventory (部件) — placement, identifiers, writes, history, summaries.

Geometry goes in and out as WKB/GeoJSON here; services see shapely geometries and dicts.
Bulk census writes live in :mod:`app.db.catalog.imports` and share :data:`PLACE` with this module, so
a component placed by the API and one placed by an import get the same grid and street.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator

from sqlalchemy import Connection, text

# The grid in force covering the component's point on surface (smallest code on shared
# boundaries) and the nearest street segment within :street_m metres of that point, measured
# in its UTM zone (citygrid_utm_srid), nearest first, then the smallest segment id: the rule
# of event assignment, and of the bulk path (app.services.components.inventory.place), which computes
# the same in Python. Needs ``t.pt`` (the point on surface) and :street_m. The && box (the
# radius in degrees with a 50 % margin) only lets the GiST index prefilter.
PLACE = """
CROSS JOIN LATERAL (
    SELECT ST_Transform(t.pt, citygrid_utm_srid(ST_X(t.pt), ST_Y(t.pt))) AS mpt,
           ST_Expand(t.pt, :street_m * 1.5 / (111320.0 * greatest(cos(radians(ST_Y(t.pt))), 0.01)),
                     :street_m * 1.5 / 110574.0) AS box
) z
LEFT JOIN LATERAL (
    SELECT grid.code FROM grid
    WHERE ST_Covers(grid.geom, t.pt) AND grid.valid_from <= now()
      AND (grid.valid_to IS NULL OR grid.valid_to > now())
    ORDER BY grid.code LIMIT 1
) g ON true
LEFT JOIN LATERAL (
    SELECT x.street_id FROM (
        SELECT s.id, s.street_id, ST_Distance(ST_Transform(s.geom, ST_SRID(z.mpt)), z.mpt) AS d
        FROM street_segment s WHERE s.geom && z.box
    ) x WHERE x.d <= :street_m
    ORDER BY x.d, x.id LIMIT 1
) st ON true
"""


def place_params(street_m: float) -> dict[str, float]:
    """Bound parameters of :data:`PLACE`."""
    return {"street_m": street_m}


def grids_in_force(conn: Connection, bbox: tuple[float, float, float, float]):
    """Codes and WKB of the grids in force now that meet ``bbox``."""
    return conn.execute(
        text("""
        SELECT code, ST_AsBinary(geom) FROM grid
        WHERE valid_from <= now() AND (valid_to IS NULL OR valid_to > now())
          AND geom && ST_MakeEnvelope(:x1, :y1, :x2, :y2, 4326)"""),
        _box(bbox),
    ).all()


def segments_near(conn: Connection, bbox: tuple[float, float, float, float]):
    """Id, street id and WKB of the street segments that meet ``bbox``."""
    return conn.execute(
        text("""
        SELECT id, street_id, ST_AsBinary(geom) FROM street_segment
        WHERE geom && ST_MakeEnvelope(:x1, :y1, :x2, :y2, 4326)"""),
        _box(bbox),
    ).all()


def _box(bbox: tuple[float, float, float, float]) -> dict[str, float]:
    return dict(zip(("x1", "y1", "x2", "y2"), map(float, bbox), strict=True))


# -- identifiers ----------------------------------------------------------------------------


def reserve_sequences(
    conn: Connection, scheme: str, pairs: Collection[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    """Lock the sequence rows of (admin code, class) ``pairs``; their last issued sequences.

    Rows are created at 0 when new and locked in key order until the transaction ends, so
    concurrent imports and API calls for the same pair wait instead of issuing twice.
    """
    if not pairs:
        return {}
    admins, classes = (list(x) for x in zip(*sorted(pairs), strict=True))
    params = {"scheme": scheme, "a": admins, "c": classes}
    conn.execute(
        text("""
        INSERT INTO component_sequence (scheme, admin_code, class_code, last_sequence)
        SELECT :scheme, a, c, 0 FROM unnest(CAST(:a AS text[]), CAST(:c AS text[])) AS k(a, c)
        ON CONFLICT DO NOTHING"""),
        params,
    )
    rows = conn.execute(
        text("""
        SELECT s.admin_code, s.class_code, s.last_sequence FROM component_sequence s
        JOIN unnest(CAST(:a AS text[]), CAST(:c AS text[])) AS k(a, c)
          ON s.admin_code = k.a AND s.class_code = k.c
        WHERE s.scheme = :scheme ORDER BY 1, 2 FOR UPDATE OF s"""),
        params,
    )
    return {(a, c): int(n) for a, c, n in rows}


def next_sequence(conn: Connection, scheme: str, admin_code: str, class_code: str) -> int:
    """Issue the next sequence of (admin code, class), atomically."""
    return int(
        conn.execute(
            text("""
        INSERT INTO component_sequence AS s (scheme, admin_code, class_code, last_sequence)
        VALUES (:scheme, :a, :c, 1)
        ON CONFLICT (scheme, admin_code, class_code)
        DO UPDATE SET last_sequence = s.last_sequence + 1
        RETURNING last_sequence"""),
            {"scheme": scheme, "a": admin_code, "c": class_code},
        ).scalar_one()
    )


def district_at(conn: Connection, wkb: bytes) -> str | None:
    """The district (6-digit area) holding the geometry's point on surface; smallest code."""
    return conn.execute(
        text("""
        SELECT code FROM admin_area WHERE level = 'district'
          AND ST_Covers(geom, ST_PointOnSurface(ST_GeomFromWKB(:g, 4326)))
        ORDER BY code LIMIT 1"""),
        {"g": wkb},
    ).scalar()


def area_exists(conn: Connection, code: str) -> bool:
    """Whether an admin area with this code is stored."""
    return (
        conn.execute(text("SELECT 1 FROM admin_area WHERE code = :c"), {"c": code}).first()
        is not None
    )


def unit_ids(conn: Connection, codes: Collection[str]) -> dict[str, int]:
    """Ids of the responsible units with these codes (absent codes are missing)."""
    rows = conn.execute(
        text("SELECT code, id FROM responsible_unit WHERE code = ANY(:c)"), {"c": sorted(codes)}
    )
    return dict(rows.all())


def identifier_exists(conn: Connection, identifier: str) -> bool:
    """Whether a component with this identifier is stored (retired ones too)."""
    return (
        conn.execute(
            text("SELECT 1 FROM component WHERE identifier = :i"), {"i": identifier}
        ).first()
        is not None
    )


def event_exists(conn: Connection, event_id: int) -> bool:
    """Whether the case exists."""
    return (
        conn.execute(text("SELECT 1 FROM event WHERE id = :e"), {"e": event_id}).first() is not None
    )


def source_component(conn: Connection, layer: str, source_id: str) -> str | None:
    """The identifier of the component created from (layer, source id), if any."""
    return conn.execute(
        text("""
        SELECT c.identifier FROM component_source s JOIN component c ON c.id = s.component_id
        WHERE s.source_layer = :l AND s.source_id = :s"""),
        {"l": layer, "s": source_id},
    ).scalar()


# -- single writes --------------------------------------------------------------------------

INSERT_ONE = f"""
INSERT INTO component (identifier, scheme, kind, class_code, geom, grid_code, street_id,
                       owner_unit_id, maintainer_unit_id, status, attributes)
SELECT :identifier, :scheme, 'component', :class_code, t.geom, g.code, st.street_id,
       :owner_unit_id, :maintainer_unit_id, :status, CAST(:attributes AS jsonb)
FROM (SELECT ST_GeomFromWKB(:geom, 4326) AS geom) g0
CROSS JOIN LATERAL (SELECT g0.geom, ST_PointOnSurface(g0.geom) AS pt) t
{PLACE}
RETURNING id
"""


def insert_component(conn: Connection, values: dict, street_m: float) -> int:
    """Insert one component (grid and street found like an import's); returns its id."""
    return int(conn.execute(text(INSERT_ONE), {**values, **place_params(street_m)}).scalar_one())


def add_source(conn: Connection, component_id: int, layer: str, source_id: str) -> None:
    """Record the source key a component was created from."""
    conn.execute(
        text(
            "INSERT INTO component_source (source_layer, source_id, component_id) "
            "VALUES (:l, :s, :c)"
        ),
        {"l": layer, "s": source_id, "c": component_id},
    )


def lock_component(conn: Connection, identifier: str) -> dict | None:
    """The stored row of one component (units as codes, geometry as WKB), locked for update."""
    row = (
        conn.execute(
            text("""
        SELECT c.id, c.identifier, c.scheme, c.class_code, c.status, c.grid_code, c.street_id,
               c.attributes, ST_AsBinary(c.geom) AS wkb, ou.code AS owner_unit_code,
               mu.code AS maintainer_unit_code
        FROM component c
        LEFT JOIN responsible_unit ou ON ou.id = c.owner_unit_id
        LEFT JOIN responsible_unit mu ON mu.id = c.maintainer_unit_id
        WHERE c.identifier = :i FOR UPDATE OF c"""),
            {"i": identifier},
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def lock_component_of_event(conn: Connection, event_id: int) -> tuple[bool, dict | None]:
    """(whether the event exists, its component locked for update or None)."""
    found = conn.execute(
        text("SELECT component_id FROM event WHERE id = :e"), {"e": event_id}
    ).first()
    if found is None or found[0] is None:
        return found is not None, None
    ident = conn.execute(
        text("SELECT identifier FROM component WHERE id = :c"), {"c": found[0]}
    ).scalar_one()
    return True, lock_component(conn, ident)


def update_component(conn: Connection, component_id: int, values: dict, street_m: float) -> None:
    """Set ``values`` (status, unit ids, attributes, geom as WKB); a new geom is placed again."""
    sets = [f"{k} = :{k}" for k in values if k in ("status", "owner_unit_id", "maintainer_unit_id")]
    if "attributes" in values:
        sets.append("attributes = CAST(:attributes AS jsonb)")
    params = {**values, "id": component_id}
    if "geom" in values:
        # the new position gets its grid and street the way an insert does
        sets += ["geom = t.geom", "grid_code = g.code", "street_id = st.street_id"]
        params.update(place_params(street_m))
        conn.execute(
            text(f"""
            UPDATE component c SET {", ".join(sets)}, updated_at = now()
            FROM (SELECT ST_GeomFromWKB(:geom, 4326) AS geom) g0
            CROSS JOIN LATERAL (SELECT g0.geom, ST_PointOnSurface(g0.geom) AS pt) t
            {PLACE}
            WHERE c.id = :id"""),
            params,
        )
        return
    conn.execute(
        text(f"UPDATE component SET {', '.join(sets)}, updated_at = now() WHERE id = :id"), params
    )


REGRID = """
WITH found AS (
    SELECT c.id, c.grid_code AS old, g.code AS new
    FROM component c
    CROSS JOIN LATERAL (SELECT ST_PointOnSurface(c.geom) AS pt) t
    LEFT JOIN LATERAL (
        SELECT grid.code FROM grid
        WHERE ST_Covers(grid.geom, t.pt) AND grid.valid_from <= now()
          AND (grid.valid_to IS NULL OR grid.valid_to > now())
        ORDER BY grid.code LIMIT 1
    ) g ON true
    WHERE c.status <> 'retired'
      AND (left(c.grid_code, 12) = ANY(:communities)
           OR EXISTS (SELECT 1 FROM admin_area a WHERE a.code = ANY(:communities)
                      AND a.geom && c.geom AND ST_Covers(a.geom, t.pt)))
), changed AS (
    UPDATE component c SET grid_code = f.new, updated_at = now() FROM found f
    WHERE c.id = f.id AND f.new IS DISTINCT FROM f.old
    RETURNING c.id, f.old, f.new
), logged AS (
    INSERT INTO component_history (component_id, actor, action, field, old_value, new_value,
                                   note)
    SELECT id, :actor, 'updated', 'grid_code', old, new, :note FROM changed
)
SELECT count(*) FROM changed
"""


def regrid(
    conn: Connection, communities: Collection[str], actor: str | None, note: str | None
) -> int:
    """Give the components in or of ``communities`` the grid now in force; how many moved."""
    return int(
        conn.execute(
            text(REGRID), {"communities": sorted(communities), "actor": actor, "note": note}
        ).scalar_one()
    )


def add_history(conn: Connection, rows: list[dict]) -> None:
    """Append history rows (component_id, actor, action, field, old_value, new_value, …)."""
    if rows:
        conn.execute(
            text("""
            INSERT INTO component_history (component_id, actor, action, field, old_value,
                                           new_value, event_id, note)
            VALUES (:component_id, :actor, :action, :field, :old_value, :new_value,
                    :event_id, :note)"""),
            rows,
        )


# -- reads ----------------------------------------------------------------------------------

ROW_SELECT = """
SELECT c.id, c.identifier, c.scheme, c.class_code, k.name AS class_name,
       k.name_en AS class_name_en, left(c.identifier, 6) AS district_code,
       left(c.grid_code, 12) AS community_code, c.grid_code, c.street_id,
       s.name AS street_name, c.status, ou.code AS owner_unit_code,
       mu.code AS maintainer_unit_code, c.attributes, c.created_at, c.updated_at
"""
ROW_FROM = """
FROM component c
JOIN classification k ON k.scheme = c.scheme AND k.kind = c.kind AND k.code = c.class_code
LEFT JOIN street s ON s.id = c.street_id
LEFT JOIN responsible_unit ou ON ou.id = c.owner_unit_id
LEFT JOIN responsible_unit mu ON mu.id = c.maintainer_unit_id
"""
GEOJSON = ", ST_AsGeoJSON(c.geom, 7)::json AS geometry"
# CSV: one row per component, in the order of CSV_COLUMNS; a point for every component (the
# point on surface) plus WKT for lines and polygons; attributes as JSON text.
CSV_COLUMNS = (
    "identifier",
    "class_code",
    "class_name",
    "class_name_en",
    "status",
    "district_code",
    "community_code",
    "grid_code",
    "street_id",
    "street_name",
    "owner_unit_code",
    "maintainer_unit_code",
    "lon",
    "lat",
    "wkt",
    "attributes",
    "created_at",
    "updated_at",
)
CSV_SELECT = """
SELECT c.identifier, c.class_code, k.name, k.name_en, c.status, left(c.identifier, 6),
       left(c.grid_code, 12), c.grid_code, c.street_id, s.name, ou.code, mu.code,
       round(ST_X(p.pt)::numeric, 7), round(ST_Y(p.pt)::numeric, 7),
       CASE WHEN GeometryType(c.geom) <> 'POINT' THEN ST_AsText(c.geom, 7) END,
       c.attributes::text, c.created_at, c.updated_at
"""


def _where(filters: dict, params: dict) -> str:
    """SQL conditions for the list filters (bbox, grid, community, street, class, status, units)."""
    conds = []
    if filters.get("bbox"):
        x1, y1, x2, y2 = filters["bbox"]
        params.update(x1=x1, y1=y1, x2=x2, y2=y2)
        conds.append("c.geom && ST_MakeEnvelope(:x1, :y1, :x2, :y2, 4326)")
    simple = {
        "grid": "c.grid_code = :grid",
        "street": "c.street_id = :street",
        "class_code": "c.class_code = :class_code",
        "status": "c.status = :status",
        "owner": "ou.code = :owner",
        "maintainer": "mu.code = :maintainer",
        "scheme": "c.scheme = :scheme",
    }
    for key, cond in simple.items():
        if filters.get(key) is not None:
            params[key] = filters[key]
            conds.append(cond)
    if filters.get("community"):
        # a code range (':' sorts right after '9') is a prefix match the btree index can use
        params["community"] = filters["community"]
        conds.append("c.grid_code >= :community AND c.grid_code < :community || ':'")
    if filters.get("active_only"):
        conds.append("c.status <> 'retired'")
    return (" WHERE " + " AND ".join(conds)) if conds else ""


def list_components(
    conn: Connection, filters: dict, limit: int, offset: int
) -> tuple[list[dict], int]:
    """One page of components (GeoJSON geometry) in identifier order, and the match count."""
    params: dict = {"limit": limit, "offset": offset}
    where = _where(filters, params)
    rows = conn.execute(
        text(
            ROW_SELECT
            + GEOJSON
            + ROW_FROM
            + where
            + " ORDER BY c.identifier LIMIT :limit OFFSET :offset"
        ),
        params,
    )
    out = [dict(r) for r in rows.mappings()]
    matched = conn.execute(text("SELECT count(*)" + ROW_FROM + where), params).scalar_one()
    return out, int(matched)


def stream_components(
    conn: Connection, filters: dict, limit: int | None, offset: int, batch: int = 10_000
) -> Iterator[list[tuple]]:
    """Components as CSV_COLUMNS tuples in identifier order, in batches, server-side."""
    params: dict = {"limit": limit, "offset": offset}
    sql = (
        CSV_SELECT
        + ROW_FROM
        + " CROSS JOIN LATERAL (SELECT ST_PointOnSurface(c.geom) AS pt) p"
        + _where(filters, params)
        + " ORDER BY c.identifier LIMIT :limit OFFSET :offset"
    )
    result = conn.execution_options(stream_results=True, max_row_buffer=batch).execute(
        text(sql), params
    )
    for part in result.partitions(batch):
        yield [tuple(r) for r in part]


def get_component(conn: Connection, identifier: str) -> dict | None:
    """One component with names and GeoJSON geometry, or None."""
    row = (
        conn.execute(
            text(ROW_SELECT + GEOJSON + ROW_FROM + " WHERE c.identifier = :i"), {"i": identifier}
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def component_id(conn: Connection, identifier: str) -> int | None:
    """The internal id of a component, or None."""
    return conn.execute(
        text("SELECT id FROM component WHERE identifier = :i"), {"i": identifier}
    ).scalar()


def history(conn: Connection, component_id: int) -> list[dict]:
    """A component's history, oldest first."""
    rows = conn.execute(
        text("""
        SELECT h.id, h.at, h.actor, h.action, h.field, h.old_value, h.new_value, h.event_id,
               h.note
        FROM component_history h WHERE h.component_id = :c ORDER BY h.at, h.id"""),
        {"c": component_id},
    )
    return [dict(r) for r in rows.mappings()]


def sources(conn: Connection, component_id: int) -> list[dict]:
    """The source keys of one component."""
    rows = conn.execute(
        text(
            "SELECT source_layer, source_id, imported_at FROM component_source "
            "WHERE component_id = :c ORDER BY imported_at, source_layer"
        ),
        {"c": component_id},
    )
    return [dict(r) for r in rows.mappings()]


def cases(conn: Connection, component_id: int, limit: int, offset: int) -> tuple[list[dict], int]:
    """Cases (events) about one component, newest first, and how many there are."""
    rows = conn.execute(
        text("""
        SELECT e.id, e.status, e.class_kind, e.class_code, k.name AS class_name, e.source,
               e.reported_at, e.closed_at, e.grid_code, e.location_text, e.description,
               u.code AS unit_code
        FROM event e
        JOIN classification k ON k.scheme = e.scheme AND k.kind = e.class_kind
                             AND k.code = e.class_code
        LEFT JOIN responsible_unit u ON u.id = e.unit_id
        WHERE e.component_id = :c ORDER BY e.reported_at DESC, e.id DESC
        LIMIT :limit OFFSET :offset"""),
        {"c": component_id, "limit": limit, "offset": offset},
    )
    out = [dict(r) for r in rows.mappings()]
    total = conn.execute(
        text("SELECT count(*) FROM event WHERE component_id = :c"), {"c": component_id}
    ).scalar_one()
    return out, int(total)


# Group keys of the summary, and the names of the groups by key. Names are joined in Python:
# the planner misjudges the grouped rows and probed the grid table once per (grid, class)
# group, a minute for 590,000 groups.
AREA_NAMES = "SELECT code, name FROM admin_area"
SUMMARY_GROUPS = {
    "grid": ("c.grid_code", "SELECT code, name FROM grid WHERE valid_to IS NULL"),
    "community": ("left(c.grid_code, 12)", AREA_NAMES),
    "subdistrict": ("left(c.grid_code, 9)", AREA_NAMES),
    "district": ("left(c.identifier, 6)", AREA_NAMES),
    "street": ("c.street_id::text", "SELECT id::text, name FROM street"),
}
STATUS_COUNTS = ("in_service", "damaged", "missing", "occupied", "retired")


def summary(conn: Connection, by: str, filters: dict) -> list[dict]:
    """Component counts per (group, class) with a count per status; ``total`` leaves out the
    retired. Groups in key order (no grid / street last), classes in code order."""
    key, names_sql = SUMMARY_GROUPS[by]
    params: dict = {}
    where = _where(filters, params)
    units = ""
    if "ou." in where or "mu." in where:
        units = (
            "LEFT JOIN responsible_unit ou ON ou.id = c.owner_unit_id "
            "LEFT JOIN responsible_unit mu ON mu.id = c.maintainer_unit_id"
        )
    per_status = ", ".join(f"count(*) FILTER (WHERE c.status = '{s}')" for s in STATUS_COUNTS)
    counts = conn.execute(
        text(f"""
        SELECT {key} AS key, c.scheme, c.class_code,
               count(*) FILTER (WHERE c.status <> 'retired'), {per_status}
        FROM component c {units}{where}
        GROUP BY 1, 2, 3 ORDER BY 1 NULLS LAST, 3"""),
        params,
    ).all()
    names: dict[str, str | None] = dict(conn.execute(text(names_sql)).all())
    classes = {
        (r[0], r[1]): (r[2], r[3])
        for r in conn.execute(
            text("SELECT scheme, code, name, name_en FROM classification WHERE kind = 'component'")
        )
    }
    return [
        {
            "key": k,
            "name": names.get(k),
            "class_code": code,
            "class_name": classes[(scheme, code)][0],
            "class_name_en": classes[(scheme, code)][1],
            "total": total,
            **dict(zip(STATUS_COUNTS, rest, strict=True)),
        }
        for k, scheme, code, total, *rest in counts
    ]
