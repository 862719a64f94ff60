"""Repository: every SQL statement of the file imports (look-ups and bulk writes).

Writes stage rows with COPY into a temporary table (geometry as hex EWKB), then move them
with one ``INSERT … SELECT`` that resolves references (unit codes, grids, streets) in SQL.
Callers own the transaction: staging tables are ``ON COMMIT DROP``.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Collection

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from app.db.components.inventory import PLACE, place_params
from app.db.session import driver_cursor

SRID = 4326
CHUNK_ROWS = 50_000

# -- look-ups -------------------------------------------------------------------------------


def area_levels(conn: Connection) -> dict[str, str]:
    """Every stored area code with its level."""
    return dict(conn.execute(text("SELECT code, level FROM admin_area")).all())


def area_shapes(
    conn: Connection, level: str, codes: Collection[str] | None = None
) -> gpd.GeoDataFrame:
    """Stored areas of ``level`` (only ``codes`` when given) as a GeoDataFrame (code, geometry)."""
    sql = "SELECT code, ST_AsBinary(geom) AS wkb FROM admin_area WHERE level = :level"
    params: dict = {"level": level}
    if codes is not None:
        sql += " AND code = ANY(:codes)"
        params["codes"] = sorted(codes)
    rows = conn.execute(text(sql + " ORDER BY code"), params).all()
    return gpd.GeoDataFrame(
        {"code": [r[0] for r in rows]},
        geometry=shapely.from_wkb([bytes(r[1]) for r in rows]) if rows else [],
        crs=SRID,
    )


def unit_codes(conn: Connection) -> set[str]:
    """Codes of all responsible units."""
    return set(conn.execute(text("SELECT code FROM responsible_unit")).scalars())


def office_areas(conn: Connection) -> set[str]:
    """Sub-districts that already have their sub-district office."""
    sql = "SELECT area_code FROM responsible_unit WHERE kind = 'subdistrict_office'"
    return set(conn.execute(text(sql)).scalars())


def current_grid_codes(conn: Connection, codes: Collection[str]) -> set[str]:
    """Those of ``codes`` held by a current grid (``valid_to IS NULL``)."""
    sql = "SELECT code FROM grid WHERE valid_to IS NULL AND code = ANY(:codes)"
    return _present(conn, sql, codes)


def segment_source_ids(conn: Connection, ids: Collection[str]) -> set[str]:
    """Those of ``ids`` already stored as a street segment's ``source_id``."""
    sql = "SELECT DISTINCT source_id FROM street_segment WHERE source_id = ANY(:codes)"
    return _present(conn, sql, ids)


def component_identifiers(conn: Connection, identifiers: Collection[str]) -> set[str]:
    """Those of ``identifiers`` already stored."""
    sql = "SELECT identifier FROM component WHERE identifier = ANY(:codes)"
    return _present(conn, sql, identifiers)


def imported_keys(conn: Connection, layer: str) -> pd.DataFrame:
    """Every key imported from source ``layer``, with its component's identifier and class."""
    rows = conn.execute(
        text("""
        SELECT s.source_id, c.identifier, c.class_code
        FROM component_source s JOIN component c ON c.id = s.component_id
        WHERE s.source_layer = :layer"""),
        {"layer": layer},
    ).all()
    return pd.DataFrame(
        [tuple(r) for r in rows], columns=["key", "identifier", "class_code"]
    ).set_index("key")


def _present(conn: Connection, sql: str, values: Collection[str]) -> set[str]:
    values = sorted({v for v in values if v is not None})
    if not values:
        return set()
    return set(conn.execute(text(sql), {"codes": values}).scalars())


# -- bulk writes ----------------------------------------------------------------------------

OnRows = Callable[[int], object] | None


def write_areas(conn: Connection, frame: gpd.GeoDataFrame, on_rows: OnRows = None) -> int:
    """Insert areas; parents and children may come in the same file."""
    _stage(
        conn,
        "import_area",
        {"code": "text", "level": "text", "parent_code": "text", "name": "text", "name_en": "text"},
        frame,
        on_rows,
    )
    # The self-referencing foreign key is checked at the end of the statement, so one
    # INSERT can carry a district and its sub-districts; the order only keeps ids tidy.
    written = conn.execute(
        text("""
        INSERT INTO admin_area (code, level, parent_code, name, name_en, geom)
        SELECT code, level, parent_code, name, name_en, ST_Multi(geom)
        FROM import_area ORDER BY length(code), row_no
    """)
    ).rowcount
    _analyze(conn, "admin_area")
    return written


