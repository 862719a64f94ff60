"""Read event files (CSV, GeoJSON, NDJSON) into one table shape: ``row``, ``lon``, ``lat`` and
the event fields as text, and check their rows (:func:`check_rows`). Whole-file problems raise
ImportRejected; row problems are returned.
"""

from __future__ import annotations

import gzip
import json
from datetime import datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection

from app.db.catalog import classes as class_repo
from app.db.models import EVENT_SOURCES
from app.errors import ImportRejected, RowProblem
from app.settings import Settings
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
    records: list[dict] = []
    problems: list[RowProblem] = []
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
        RowProblem(int(i) + 1, "geometry must be a Point", "geometry")
        for i in np.flatnonzero(~is_point)
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


# -- row checks -----------------------------------------------------------------------------

SOURCE_ALIASES = {
    "12345": "hotline",
    "热线": "hotline",
    "监督员": "supervisor",
    "巡查": "supervisor",
    "公众": "public_app",
    "app": "public_app",
    "视频": "video",
    "上级": "higher_order",
}
PREFIX_KIND = {"BJ": "component", "SJ": "event"}


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame:
        return pd.Series([None] * len(frame), index=frame.index, dtype=object)
    values = frame[column].astype(object).where(frame[column].notna(), None)
    return values.map(lambda v: None if v is None or str(v).strip() == "" else str(v).strip())


AWARE = r"(?:Z|[+-]\d{2}:?\d{2})$"


def _times(values: pd.Series, tz: str) -> tuple[pd.Series, np.ndarray]:
    """Parse ISO-ish timestamps; naive ones are local time in ``tz``. Returns (UTC, bad)."""
    times = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    given = values.notna().to_numpy()
    text = values.astype("string").str.strip()
    aware = text.str.contains(AWARE, regex=True).fillna(False).to_numpy(dtype=bool)
    # Vectorised ISO 8601 first (millions of rows); whatever it cannot read goes through
    # pd.Timestamp one by one, which also accepts the looser forms.
    if (given & aware).any():
        times[given & aware] = pd.to_datetime(
            text[given & aware], format="ISO8601", utc=True, errors="coerce"
        )
    naive = given & ~aware
    if naive.any():
        local = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
        if getattr(local.dt, "tz", None) is None:
            times[naive] = local.dt.tz_localize(
                tz, ambiguous="NaT", nonexistent="NaT"
            ).dt.tz_convert("UTC")
    bad = np.zeros(len(values), dtype=bool)
    for i in np.flatnonzero(given & times.isna().to_numpy()):
        try:
            ts = pd.Timestamp(values.iloc[i])
        except (ValueError, TypeError):
            bad[i] = True
            continue
        if pd.isna(ts):
            bad[i] = True
            continue
        times.iloc[i] = (ts.tz_localize(tz) if ts.tzinfo is None else ts).tz_convert("UTC")
    return times.dt.as_unit("ns"), bad


