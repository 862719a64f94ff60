"""Repository: what a bulk event import reads (grids, streets, components, rules, open cases)
and how it writes (COPY)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy import Connection, text

from app.db.session import driver_cursor
from app.db.sql import copy_out
from app.states import is_open

BBox = tuple[float, float, float, float]


def _frame(conn: Connection, sql: str, params: dict) -> gpd.GeoDataFrame:
    result = conn.execute(text(sql), params)
    frame = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    if frame.empty:
        return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=4326), crs=4326)
    return gpd.GeoDataFrame(
        frame.drop(columns="wkb"),
        geometry=gpd.GeoSeries.from_wkb(frame["wkb"].map(bytes)),
        crs=4326,
    )


def _copied_frame(conn: Connection, sql: str, params: dict, dtype: dict) -> gpd.GeoDataFrame:
    """Like :func:`_frame`, read through COPY … TO STDOUT and pandas' C CSV reader: several
    times faster for the hundreds of thousands of candidate components a city-wide file
    needs. ``dtype`` names every column but ``wkb`` (hex)."""
    buffer = copy_out(conn, sql, params, "WITH (FORMAT csv, HEADER)")
    frame = pd.read_csv(
        buffer,
        dtype={**dtype, "wkb": str},
        keep_default_na=False,
        na_values={k: [""] for k in dtype},
    )
    geoms = shapely.from_wkb(frame.pop("wkb").str.slice(2).to_numpy()) if len(frame) else []
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def grid_versions(conn: Connection, start: datetime, end: datetime) -> gpd.GeoDataFrame:
    """Grid versions valid at some moment in [start, end]."""
    return _frame(
        conn,
        """
        SELECT id, code, version, unit_id, community_code, valid_from, valid_to,
               ST_AsBinary(geom) AS wkb
        FROM grid WHERE valid_from <= :end AND (valid_to IS NULL OR valid_to > :start)
        ORDER BY code, valid_from""",
        {"start": start, "end": end},
    )


def street_segments(conn: Connection, bbox: BBox) -> gpd.GeoDataFrame:
    return _copied_frame(
        conn,
        """
        SELECT s.id AS segment_id, s.street_id, n.name AS street_name, n.grade AS street_grade,
               ST_AsBinary(s.geom) AS wkb
        FROM street_segment s JOIN street n ON n.id = s.street_id
        WHERE s.geom && ST_MakeEnvelope(:x1, :y1, :x2, :y2, 4326)""",
        _box(bbox),
        {"segment_id": "int64", "street_id": "int64", "street_name": str, "street_grade": str},
    )


def components(
    conn: Connection,
    scheme: str,
    class_codes: Sequence[str],
    bbox: BBox,
    identifiers: Sequence[str],
) -> gpd.GeoDataFrame:
    """Candidate components: of the classes reported in the bbox, plus those named by id
    (of any class or scheme: the caller refuses a report naming one of another class)."""
    return _copied_frame(
        conn,
        """
        SELECT id, identifier, scheme, class_code, status, maintainer_unit_id, owner_unit_id,
               ST_AsBinary(geom) AS wkb
        FROM component
        WHERE (scheme = :scheme AND class_code = ANY(:codes) AND status <> 'retired'
               AND geom && ST_MakeEnvelope(:x1, :y1, :x2, :y2, 4326))
           OR identifier = ANY(:idents)""",
        {"scheme": scheme, "codes": list(class_codes), "idents": list(identifiers), **_box(bbox)},
        {
            "id": "int64",
            "identifier": str,
            "scheme": str,
            "class_code": str,
            "status": str,
            "maintainer_unit_id": "Int64",
            "owner_unit_id": "Int64",
        },
    )


def open_cases(
    conn: Connection,
    scheme: str,
    class_keys: Iterable[tuple[str, str]],
    start: datetime,
    end: datetime,
    bbox: BBox,
) -> pd.DataFrame:
    """Open cases of the given classes reported in [start, end] inside the bbox."""
    keys = list(class_keys)
    rows = (
        conn.execute(
            text(f"""
        SELECT e.id, e.class_kind, e.class_code, e.status, e.reported_at,
               ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat
        FROM event e JOIN unnest(CAST(:kinds AS text[]), CAST(:codes AS text[])) k(kind, code)
             ON e.class_kind = k.kind AND e.class_code = k.code
        WHERE e.scheme = :scheme AND {is_open("e.status")}
          AND e.reported_at BETWEEN :start AND :end
          AND e.geom && ST_MakeEnvelope(:x1, :y1, :x2, :y2, 4326)"""),
            {
                "scheme": scheme,
                "kinds": [k for k, _ in keys],
                "codes": [c for _, c in keys],
                "start": start,
                "end": end,
                **_box(bbox),
            },
        )
        .mappings()
        .all()
    )
    return pd.DataFrame(
        [dict(r) for r in rows],
        columns=["id", "class_kind", "class_code", "status", "reported_at", "lon", "lat"],
    )


def rules(conn: Connection, scheme: str) -> pd.DataFrame:
    rows = (
        conn.execute(
            text(
                "SELECT id, class_kind, class_code, area_code, unit_id "
                "FROM dispatch_rule WHERE scheme = :s"
            ),
            {"s": scheme},
        )
        .mappings()
        .all()
    )
    return pd.DataFrame(
        [dict(r) for r in rows], columns=["id", "class_kind", "class_code", "area_code", "unit_id"]
    )


def offices(conn: Connection) -> dict[str, int]:
    """Sub-district code → its office's unit id (属地兜底)."""
    rows = conn.execute(
        text("SELECT area_code, id FROM responsible_unit WHERE kind = 'subdistrict_office'")
    ).all()
    return {a: i for a, i in rows}


