"""Read import sources (GeoJSON, GeoPackage, zipped Shapefile, CSV) into EPSG:4326 frames.

Reading is two steps so a caller can also hand over a frame it already holds:
:func:`read_table` gets the rows as stored, :func:`to_geoframe` gives them lon/lat geometry.
Whole-file problems raise :class:`SourceError`; row problems come back as issues.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import CRS

from gis.io.validate import ROW, Issue

WGS84 = "EPSG:4326"
LON_NAMES = ("lon", "longitude", "x", "lng")
LAT_NAMES = ("lat", "latitude", "y")
WKT_NAMES = ("wkt", "geometry", "geom")
CSV_SUFFIXES = (".csv", ".csv.gz", ".txt", ".tsv")
# Chinese CSV exports are often GBK; gb18030 is its superset and decodes any byte string
# that is valid GBK, so trying it after UTF-8 is safe.
CSV_ENCODINGS = ("utf-8-sig", "gb18030")


class SourceError(ValueError):
    """A source that cannot be used at all (unreadable, wrong format, no CRS, no such layer)."""


def read_table(path: Path | str, layer: str | None = None) -> pd.DataFrame:
    """The rows of ``path`` as stored: a GeoDataFrame, or for CSV a DataFrame of text.

    CSV cells are read as text so codes keep their leading zeros; ``.csv.gz`` is unpacked
    on the fly. A ``.zip`` must hold a shapefile (several: pick one with ``layer``).

    Examples
    --------
    >>> read_table("grids.gpkg", layer="grids")  # doctest: +SKIP
    """
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"file not found: {path}")
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return _read_csv(path)
    if name.endswith(".zip"):
        return _read_vector(_shapefile_in_zip(path, layer), None)
    if name.endswith(".gpkg"):
        return _read_vector(str(path), _gpkg_layer(path, layer))
    return _read_vector(str(path), layer)


def to_geoframe(
    frame: pd.DataFrame,
    *,
    source_crs: str | None = None,
    lon_column: str | None = None,
    lat_column: str | None = None,
    geometry_required: bool = True,
) -> tuple[gpd.GeoDataFrame, list[Issue], list[str]]:
    """``frame`` with geometry in EPSG:4326, a ``_row`` column, and (issues, warnings).

    A GeoDataFrame keeps its geometry, reprojected from its CRS (or ``source_crs`` when it
    declares none). A plain table gets points from lon/lat columns (default CRS EPSG:4326)
    or shapes from a WKT column. Columns used to build geometry are dropped. Without
    ``geometry_required`` a table with no geometry gets an all-empty geometry column.
    """
    warnings: list[str] = []
    frame = frame.reset_index(drop=True)
    if isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame:
        out, issues = _reproject(frame, source_crs, geometry_required, warnings)
    elif geometry_required:
        out, issues = _from_table(frame, source_crs, lon_column, lat_column)
    else:
        out, issues = gpd.GeoDataFrame(frame, geometry=[None] * len(frame), crs=WGS84), []
    if out.geometry.name != "geometry":
        out = out.rename_geometry("geometry")
    out[ROW] = np.arange(1, len(out) + 1)
    return out, issues, warnings


def _read_csv(path: Path) -> pd.DataFrame:
    sep = "\t" if path.name.lower().endswith(".tsv") else ","
    last: Exception | None = None
    for encoding in CSV_ENCODINGS:
        try:
            return pd.read_csv(
                path,
                dtype=str,
                keep_default_na=False,
                sep=sep,
                encoding=encoding,
                compression="infer",
                skipinitialspace=True,
            )
        except UnicodeDecodeError as exc:
            last = exc
        except pd.errors.EmptyDataError as exc:
            raise SourceError("the CSV file is empty (no header line)") from exc
        except (pd.errors.ParserError, OSError, EOFError, ValueError) as exc:
            raise SourceError(f"not a readable CSV file: {_first_line(exc)}") from exc
    raise SourceError(f"CSV is neither UTF-8 nor GBK/GB18030 text: {last}")


def _shapefile_in_zip(path: Path, layer: str | None) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.lower().endswith(".shp")]
    except (zipfile.BadZipFile, OSError) as exc:
        raise SourceError(f"not a readable zip file: {exc}") from exc
    if not names:
        raise SourceError("the zip file holds no shapefile (.shp)")
    if layer:
        names = [n for n in names if Path(n).stem == layer] or names[:0]
        if not names:
            raise SourceError(f"no shapefile named {layer!r} in the zip")
    if len(names) > 1:
        raise SourceError(
            f"the zip holds several shapefiles ({', '.join(names)}); choose one with layer_name"
        )
    return f"/vsizip/{path.resolve()}/{names[0]}"


def _gpkg_layer(path: Path, layer: str | None) -> str | None:
    try:
        layers = [str(name) for name in pyogrio.list_layers(str(path))[:, 0]]
    except Exception as exc:  # pyogrio raises several error types for a bad container
        raise SourceError(f"not a readable GeoPackage: {_first_line(exc)}") from exc
    if layer is not None and layer not in layers:
        raise SourceError(f"no layer {layer!r} in the GeoPackage; layers: {', '.join(layers)}")
    if layer is None and len(layers) > 1:
        raise SourceError(
            f"the GeoPackage has several layers ({', '.join(layers)}); choose one with layer_name"
        )
    return layer


def _read_vector(source: str, layer: str | None) -> gpd.GeoDataFrame:
    try:
        return pyogrio.read_dataframe(source, layer=layer)
    except Exception as exc:  # GDAL reports every unreadable source its own way
        raise SourceError(f"not a readable vector file: {_first_line(exc)}") from exc


def _reproject(
    frame: gpd.GeoDataFrame, source_crs: str | None, required: bool, warnings: list[str]
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    has_geometry = bool(frame.geometry.notna().any())
    if source_crs:
        declared = _crs(source_crs)
        if frame.crs is not None and CRS.from_user_input(frame.crs) != declared:
            warnings.append(
                f"source_crs {source_crs} overrides the file's CRS {frame.crs.to_string()}"
            )
        frame = frame.set_crs(declared, allow_override=True)
    if frame.crs is None:
        if required and has_geometry:
            raise SourceError(
                "the file declares no coordinate reference system; give source_crs (e.g. EPSG:4490)"
            )
        return frame.set_crs(WGS84), []
    geographic = frame.crs.is_geographic
    frame = frame.to_crs(WGS84)
    frame = frame.set_geometry(
        shapely.force_2d(np.asarray(frame.geometry.values, dtype=object)), crs=WGS84
    )
    return _out_of_range(frame, geographic)


def _out_of_range(
    frame: gpd.GeoDataFrame, geographic: bool
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """Null (and report) geometries whose lon/lat are impossible: usually a wrong CRS."""
    bounds = frame.geometry.bounds.to_numpy()
    with np.errstate(invalid="ignore"):
        bad = ~np.isnan(bounds[:, 0]) & ~(
            np.isfinite(bounds).all(axis=1)
            & (bounds[:, 0] >= -180)
            & (bounds[:, 2] <= 180)
            & (bounds[:, 1] >= -90)
            & (bounds[:, 3] <= 90)
        )
    if not bad.any():
        return frame, []
    hint = "is the declared CRS right?" if geographic else "the reprojection failed"
    issues = [
        Issue(int(i) + 1, f"coordinates outside lon/lat range ({hint})", "geometry")
        for i in np.flatnonzero(bad)
    ]
    frame = frame.copy()
    frame.loc[bad, frame.geometry.name] = None
    return frame, issues


def _from_table(
    frame: pd.DataFrame, source_crs: str | None, lon_column: str | None, lat_column: str | None
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    crs = _crs(source_crs or WGS84)
    lon, lat = _find(frame, lon_column, LON_NAMES), _find(frame, lat_column, LAT_NAMES)
    if lon and lat:
        geoms, issues = _points(frame[lon], frame[lat], lon, lat, crs.is_geographic)
        table = frame.drop(columns=[lon, lat])
    elif (wkt := _find(frame, None, WKT_NAMES)) and not (lon or lat):
        geoms, issues = _parse_wkt(frame[wkt], wkt)
        table = frame.drop(columns=[wkt])
    else:
        raise SourceError(
            "no geometry: expected longitude/latitude columns (one of "
            f"{'/'.join(LON_NAMES)} and one of {'/'.join(LAT_NAMES)}, or name them with "
            f"lon_column/lat_column) or a WKT column; available columns: {_columns(frame)}"
        )
    out = gpd.GeoDataFrame(table, geometry=geoms, crs=crs)
    if not out.crs.equals(WGS84):
        out, more = _out_of_range(out.to_crs(WGS84), crs.is_geographic)
        issues += more
    return out, issues


def _points(
    lon_raw: pd.Series, lat_raw: pd.Series, lon: str, lat: str, geographic: bool
) -> tuple[np.ndarray, list[Issue]]:
    issues: list[Issue] = []
    values = {}
    for name, raw, limit in ((lon, lon_raw, 180.0), (lat, lat_raw, 90.0)):
        text = raw.astype(object).where(raw.notna(), None)
        blank = text.map(lambda v: v is None or str(v).strip() == "").to_numpy(bool)
        number = pd.to_numeric(text.where(~blank, None), errors="coerce").to_numpy(float, copy=True)
        for i in np.flatnonzero(~blank & np.isnan(number)).tolist():
            issues.append(Issue(i + 1, f"{name} {text.iloc[i]!r} is not a number", name))
        if geographic:
            for i in np.flatnonzero(np.abs(number) > limit).tolist():
                issues.append(
                    Issue(i + 1, f"{name} {number[i]:g} is outside [-{limit:g}, {limit:g}]", name)
                )
            number[np.abs(number) > limit] = np.nan
        values[name] = number
    x, y = values[lon], values[lat]
    ok = np.isfinite(x) & np.isfinite(y)
    geoms = np.full(len(x), None, dtype=object)
    geoms[ok] = shapely.points(x[ok], y[ok])
    return geoms, issues


def _parse_wkt(raw: pd.Series, column: str) -> tuple[np.ndarray, list[Issue]]:
    text = raw.astype(object).where(raw.notna() & (raw.astype(str).str.strip() != ""), None)
    geoms = shapely.from_wkt(text.to_numpy(), on_invalid="ignore")
    bad = text.notna().to_numpy() & shapely.is_missing(geoms)
    return geoms, [Issue(int(i) + 1, "not valid WKT", column) for i in np.flatnonzero(bad)]


def _find(frame: pd.DataFrame, given: str | None, names: tuple[str, ...]) -> str | None:
    if given:
        if given not in frame.columns:
            raise SourceError(f"column {given!r} not found; available columns: {_columns(frame)}")
        return given
    lower = {str(c).lower(): c for c in frame.columns}
    return next((lower[n] for n in names if n in lower), None)


def _crs(value: str) -> CRS:
    try:
        return CRS.from_user_input(value)
    except Exception as exc:  # pyproj.CRSError and friends
        raise SourceError(f"unknown CRS {value!r}: {_first_line(exc)}") from exc


def _columns(frame: pd.DataFrame) -> str:
    return ", ".join(str(c) for c in frame.columns if c != "geometry") or "(none)"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
