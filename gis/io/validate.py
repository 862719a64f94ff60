"""Checks on tables about to be imported: columns, geometries, codes, containment.

Every check returns a list of :class:`Issue` instead of raising, so an import can report all
of a file's problems at once. Rows are 1-based data rows (row 1 = first feature or first
data line after a CSV header), taken from the frame's ``_row`` column.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

ROW = "_row"


@dataclass(frozen=True)
class Issue:
    """One reason one row (or, with ``row=None``, the whole file) cannot be imported."""

    row: int | None
    reason: str
    column: str | None = None


def as_text(values: pd.Series) -> pd.Series:
    """``values`` as stripped strings (object dtype), missing and blank cells as None.

    Whole numbers stay whole: a code read as ``320599.0`` from a numeric column (a shapefile
    with empty cells) becomes ``"320599"``, never ``"320599.0"``.

    Examples
    --------
    >>> as_text(pd.Series([320599.0, None, " a "])).tolist()
    ['320599', None, 'a']
    """
    if pd.api.types.is_bool_dtype(values):
        out = values.astype(object).map(lambda v: None if pd.isna(v) else str(v).lower())
        return out.astype(object)
    if pd.api.types.is_float_dtype(values):
        numbers = values.to_numpy(dtype=float, na_value=np.nan)
        finite = np.isfinite(numbers)
        if np.all(numbers[finite] == np.round(numbers[finite])):
            ints = pd.array(np.where(finite, numbers, 0).astype(np.int64), dtype="Int64")
            ints[~finite] = pd.NA
            values = pd.Series(ints, index=values.index)
    elif pd.api.types.is_object_dtype(values):
        values = values.map(_whole)
    mask = values.isna().to_numpy()
    text = values.astype(str).str.strip().astype(object)
    text[mask | (text == "").to_numpy()] = None
    return text


def pattern_issues(frame: pd.DataFrame, column: str, pattern: str, expected: str) -> list[Issue]:
    """Issues for non-empty ``column`` values that do not match ``pattern`` in full."""
    values = frame[column]
    bad = values.notna().to_numpy() & ~values.fillna("").str.fullmatch(pattern).to_numpy(bool)
    return [
        Issue(int(r), f"malformed {column} {v!r}: expected {expected}", column)
        for r, v in zip(frame[ROW][bad], values[bad], strict=True)
    ]


def duplicate_issues(frame: pd.DataFrame, column: str) -> list[Issue]:
    """Issues for every row whose non-empty ``column`` value appears more than once."""
    values = frame[column]
    dup = values.notna().to_numpy() & values.duplicated(keep=False).to_numpy()
    if not dup.any():
        return []
    rows = frame[ROW][dup]
    groups = rows.groupby(values[dup].to_numpy()).agg(list)
    return [
        Issue(int(r), f"duplicate {column} {value!r} in the file (rows {_rows(group)})", column)
        for value, group in groups.items()
        for r in group
    ]


def existing_issues(
    frame: pd.DataFrame, column: str, existing: Collection[str], where: str
) -> list[Issue]:
    """Issues for values of ``column`` already stored (``where`` names the table)."""
    values = frame[column]
    bad = values.isin(list(existing)).to_numpy() if existing else np.zeros(len(values), bool)
    return [
        Issue(int(r), f"{column} {v!r} already exists in {where}", column)
        for r, v in zip(frame[ROW][bad], values[bad], strict=True)
    ]


def unknown_issues(
    frame: pd.DataFrame,
    column: str,
    known: Collection[str],
    what: str,
    where: str,
    mask=None,
) -> list[Issue]:
    """Issues for non-empty ``column`` values not in ``known`` (an unresolved reference).

    Messages read "unknown {what} '{value}' ({where})", e.g. "unknown unit 'X' (not in
    responsible_unit)".
    """
    values = frame[column]
    bad = values.notna().to_numpy() & ~values.isin(list(known)).to_numpy()
    if mask is not None:
        bad &= np.asarray(mask, bool)
    return [
        Issue(int(r), f"unknown {what} {v!r} ({where})", column)
        for r, v in zip(frame[ROW][bad], values[bad], strict=True)
    ]


def choice_issues(frame: pd.DataFrame, column: str, allowed: Iterable[str]) -> list[Issue]:
    """Issues for non-empty ``column`` values outside ``allowed``."""
    allowed = list(allowed)
    values = frame[column]
    bad = values.notna().to_numpy() & ~values.isin(allowed).to_numpy()
    return [
        Issue(int(r), f"{column} {v!r} is not one of {', '.join(allowed)}", column)
        for r, v in zip(frame[ROW][bad], values[bad], strict=True)
    ]


def usable_geometry(geoms: gpd.GeoSeries, allowed: Collection[str]) -> np.ndarray:
    """True where a geometry is present, non-empty, valid and of an ``allowed`` type."""
    arr = np.asarray(geoms.values, dtype=object)
    present = ~shapely.is_missing(arr)
    ok = present & ~shapely.is_empty(arr)
    ok &= np.isin(shapely.get_type_id(arr), [_TYPE_IDS[t] for t in allowed])
    ok[ok] = shapely.is_valid(arr[ok])
    return ok


def geometry_issues(
    frame: gpd.GeoDataFrame, allowed: Collection[str], skip: Collection[int] = ()
) -> list[Issue]:
    """Issues for missing, empty, invalid or wrongly typed geometries (rows in ``skip`` aside).

    Invalid geometries are explained with shapely's ``is_valid_reason``
    (e.g. ``Self-intersection[1 1]``).
    """
    arr = np.asarray(frame.geometry.values, dtype=object)
    rows = frame[ROW].to_numpy()
    issues = []
    missing = shapely.is_missing(arr)
    empty = ~missing & shapely.is_empty(arr)
    type_ids = shapely.get_type_id(arr)
    wrong = ~missing & ~empty & ~np.isin(type_ids, [_TYPE_IDS[t] for t in allowed])
    checkable = ~missing & ~empty & ~wrong
    invalid = np.zeros(len(arr), bool)
    invalid[checkable] = ~shapely.is_valid(arr[checkable])
    skip = set(skip)
    for i in np.flatnonzero(missing | empty | wrong | invalid):
        row = int(rows[i])
        if row in skip:
            continue
        if missing[i] or empty[i]:
            reason = "geometry is missing or empty"
        elif wrong[i]:
            reason = (
                f"geometry type {arr[i].geom_type} not allowed here; expected {'/'.join(allowed)}"
            )
        else:
            reason = f"invalid geometry: {shapely.is_valid_reason(arr[i])}"
        issues.append(Issue(row, reason, "geometry"))
    return issues


def outside_issues(
    grids: gpd.GeoDataFrame,
    communities: gpd.GeoDataFrame,
    *,
    max_outside_m2: float = 1.0,
    max_outside_ratio: float = 0.005,
) -> list[Issue]:
    """Issues for grids reaching outside their community by more than the tolerances.

    ``grids`` has ``_row``, ``community_code`` and valid polygons; ``communities`` has ``code``
    and polygons, both in the same CRS. A grid passes when the part outside its community is
    at most ``max_outside_m2`` **and** at most ``max_outside_ratio`` of the grid's area.
    Areas are measured in metres in the local UTM zone, never in degrees.

    Examples
    --------
    >>> from shapely import box
    >>> comm = gpd.GeoDataFrame({"code": ["c"]}, geometry=[box(0, 0, 0.01, 0.01)], crs=4326)
    >>> grid = gpd.GeoDataFrame({"_row": [1], "community_code": ["c"]},
    ...                         geometry=[box(0.009, 0, 0.011, 0.001)], crs=4326)
    >>> [i.row for i in outside_issues(grid, comm)]
    [1]
    """
    if grids.crs != communities.crs:
        raise ValueError(f"CRS mismatch: grids {grids.crs}, communities {communities.crs}")
    if grids.empty:
        return []
    by_code = communities.drop_duplicates("code").set_index("code").geometry
    target = np.asarray(by_code.reindex(grids["community_code"]).values, dtype=object)
    geoms = np.asarray(grids.geometry.values, dtype=object)
    shapely.prepare(target)
    # Most grids are covered outright; only the rest need the (costly) difference.
    todo = ~shapely.covers(target, geoms)
    if not todo.any():
        return []
    outside = shapely.difference(geoms[todo], target[todo])
    metric = grids.estimate_utm_crs() if grids.crs.is_geographic else grids.crs
    out_m2 = gpd.GeoSeries(outside, crs=grids.crs).to_crs(metric).area.to_numpy()
    grid_m2 = gpd.GeoSeries(geoms[todo], crs=grids.crs).to_crs(metric).area.to_numpy()
    bad = (out_m2 > max_outside_m2) | (out_m2 > max_outside_ratio * grid_m2)
    rows = grids[ROW].to_numpy()[todo][bad]
    codes = grids["community_code"].to_numpy()[todo][bad]
    return [
        Issue(
            int(r),
            f"grid reaches outside its community {c}: {o:,.1f} m² ({100 * o / a:.2f} % of "
            f"the grid) outside; at most {max_outside_m2:g} m² and "
            f"{100 * max_outside_ratio:g} % allowed",
            "geometry",
        )
        for r, c, o, a in zip(rows, codes, out_m2[bad], grid_m2[bad], strict=True)
    ]


def locate(geoms: gpd.GeoSeries, areas: gpd.GeoDataFrame, code: str = "code") -> pd.Series:
    """The ``code`` of the area containing each geometry's point on surface (None if none).

    Where areas overlap the smallest code wins, so the answer does not depend on row order.
    """
    if geoms.crs != areas.crs:
        raise ValueError(f"CRS mismatch: geometries {geoms.crs}, areas {areas.crs}")
    result = pd.Series([None] * len(geoms), index=geoms.index, dtype=object)
    present = ~(geoms.isna() | geoms.is_empty).to_numpy()
    if areas.empty or not present.any():
        return result
    points = shapely.point_on_surface(np.asarray(geoms.values, dtype=object)[present])
    ordered = areas.sort_values(code).reset_index(drop=True)
    tree = shapely.STRtree(np.asarray(ordered.geometry.values, dtype=object))
    hit_point, hit_area = tree.query(points, predicate="intersects")
    first = pd.Series(hit_area).groupby(hit_point).min()
    found = np.full(len(points), None, dtype=object)
    found[first.index.to_numpy()] = ordered[code].to_numpy()[first.to_numpy()]
    result.iloc[np.flatnonzero(present)] = found
    return result


def _whole(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _rows(rows: list[int], limit: int = 5) -> str:
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f", … {len(rows) - limit} more" if len(rows) > limit else "")


_TYPE_IDS: Mapping[str, int] = {
    "Point": 0,
    "LineString": 1,
    "Polygon": 3,
    "MultiPoint": 4,
    "MultiLineString": 5,
    "MultiPolygon": 6,
}