def area_names(conn: Connection) -> dict[str, str]:
    return dict(conn.execute(text("SELECT code, name FROM admin_area")).all())


def all_units(conn: Connection) -> dict[int, dict]:
    rows = conn.execute(
        text("SELECT id, code, name, name_en, kind FROM responsible_unit")
    ).mappings()
    return {r["id"]: dict(r) for r in rows}


def existing_keys(conn: Connection, keys: Sequence[str]) -> set[tuple[str, str | None]]:
    """The (idempotency key, reported_by) pairs already stored among ``keys``: a key is taken
    per reporter (migration 0016)."""
    if not keys:
        return set()
    rows = conn.execute(
        text("SELECT idempotency_key, reported_by FROM event WHERE idempotency_key = ANY(:k)"),
        {"k": list(keys)},
    )
    return {(r[0], r[1]) for r in rows}


def reserve_event_ids(conn: Connection, n: int) -> list[int]:
    """Take ``n`` ids from the event sequence, so rows can name each other (duplicates)."""
    rows = conn.execute(
        text("SELECT nextval(pg_get_serial_sequence('event', 'id')) FROM generate_series(1, :n)"),
        {"n": n},
    )
    return [r[0] for r in rows]


EVENT_COPY_COLUMNS = (
    "id",
    "scheme",
    "class_kind",
    "class_code",
    "geom",
    "location_text",
    "description",
    "source",
    "reporter",
    "photo_urls",
    "idempotency_key",
    "observed_at",
    "reported_at",
    "grid_id",
    "grid_code",
    "community_code",
    "subdistrict_code",
    "district_code",
    "street_id",
    "street_distance_m",
    "component_id",
    "component_distance_m",
    "unit_id",
    "assignment",
    "deadline_at",
    "status",
    # An administrator's import: who reported is what the file says (no account to check).
    "reported_by",
)


def csv_buffer(rows: Iterable[Sequence]) -> io.StringIO:
    """Rows as CSV for COPY (None and NaN → ``\\N``), rewound."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # pandas 3 stores a text column's missing cells as NaN (its str dtype), which csv would
    # write as the text 'nan': a reporter or description that was never given.
    writer.writerows(["\\N" if v is None or v != v else v for v in row] for row in rows)
    buffer.seek(0)
    return buffer


def copy_csv(conn: Connection, table: str, columns: Sequence[str], buffer: io.StringIO) -> int:
    """COPY a :func:`csv_buffer` into ``table``; returns the number of rows written."""
    cursor = driver_cursor(conn)
    cursor.copy_expert(
        f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv, NULL '\\N')", buffer
    )
    return cursor.rowcount


def analyze(conn: Connection) -> None:
    """Refresh the planner statistics of the tables a bulk import grows."""
    conn.execute(text("ANALYZE event, case_log"))


def _box(bbox: BBox) -> dict:
    return {"x1": bbox[0], "y1": bbox[1], "x2": bbox[2], "y2": bbox[3]}
