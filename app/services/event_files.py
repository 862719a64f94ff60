"""Read event files (CSV, GeoJSON, NDJSON) into one table shape: ``row``, ``lon``, ``lat`` and
the event fields as text. Whole-file problems raise ImportRejected; row problems are returned.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from app.errors import ImportRejected, RowProblem
from gis.io import SourceError, read_table

FIELDS = (
    "class_code",
    "class_kind",
    "source",
    "reporter",
    "observed_at",
    "reported_at",
    "location_text",
    "description",
    "idempotency_key",
    "component_identifier",
    "photo_urls",
)
LON_NAMES = ("lon", "longitude", "lng", "x", "long")
LAT_NAMES = ("lat", "latitude", "y")
NDJSON_SUFFIXES = (".ndjson", ".jsonl", ".ndjson.gz", ".jsonl.gz")


def read_events(
    path: Path, columns: dict[str, str], lon_column: str | None, lat_column: str | None
) -> tuple[pd.DataFrame, list[RowProblem]]:
    """The events in ``path`` with 1-based ``row`` numbers, and the row problems found."""
    try:
        if path.name.lower().endswith(NDJSON_SUFFIXES):
            frame, problems = _read_ndjson(path)
        else:
            frame, problems = read_table(path), []
    except SourceError as exc:
        raise ImportRejected(problems=[RowProblem(None, str(exc))], source=path.name) from None
    frame = frame.rename(columns={src: dst for dst, src in columns.items()})
    if isinstance(frame, gpd.GeoDataFrame) and frame.geometry.name in frame:
        frame, more = _points_from_geometry(frame)
    else:
        frame, more = _points_from_columns(frame, lon_column, lat_column, path.name)
    frame.insert(0, "row", np.arange(1, len(frame) + 1))
    if "class_code" not in frame:
        raise ImportRejected(
            problems=[
                RowProblem(
                    None,
                    "required column class_code is missing; "
                    f"columns present: {', '.join(map(str, frame.columns))}",
                )
            ],
            source=path.name,
        )
    if frame.empty:
        raise ImportRejected(
            problems=[RowProblem(None, "the file holds no events")], source=path.name
        )
    return frame, problems + more


def _read_ndjson(path: Path) -> tuple[pd.DataFrame, list[RowProblem]]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    records, problems = [], []
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                problems.append(RowProblem(len(records) + 1, f"line {n} is not valid JSON: {exc}"))
                obj = {}
            if obj.get("type") == "Feature":
                geometry = obj.get("geometry") or {}
                coords = geometry.get("coordinates") if geometry.get("type") == "Point" else None
                obj = {
                    **(obj.get("properties") or {}),
                    "lon": coords[0] if coords else None,
                    "lat": coords[1] if coords else None,
                }
            records.append(obj)
    return pd.DataFrame.from_records(records), problems


def _points_from_geometry(frame: gpd.GeoDataFrame) -> tuple[pd.DataFrame, list[RowProblem]]:
    if frame.crs is not None and not frame.crs.equals("EPSG:4326"):
        frame = frame.to_crs(4326)
    geoms = frame.geometry.to_numpy()
    is_point = shapely.get_type_id(geoms) == 0
    problems = [
        RowProblem(i + 1, "geometry must be a Point", "geometry") for i in np.flatnonzero(~is_point)
    ]
    lon = np.where(is_point, shapely.get_x(np.where(is_point, geoms, shapely.Point(0, 0))), np.nan)
    lat = np.where(is_point, shapely.get_y(np.where(is_point, geoms, shapely.Point(0, 0))), np.nan)
    out = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    out["lon"], out["lat"] = lon, lat
    return out, problems


def _points_from_columns(
    frame: pd.DataFrame, lon_column: str | None, lat_column: str | None, source: str
) -> tuple[pd.DataFrame, list[RowProblem]]:
    lower = {str(c).lower(): c for c in frame.columns}
    lon_col = lon_column or next((lower[n] for n in LON_NAMES if n in lower), None)
    lat_col = lat_column or next((lower[n] for n in LAT_NAMES if n in lower), None)
    if lon_col not in frame or lat_col not in frame:
        raise ImportRejected(
            problems=[
                RowProblem(
                    None,
                    "no longitude/latitude columns found (lon/lat, longitude/latitude, x/y; "
                    f"or name them with --lon/--lat); columns present: {', '.join(map(str, frame.columns))}",
                )
            ],
            source=source,
        )
    out = frame.rename(columns={lon_col: "lon", lat_col: "lat"})
    return out, []