def write_units(conn: Connection, frame: pd.DataFrame, on_rows: OnRows = None) -> int:
    """Insert responsible units."""
    columns = ("code", "name", "name_en", "kind", "contact", "phone", "area_code")
    _stage(conn, "import_unit", dict.fromkeys(columns, "text"), frame, on_rows, geometry=False)
    return conn.execute(
        text(f"""
        INSERT INTO responsible_unit ({", ".join(columns)})
        SELECT {", ".join(columns)} FROM import_unit ORDER BY row_no
    """)
    ).rowcount


def write_grids(conn: Connection, frame: gpd.GeoDataFrame, on_rows: OnRows = None) -> int:
    """Insert grids as version 1, valid from ``valid_from`` (default now), unit codes resolved."""
    _stage(
        conn,
        "import_grid",
        {
            "code": "text",
            "community_code": "text",
            "name": "text",
            "unit_code": "text",
            "supervisor": "text",
            "valid_from": "text",
        },
        frame,
        on_rows,
    )
    written = conn.execute(
        text("""
        INSERT INTO grid (code, community_code, name, geom, unit_id, supervisor, version,
                          valid_from)
        SELECT t.code, t.community_code, t.name, ST_Multi(t.geom), u.id, t.supervisor, 1,
               COALESCE(CAST(t.valid_from AS timestamptz), now())
        FROM import_grid t LEFT JOIN responsible_unit u ON u.code = t.unit_code
        ORDER BY t.row_no
    """)
    ).rowcount
    _analyze(conn, "grid")
    return written


def write_streets(
    conn: Connection, frame: gpd.GeoDataFrame, on_rows: OnRows = None
) -> tuple[int, int, int]:
    """Create or reuse streets by (district, name), append segments: (segments, new, reused)."""
    _stage(
        conn,
        "import_street",
        {
            "street_name": "text",
            "street_name_en": "text",
            "grade": "text",
            "district_code": "text",
            "source_id": "text",
        },
        frame,
        on_rows,
    )
    # One row per street: the first segment that carries a grade/English name gives it.
    # An existing street keeps its values; only empty ones are filled.
    created = (
        conn.execute(
            text("""
        INSERT INTO street (name, name_en, grade, district_code)
        SELECT DISTINCT ON (district_code, street_name)
               street_name, street_name_en, grade, district_code
        FROM import_street
        ORDER BY district_code, street_name, grade IS NULL, street_name_en IS NULL, row_no
        ON CONFLICT (district_code, name) DO UPDATE
            SET grade = COALESCE(street.grade, EXCLUDED.grade),
                name_en = COALESCE(street.name_en, EXCLUDED.name_en)
        RETURNING xmax = 0
    """)
        )
        .scalars()
        .all()
    )
    segments = conn.execute(
        text("""
        INSERT INTO street_segment (street_id, source_id, geom)
        SELECT s.id, t.source_id, t.geom
        FROM import_street t
        JOIN street s ON s.name = t.street_name
                     AND s.district_code IS NOT DISTINCT FROM t.district_code
        ORDER BY t.row_no
    """)
    ).rowcount
    _analyze(conn, "street", "street_segment")
    return segments, sum(created), len(created) - sum(created)


# Grid and street come placed from the service (``grid_code``/``street_id`` staged) or are
# found here by components.PLACE; the source key and an 'imported' history row are written
# in the same statement. One statement per chunk of rows, so a progress bar moves.
INSERT_COMPONENTS = """
WITH inserted AS (
    INSERT INTO component (identifier, scheme, kind, class_code, geom, grid_code, street_id,
                           owner_unit_id, maintainer_unit_id, status, attributes)
    SELECT t.identifier, :scheme, 'component', t.class_code, t.geom, {place_columns},
           o.id, m.id, t.status, t.attributes
    FROM (SELECT *, ST_PointOnSurface(geom) AS pt FROM import_component
          WHERE row_no >= :lo AND row_no < :hi) t
    LEFT JOIN responsible_unit o ON o.code = t.owner_unit_code
    LEFT JOIN responsible_unit m ON m.code = t.maintainer_unit_code
    {place}
    ORDER BY t.row_no
    RETURNING id, identifier, grid_code, street_id
), keys AS (
    INSERT INTO component_source (source_layer, source_id, component_id)
    SELECT :layer, t.source_key, i.id FROM inserted i JOIN import_component t USING (identifier)
), history AS (
    INSERT INTO component_history (component_id, actor, action, note)
    SELECT id, :actor, 'imported', :note FROM inserted
)
SELECT count(*), count(grid_code), count(street_id) FROM inserted
"""
INSERT_CHUNK_ROWS = 100_000


