"""Component census imports: class maps (source layer/value → class), import keys from the
source's own ids or geometry fingerprints, re-import checks, and the extra attributes kept as
JSON. Like :mod:`gis.io.layers`, nothing here touches a database."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.io.layers import available_columns
from gis.io.validate import (
    ROW,
    Issue,
    as_text,
    duplicate_issues,
)

CLASS_MAP_COLUMNS = ("layer", "column", "value", "class_code", "source_id_column")
GEOMETRY_FAMILY = {
    "Point": "Point",
    "MultiPoint": "Point",
    "LineString": "LineString",
    "MultiLineString": "LineString",
    "Polygon": "Polygon",
    "MultiPolygon": "Polygon",
}


@dataclass(frozen=True)
class ClassMap:
    """Class codes of one source layer: one class, or by the values of one column."""

    column: str | None = None  # the source column holding the values (None: one class)
    classes: Mapping[str, str] = field(default_factory=dict)  # casefolded value -> class
    default: str | None = None  # class of rows whose value is not listed (or of every row)
    source_id_column: str | None = None  # the source's own feature id, the re-import key


def class_map_for(table: pd.DataFrame, layer: str, column: str | None = None) -> ClassMap:
    """The rows of a class-map table that apply to ``layer``, as a :class:`ClassMap`.

    The table has ``value`` and ``class_code`` columns and optionally ``layer`` (blank: every
    layer), ``column`` (the source column of the values, else ``column``) and
    ``source_id_column``. A row with a blank value gives the class of the values not listed,
    or, when there is no column, of the whole layer. Values match case-insensitively.
    Raises ValueError when the table cannot be used for ``layer``.

    Examples
    --------
    >>> t = pd.DataFrame({"value": ["BB", ""], "class_code": ["0305", "0305"]})
    >>> class_map_for(t, "barrels", "TYPE").classes
    {'bb': '0305'}
    """
    table = table.rename(columns=lambda c: str(c).strip().lower())
    missing = [c for c in ("value", "class_code") if c not in table.columns]
    if missing:
        raise ValueError(
            f"the class map needs columns value and class_code (missing "
            f"{', '.join(missing)}; has {', '.join(map(str, table.columns))})"
        )
    table = pd.DataFrame(
        {
            c: as_text(table[c])
            if c in table.columns
            else pd.Series([None] * len(table), dtype=object)
            for c in CLASS_MAP_COLUMNS
        }
    )
    rows = table[table["layer"].isna() | (table["layer"].str.casefold() == layer.casefold())]
    if rows.empty:
        layers = ", ".join(sorted(table["layer"].dropna().unique()))
        raise ValueError(f"the class map has no rows for layer {layer!r} (layers: {layers})")
    columns = set(rows["column"].dropna())
    if len(columns) > 1:
        raise ValueError(
            f"the class map names several columns for layer {layer!r}: {', '.join(sorted(columns))}"
        )
    column = next(iter(columns), column)
    listed = rows[rows["value"].notna()]
    if len(listed) and column is None:
        raise ValueError(
            "the class map lists values but names no source column: "
            "give --class-column (or a column in the map)"
        )
    keys = listed["value"].str.casefold()
    clash = listed.groupby(keys.to_numpy())["class_code"].nunique()
    if (clash > 1).any():
        raise ValueError(
            f"the class map gives several classes to value(s) "
            f"{', '.join(clash[clash > 1].index)} of layer {layer!r}"
        )
    defaults = rows.loc[rows["value"].isna(), "class_code"].dropna().unique()
    if len(defaults) > 1:
        raise ValueError(f"the class map gives layer {layer!r} several default classes")
    ids = rows["source_id_column"].dropna().unique()
    if len(ids) > 1:
        raise ValueError(f"the class map names several id columns for layer {layer!r}")
    return ClassMap(
        column=column,
        classes=dict(zip(keys, listed["class_code"], strict=True)),
        default=defaults[0] if len(defaults) else None,
        source_id_column=ids[0] if len(ids) else None,
    )


def classes_from_map(frame: pd.DataFrame, cmap: ClassMap) -> tuple[pd.Series, list[Issue]]:
    """The class code of every row of ``frame`` (with ``_row``) by ``cmap``, and issues."""
    if cmap.column is None:
        return pd.Series(cmap.default, index=frame.index, dtype=object), []
    if cmap.column not in frame.columns:
        return pd.Series(None, index=frame.index, dtype=object), [
            Issue(
                None,
                f"class column {cmap.column!r} not found; available columns: {available_columns(frame)}",
                cmap.column,
            )
        ]
    values = as_text(frame[cmap.column])
    codes = values.str.casefold().map(dict(cmap.classes)).astype(object)
    if cmap.default is not None:
        codes = codes.where(codes.notna(), cmap.default)
    bad = codes.isna().to_numpy()
    listed = ", ".join(sorted(cmap.classes)) or "(none)"
    return codes, [
        Issue(
            int(r),
            f"{cmap.column} value {v!r} has no class in the class map "
            f"(listed: {listed}; add it or a default row)",
            cmap.column,
        )
        for r, v in zip(frame[ROW][bad], values[bad], strict=True)
    ]


def geometry_fingerprints(geoms: gpd.GeoSeries) -> pd.Series:
    """``geom:`` + MD5 of each geometry rounded to 1e-7 degrees (~1 cm); repeats get ``#2``…

    The import key of features that carry no id of their own: re-reading the same file
    gives the same keys, and identical features are told apart by their order.

    Examples
    --------
    >>> from shapely import Point
    >>> keys = geometry_fingerprints(gpd.GeoSeries([Point(1, 2), Point(1, 2)]))
    >>> keys[1] == keys[0] + "#2"
    True
    """
    import hashlib

    import shapely

    arr = np.asarray(geoms.values, dtype=object)
    present = np.flatnonzero(~shapely.is_missing(arr))
    # Hash the rounded coordinates (as integers, so -0.0 and 0.0 agree) plus the type: numpy
    # does the rounding for all rows at once, only the per-row MD5 runs in Python.
    coords, owner = shapely.get_coordinates(arr[present], return_index=True)
    ints = np.round(coords * 1e7).astype(np.int64)
    ends = np.cumsum(np.bincount(owner, minlength=len(present))) * 16
    starts = np.concatenate([[0], ends[:-1]])
    data, kinds = ints.tobytes(), shapely.get_type_id(arr[present])
    found = pd.Series(
        [
            "geom:" + hashlib.md5(bytes([k]) + data[a:b]).hexdigest()
            for k, a, b in zip(kinds.tolist(), starts.tolist(), ends.tolist(), strict=True)
        ],
        dtype=object,
    )
    dup = found.duplicated(keep=False).to_numpy()
    if dup.any():
        repeat = found[dup].groupby(found[dup].to_numpy()).cumcount().to_numpy() + 1
        found[dup] = np.where(repeat > 1, found[dup] + "#" + repeat.astype(str), found[dup])
    keys = pd.Series(None, index=geoms.index, dtype=object)
    keys.iloc[present] = found.to_numpy()
    return keys


def import_keys(frame: gpd.GeoDataFrame) -> tuple[pd.Series, list[Issue]]:
    """Each row's re-import key: its source_id, else its identifier, else its fingerprint."""
    issues = duplicate_issues(frame, "source_id")
    keys = frame["source_id"].where(frame["source_id"].notna(), frame["identifier"])
    loose = keys.isna()
    if loose.any():
        keys = keys.copy()
        keys[loose] = geometry_fingerprints(frame.geometry[loose])
    return keys, issues