def check_rows(
    conn: Connection, settings: Settings, frame: pd.DataFrame, now: datetime
) -> tuple[pd.DataFrame, list[RowProblem], dict]:
    """Clean rows (kind and code split, sources mapped, times in UTC), the problems found
    (row, reason, column), and the class rows the file names."""
    problems: list[RowProblem] = []
    row = frame["row"].to_numpy()

    def flag(mask: np.ndarray, reason, column: str) -> None:
        for i in np.flatnonzero(mask):
            problems.append(
                RowProblem(int(row[i]), reason(i) if callable(reason) else reason, column)
            )

    code = _text(frame, "class_code").str.upper()
    kind = _text(frame, "class_kind").str.lower()
    prefix = code.str[:2]
    prefixed = prefix.isin(PREFIX_KIND.keys()).to_numpy()
    prefix_kind = prefix.map(PREFIX_KIND)
    flag(
        prefixed & kind.notna().to_numpy() & (kind != prefix_kind).to_numpy(),
        "class_code prefix contradicts class_kind",
        "class_kind",
    )
    kind = kind.where(~prefixed, prefix_kind).fillna("event")
    code = code.where(~prefixed, code.str[2:])
    malformed = ~code.fillna("").str.fullmatch(r"[0-9]{4,5}").to_numpy()
    flag(
        malformed,
        lambda i: (
            f"class_code must be 4 or 5 digits, got {frame['class_code'].iat[i]!r}"
            if "class_code" in frame
            else "class_code is missing"
        ),
        "class_code",
    )
    known = class_repo.get_classes(
        conn, settings.class_scheme, set(zip(kind[~malformed], code[~malformed], strict=True))
    )
    unknown = ~malformed & ~np.array([(k, c) in known for k, c in zip(kind, code, strict=True)])
    flag(
        unknown,
        lambda i: f"unknown class {kind.iat[i]} {code.iat[i]} in scheme {settings.class_scheme}",
        "class_code",
    )

    lon = pd.to_numeric(frame.get("lon"), errors="coerce").to_numpy(dtype=float)
    lat = pd.to_numeric(frame.get("lat"), errors="coerce").to_numpy(dtype=float)
    flag(~(np.isfinite(lon) & np.isfinite(lat)), "lon/lat missing or not numbers", "lon")
    flag(
        np.isfinite(lon) & np.isfinite(lat) & ((np.abs(lon) > 180) | (np.abs(lat) > 90)),
        "lon/lat outside WGS84 bounds",
        "lon",
    )

    source = (
        _text(frame, "source").map(lambda s: SOURCE_ALIASES.get(s, s) if s else s).fillna("hotline")
    )
    flag(
        ~source.isin(EVENT_SOURCES).to_numpy(),
        lambda i: f"source must be one of {', '.join(EVENT_SOURCES)}, got {source.iat[i]!r}",
        "source",
    )

    observed, bad_obs = _times(_text(frame, "observed_at"), settings.timezone)
    reported, bad_rep = _times(_text(frame, "reported_at"), settings.timezone)
    flag(bad_obs, "observed_at is not a date-time", "observed_at")
    flag(bad_rep, "reported_at is not a date-time", "reported_at")
    reported = reported.fillna(observed).fillna(pd.Timestamp(now))
    observed = observed.fillna(reported)
    future = pd.Timestamp(now) + pd.Timedelta(minutes=5)
    flag(
        ((reported > future) | (observed > future)).to_numpy(),
        "time is in the future",
        "reported_at",
    )

    location_text = _text(frame, "location_text")
    flag(
        location_text.fillna("").str.len().to_numpy() > 256,
        "location_text longer than 256 characters",
        "location_text",
    )
    key = _text(frame, "idempotency_key")
    flag(
        key.notna().to_numpy() & key.duplicated(keep="first").to_numpy(),
        "idempotency_key repeats an earlier row",
        "idempotency_key",
    )
    ident = _text(frame, "component_identifier")
    width = 16 if settings.class_scheme == "2013" else 17
    flag(
        ident.notna().to_numpy() & ~ident.fillna("").str.fullmatch(f"[0-9]{{{width}}}").to_numpy(),
        f"component_identifier must be {width} digits",
        "component_identifier",
    )

    rows = pd.DataFrame(
        {
            "row": row,
            "class_kind": kind.to_numpy(),
            "class_code": code.to_numpy(),
            "lon": lon,
            "lat": lat,
            "source": source.to_numpy(),
            "reporter": _text(frame, "reporter").to_numpy(),
            "observed_at": observed.to_numpy(),
            "reported_at": reported.to_numpy(),
            "location_text": location_text.to_numpy(),
            "description": _text(frame, "description").to_numpy(),
            "idempotency_key": key.to_numpy(),
            "component_identifier": ident.to_numpy(),
            "photo_urls": _text(frame, "photo_urls").to_numpy(),
        }
    )
    return rows, problems, known