def write_components(
    conn: Connection,
    frame: gpd.GeoDataFrame,
    scheme: str,
    on_rows: OnRows = None,
    *,
    layer: str = "",
    actor: str | None = None,
    street_m: float = 50.0,
    on_written: OnRows = None,
) -> tuple[int, int, int]:
    """Insert components: (written, with grid, with street).

    ``frame`` also holds ``source_key``, the key each row is recorded under in ``layer``,
    and, when the caller placed the components, ``grid_code`` and ``street_id``; else they
    are found in SQL (components.PLACE, the same rule).
    """
    placed = "grid_code" in frame.columns
    columns = {
        "identifier": "text",
        "class_code": "text",
        "owner_unit_code": "text",
        "maintainer_unit_code": "text",
        "status": "text",
        "attributes": "jsonb",
        "source_key": "text",
    }
    if placed:
        columns.update(grid_code="text", street_id="integer")
    _stage(conn, "import_component", columns, frame, on_rows)
    conn.execute(text("CREATE INDEX ON import_component (row_no)"))
    # Cost estimates of the per-row look-ups are large enough to trigger JIT compilation,
    # which costs more than it saves on a statement like this.
    conn.execute(text("SET LOCAL jit = off"))
    sql = INSERT_COMPONENTS.format(
        place_columns="t.grid_code, t.street_id" if placed else "g.code, st.street_id",
        place="" if placed else PLACE,
    )
    rows = np.sort(frame["_row"].to_numpy())
    params = {
        "scheme": scheme,
        "layer": layer,
        "actor": actor,
        "note": f"source {layer}",
        **({} if placed else place_params(street_m)),
    }
    totals = np.zeros(3, dtype=np.int64)
    for start in range(0, len(rows), INSERT_CHUNK_ROWS):
        part = rows[start : start + INSERT_CHUNK_ROWS]
        got = conn.execute(text(sql), {**params, "lo": int(part[0]), "hi": int(part[-1]) + 1}).one()
        totals += np.asarray(got, dtype=np.int64)
        if on_written:
            on_written(int(got[0]))
    _analyze(conn, "component")
    return int(totals[0]), int(totals[1]), int(totals[2])


def _analyze(conn: Connection, *tables: str) -> None:
    # Fresh statistics after a bulk load: without them the planner may walk the partial
    # index of current grids instead of the GiST index in the next look-up (measured: 5 ms
    # instead of 0.05 ms per component), until autovacuum gets round to the table.
    for table in tables:
        conn.execute(text(f"ANALYZE {table}"))


def _stage(
    conn: Connection,
    table: str,
    columns: dict[str, str],
    frame: pd.DataFrame,
    on_rows: OnRows,
    *,
    geometry: bool = True,
) -> None:
    """COPY ``frame``'s ``columns`` (plus ``_row`` and geometry) into a temporary table."""
    defs = ["row_no integer"] + [f"{c} {t}" for c, t in columns.items()]
    names = ["row_no", *columns]
    if geometry:
        defs.append(f"geom geometry(Geometry, {SRID})")
        names.append("geom")
    conn.execute(text(f"CREATE TEMP TABLE {table} ({', '.join(defs)}) ON COMMIT DROP"))
    data = pd.DataFrame({"row_no": frame["_row"].to_numpy()})
    for column in columns:
        data[column] = frame[column].to_numpy()
    if geometry:
        geoms = shapely.set_srid(np.asarray(frame.geometry.values, dtype=object), SRID)
        data["geom"] = shapely.to_wkb(geoms, hex=True, include_srid=True)
    cursor = driver_cursor(conn)
    copy = f"COPY {table} ({', '.join(names)}) FROM STDIN (FORMAT csv)"
    try:
        for start in range(0, len(data), CHUNK_ROWS):
            chunk = data.iloc[start : start + CHUNK_ROWS]
            buffer = io.StringIO()
            # Empty strings never reach here (validation turns them into None), so an
            # unquoted empty CSV field is always NULL.
            chunk.to_csv(buffer, header=False, index=False)
            buffer.seek(0)
            cursor.copy_expert(copy, buffer)
            if on_rows:
                on_rows(len(chunk))
    finally:
        cursor.close()
    _analyze(conn, table)