def check_reimport(
    frame: gpd.GeoDataFrame, keys: pd.Series, stored: pd.DataFrame
) -> tuple[np.ndarray, list[Issue]]:
    """Rows imported before under the same key: (rows to skip, issues for contradicting rows).

    ``stored`` holds, indexed by the keys of this source layer, the ``identifier`` and
    ``class_code`` of the component each key created. A row that says the same is skipped;
    a row that names another class or identifier is an issue (a changed mapping must not
    slip in silently).
    """
    if stored.empty:
        return np.zeros(len(frame), bool), []
    found = stored.reindex(keys.to_numpy())
    was_id, was_cls = found["identifier"].to_numpy(), found["class_code"].to_numpy()
    hit = found["identifier"].notna().to_numpy()
    cls, ident = frame["class_code"].to_numpy(), frame["identifier"].to_numpy()
    other_cls = hit & frame["class_code"].notna().to_numpy() & (cls != was_cls)
    other_id = hit & ~other_cls & frame["identifier"].notna().to_numpy() & (ident != was_id)
    rows = frame[ROW].to_numpy()
    issues = [
        Issue(
            int(rows[i]),
            f"imported before as component {was_id[i]} of class "
            f"{was_cls[i]}; the file now says class {cls[i]}",
            "class_code",
        )
        for i in np.flatnonzero(other_cls)
    ]
    issues += [
        Issue(
            int(rows[i]),
            f"imported before as component {was_id[i]}; the file now says identifier {ident[i]}",
            "identifier",
        )
        for i in np.flatnonzero(other_id)
    ]
    return hit & ~other_cls & ~other_id, issues


def geometry_type_warnings(
    frame: gpd.GeoDataFrame, expected: Mapping[str, str | None]
) -> list[str]:
    """One warning per class whose rows are drawn otherwise than the class expects."""
    family = frame.geometry.geom_type.map(GEOMETRY_FAMILY)
    wanted = frame["class_code"].map(dict(expected))
    off = family.notna() & wanted.notna() & (family != wanted)
    counts = (
        pd.DataFrame({"c": frame["class_code"][off], "w": wanted[off], "f": family[off]})
        .value_counts()
        .sort_index()
    )
    return [
        f"class {c} expects {w}: {n} feature(s) are {f} (kept as drawn)"
        for (c, w, f), n in counts.items()
    ]


def infer_numbers(extra: pd.DataFrame) -> pd.DataFrame:
    """Text columns (a CSV's) with only plain numbers become numbers; blanks become None.

    Numbers with a leading zero ("0512", "02142") are codes, not quantities, and stay text.

    Examples
    --------
    >>> infer_numbers(pd.DataFrame({"n": ["2", ""], "zip": ["02142", "1"]})).to_dict("list")
    {'n': [2, None], 'zip': ['02142', '1']}
    """
    out = {}
    for column in extra.columns:
        values = as_text(extra[column])
        filled = values.dropna()
        if len(filled) and filled.str.fullmatch(r"-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?").all():
            numbers = pd.to_numeric(filled)
            values = pd.Series([None] * len(values), index=values.index, dtype=object)
            values[filled.index] = numbers.astype(object)
        out[column] = values
    return pd.DataFrame(out, index=extra.index)


def attributes_json(extra: pd.DataFrame) -> list[str]:
    """One JSON object per row from the columns that are not target fields."""
    if extra.shape[1] == 0:
        return ["{}"] * len(extra)
    extra = extra.drop(columns=[c for c in extra.columns if str(c) == "geometry"])
    extra.columns = [str(c) for c in extra.columns]
    text = extra.reset_index(drop=True).to_json(
        orient="records", lines=True, date_format="iso", force_ascii=False, default_handler=str
    )
    lines = text.rstrip("\n").split("\n")
    return lines if len(extra) else []
