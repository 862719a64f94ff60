"""Import service: areas, units, grids, streets and components from files, all-or-nothing.

Reading and the pure checks live in ``gis`` (``gis.io.read``, ``gis.io.validate``,
``gis.io.layers``, ``gis.io.census``); look-ups and writes in ``app.db.catalog.imports``.
This module runs them in order: read → map columns → check everything (collecting every
problem) → write in one transaction, or write nothing and raise :class:`~app.errors.ImportRejected`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter

import geopandas as gpd
import pandas as pd
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from tqdm.auto import tqdm

from app.db.catalog import classes as class_repo
from app.db.catalog import imports as repo
from app.db.components import inventory as component_repo
from app.errors import ImportRejected, InvalidInputError, RowProblem
from app.services.components import inventory as components_service
from app.settings import Settings
from gis.io import (
    Issue,
    SourceError,
    geometry_issues,
    locate,
    pattern_issues,
    read_table,
    to_geoframe,
    usable_geometry,
)
from gis.io.census import (
    attributes_json,
    check_reimport,
    class_map_for,
    classes_from_map,
    geometry_type_warnings,
    import_keys,
    infer_numbers,
)
from gis.io.layers import (
    SPECS,
    assign_identifiers,
    check_areas,
    check_component_classes,
    check_component_refs,
    check_grids,
    check_streets,
    check_units,
    map_columns,
    required_values,
)

LAYERS = ("areas", "units", "grids", "streets", "components")
# A grid may reach outside its community by at most this much (both must hold): slivers
# from digitising, never a real overlap. Coordinates rounded to 7 decimals (~1 cm) along a
# 100 m community edge already approach 1 m².
GRID_OUTSIDE_MAX_M2 = 1.0
GRID_OUTSIDE_MAX_RATIO = 0.005
# Below this many rows an import takes a moment and a progress bar would only be noise.
PROGRESS_MIN_ROWS = 10_000
# From this many components on, grids and streets are found in Python (a cell index and an
# STRtree, ~50 times faster per row) instead of one SQL look-up per row; same rule.
PLACE_IN_PYTHON_MIN_ROWS = 5_000


@dataclass
class ImportOptions:
    """How to read a source: column mapping, layer, CRS, CSV coordinates, constant values."""

    columns: dict[str, str] = field(default_factory=dict)  # target field -> source column
    layer_name: str | None = None
    source_crs: str | None = None
    lon_column: str | None = None
    lat_column: str | None = None
    defaults: dict[str, str] = field(default_factory=dict)
    # components: classes from one source column's values (a class-map CSV or table, see
    # gis.io.census.class_map_for); the source layer names the file in re-import keys
    # (default: its name without suffixes); the actor goes into the history.
    class_map: Path | pd.DataFrame | None = None
    class_column: str | None = None
    source_layer: str | None = None
    actor: str | None = None


@dataclass
class ImportReport:
    """What an import did; ``details`` holds layer-specific counts."""

    layer: str
    source: str
    rows_read: int
    rows_written: int
    seconds: float
    warnings: list[str]
    details: dict[str, int] = field(default_factory=dict)


def read_source(path: Path, options: ImportOptions | None = None) -> gpd.GeoDataFrame:
    """The file as a GeoDataFrame in EPSG:4326 (with ``_row``), or ImportRejected."""
    options = options or ImportOptions()
    path = Path(path)
    try:
        frame, issues, _ = to_geoframe(
            read_table(path, options.layer_name),
            source_crs=options.source_crs,
            lon_column=options.lon_column,
            lat_column=options.lat_column,
        )
    except SourceError as exc:
        raise _rejected([Issue(None, str(exc))], path.name) from exc
    if issues:
        raise _rejected(issues, path.name)
    return frame


def import_file(
    engine: Engine,
    settings: Settings,
    layer: str,
    path: Path,
    options: ImportOptions | None = None,
    progress: bool = False,
) -> ImportReport:
    """Import one layer from a GeoJSON, GeoPackage, zipped Shapefile or CSV(.gz) file."""
    started = perf_counter()
    options = options or ImportOptions()
    _check_request(layer, options)
    path = Path(path)
    try:
        table = read_table(path, options.layer_name)
    except SourceError as exc:
        raise _rejected([Issue(None, str(exc))], path.name) from exc
    report = import_frame(engine, settings, layer, table, options, progress, source=path.name)
    report.seconds = perf_counter() - started
    return report


def import_frame(
    engine: Engine,
    settings: Settings,
    layer: str,
    frame: gpd.GeoDataFrame | pd.DataFrame,
    options: ImportOptions | None = None,
    progress: bool = False,
    source: str = "<frame>",
) -> ImportReport:
    """Import one layer from a frame (a GeoDataFrame, or a table with lon/lat or WKT)."""
    started = perf_counter()
    options = options or ImportOptions()
    _check_request(layer, options)
    spec = SPECS[layer]
    job = _Job(settings, options, source, len(frame) > PROGRESS_MIN_ROWS and progress, layer)
    job.textual = not isinstance(frame, gpd.GeoDataFrame)  # a CSV: every cell is text
    try:
        geo, issues, job.warnings = to_geoframe(
            frame,
            source_crs=options.source_crs,
            lon_column=options.lon_column,
            lat_column=options.lat_column,
            geometry_required=bool(spec.geometry),
        )
        defaults, columns = dict(options.defaults), dict(options.columns)
        if layer == "components":
            # a district default is a fallback after the point-in-district look-up
            job.default_district = defaults.pop("district_code", None)
            job.layer = options.source_layer or source_layer_name(source)
            geo, columns, more = _class_map(geo, options, job.layer)
            job.class_column = next((i.column for i in more if i.row is not None), None)
            issues += more
        mapped, extra, more = map_columns(geo, spec, columns, defaults)
        issues += more
        if layer == "components" and columns.get("source_id") in geo.columns:
            # the source's own id is also an attribute people look for (PoleID, SPACE_ID…)
            extra = extra.assign(**{columns["source_id"]: geo[columns["source_id"]]})
        if any(i.row is None for i in issues) or mapped.empty:
            job.reject(issues or [Issue(None, "the source has no data rows")])
        issues += required_values(mapped, spec)
        if spec.geometry:
            seen = {i.row for i in issues if i.row is not None and i.column not in spec.fields}
            issues += geometry_issues(mapped, spec.geometry, skip=seen)
        job.issues = issues
        job.step("validate")
        with engine.begin() as conn:
            written = _WRITERS[layer](conn, job, mapped, extra)
        job.step("written")
    except SourceError as exc:
        raise _rejected([Issue(None, str(exc))], source) from exc
    except DBAPIError as exc:
        raise _database_rejected(exc, source) from exc
    finally:
        job.close()
    return ImportReport(
        layer, source, len(frame), written, perf_counter() - started, job.warnings, job.details
    )


# -- per layer: look up, check, write --------------------------------------------------------


def _areas(conn: Connection, job: _Job, frame: gpd.GeoDataFrame, extra) -> int:
    frame, issues = check_areas(frame, repo.area_levels(conn))
    job.check(issues)
    return repo.write_areas(conn, frame, job.rows)


def _units(conn: Connection, job: _Job, frame: gpd.GeoDataFrame, extra) -> int:
    frame, issues = check_units(
        frame, repo.area_levels(conn), repo.unit_codes(conn), repo.office_areas(conn)
    )
    job.check(issues)
    return repo.write_units(conn, frame, job.rows)


def _grids(conn: Connection, job: _Job, frame: gpd.GeoDataFrame, extra) -> int:
    codes = frame["code"].dropna()
    wanted = set(frame["community_code"].dropna()) | set(codes.str[:12])
    communities = repo.area_shapes(conn, "community", wanted)
    frame, issues = check_grids(
        frame,
        communities,
        repo.current_grid_codes(conn, set(codes)),
        repo.unit_codes(conn),
        max_outside_m2=GRID_OUTSIDE_MAX_M2,
        max_outside_ratio=GRID_OUTSIDE_MAX_RATIO,
    )
    job.check(issues)
    return repo.write_grids(conn, frame, job.rows)


def _streets(conn: Connection, job: _Job, frame: gpd.GeoDataFrame, extra) -> int:
    districts = repo.area_shapes(conn, "district")
    missing = frame["district_code"].isna().to_numpy()
    if missing.any() and len(districts) == 1:
        frame.loc[missing, "district_code"] = districts["code"].iloc[0]
    elif missing.any() and len(districts) > 1:
        # several districts: each street goes to the one holding its segment's middle
        where = missing & usable_geometry(frame.geometry, SPECS["streets"].geometry)
        frame.loc[where, "district_code"] = locate(frame.geometry[where], districts).to_numpy()
    stored = repo.segment_source_ids(conn, set(frame["source_id"].dropna()))
    frame, issues = check_streets(frame, set(districts["code"]), stored)
    job.check(issues)
    segments = frame.explode(index_parts=False)  # a MultiLineString -> one segment per part
    written, created, reused = repo.write_streets(conn, segments, job.rows)
    job.details.update(segments=written, streets_created=created, streets_reused=reused)
    if frame["district_code"].isna().any():
        job.warnings.append(
            "some streets have no district (no district_code and no single "
            "or containing district in admin_area)"
        )
    return written


def _components(conn: Connection, job: _Job, frame: gpd.GeoDataFrame, extra) -> int:
    scheme, street_m = job.settings.class_scheme, job.settings.street_max_distance_m
    classes = class_repo.component_geometry_types(conn, scheme)
    frame, issues = check_component_classes(frame, scheme, set(classes))
    if job.class_column:  # a value the class map does not know is reported once, by the map
        unmapped = {i.row for i in job.issues if i.column == job.class_column}
        issues = [
            i
            for i in issues
            if not (i.column == "class_code" and i.row in unmapped)
            and not (i.row is None and i.reason.startswith("neither identifier"))
        ]
    issues += pattern_issues(frame, "district_code", r"\d{6}", "6 digits (GB/T 2260)")
    keys, more = import_keys(frame)
    again, more2 = check_reimport(frame, keys, repo.imported_keys(conn, job.layer))
    issues += more + more2
    if again.any():
        # imported before from this layer under the same key: the same file changes nothing
        job.details["already_imported"] = int(again.sum())
        frame, extra, keys = frame[~again], extra[~again], keys[~again]
    frame, more = _identify(conn, job, frame, set(classes))
    job.check(issues + more)
    job.warnings += geometry_type_warnings(frame, classes)
    if frame.empty:
        return 0
    if job.textual:
        extra = infer_numbers(extra)
    frame = frame.assign(attributes=attributes_json(extra), source_key=keys.to_numpy())
    if len(frame) >= PLACE_IN_PYTHON_MIN_ROWS:
        codes, streets = components_service.place(conn, frame.geometry, street_m)
        frame = frame.assign(grid_code=codes, street_id=streets)
    written, with_grid, with_street = repo.write_components(
        conn,
        frame,
        scheme,
        job.rows,
        layer=job.layer,
        actor=job.options.actor,
        street_m=street_m,
        on_written=job.written,
    )
    job.details.update(with_grid=with_grid, with_street=with_street)
    if written - with_grid:
        job.warnings.append(f"{written - with_grid} component(s) lie in no current grid")
    if written - with_street:
        job.warnings.append(
            f"{written - with_street} component(s) have no street within {street_m:g} m"
        )
    return written


def _identify(
    conn: Connection, job: _Job, frame: gpd.GeoDataFrame, classes: set[str]
) -> tuple[gpd.GeoDataFrame, list[Issue]]:
    """Identifiers for the rows without one (sequences reserved), and reference issues."""
    scheme = job.settings.class_scheme
    district = frame["district_code"].copy()
    usable = usable_geometry(frame.geometry, SPECS["components"].geometry)
    need = (frame["identifier"].isna() & district.isna()).to_numpy() & usable
    if need.any():
        found = locate(frame.geometry[need], repo.area_shapes(conn, "district"))
        district[need] = found.to_numpy()
    if job.default_district:
        district = district.where(district.notna(), job.default_district)
    todo = (
        frame["identifier"].isna()
        & district.fillna("").str.fullmatch(r"\d{6}")
        & frame["class_code"].isin(list(classes))
    )
    pairs = set(zip(district[todo], frame["class_code"][todo], strict=True))
    last = component_repo.reserve_sequences(conn, scheme, pairs)
    given = set(frame["identifier"].dropna())  # generated ones are new by construction
    frame, issues = assign_identifiers(frame, district, scheme, last, located=usable)
    stored = repo.component_identifiers(conn, given)
    return frame, issues + check_component_refs(frame, repo.unit_codes(conn), stored)


def source_layer_name(source: str) -> str:
    """The layer name of a source in re-import keys: its file name without suffixes.

    >>> source_layer_name("assets/INFRA_StreetLights.geojson"), source_layer_name("a.csv.gz")
    ('INFRA_StreetLights', 'a')
    """
    name = Path(str(source)).name
    for suffix in (".gz", ".zip", ".geojson", ".json", ".gpkg", ".shp", ".csv", ".tsv", ".txt"):
        name = name[: -len(suffix)] if name.lower().endswith(suffix) and name != suffix else name
    return name


def _class_map(
    geo: gpd.GeoDataFrame, options: ImportOptions, layer: str
) -> tuple[gpd.GeoDataFrame, dict[str, str], list[Issue]]:
    """Apply ``options.class_map``: a class code column to map to class_code, and issues."""
    columns = dict(options.columns)
    if options.class_map is None:
        return geo, columns, []
    table = options.class_map
    try:
        if not isinstance(table, pd.DataFrame):
            table = read_table(Path(table))
        cmap = class_map_for(table, layer, options.class_column)
    except ValueError as exc:  # SourceError is a ValueError too
        return geo, columns, [Issue(None, f"class map: {exc}")]
    codes, issues = classes_from_map(geo, cmap)
    columns["class_code"] = MAPPED_CLASS
    if cmap.source_id_column and "source_id" not in columns:
        columns["source_id"] = cmap.source_id_column
    return geo.assign(**{MAPPED_CLASS: codes}), columns, issues


MAPPED_CLASS = "_class_from_map"


_WRITERS: dict[str, Callable[..., int]] = {
    "areas": _areas,
    "units": _units,
    "grids": _grids,
    "streets": _streets,
    "components": _components,
}


# -- plumbing ---------------------------------------------------------------------------------


class _Job:
    """One import's context: options, collected issues, warnings, progress."""

    def __init__(
        self, settings: Settings, options: ImportOptions, source: str, bar: bool, layer: str
    ):
        self.settings, self.options, self.source = settings, options, source
        self.issues: list[Issue] = []
        self.warnings: list[str] = []
        self.details: dict[str, int] = {}
        self.default_district: str | None = None
        self.layer = ""
        self.class_column: str | None = None
        self.textual = False
        self._copied = 0
        self._written = 0
        self._bar = tqdm(total=3, desc=f"import {layer}", unit="step", disable=not bar, leave=False)

    def check(self, issues: list[Issue]) -> None:
        """Reject with every issue found so far, if any; else go on to the write."""
        if self.issues or issues:
            self.reject(self.issues + issues)
        self.step("checked, writing")

    def reject(self, issues: list[Issue]) -> None:
        raise _rejected(issues, self.source)

    def rows(self, n: int) -> None:
        self._copied += n
        self._bar.set_postfix_str(f"{self._copied:,} rows copied")

    def written(self, n: int) -> None:
        self._written += n
        self._bar.set_postfix_str(f"{self._written:,} of {self._copied:,} rows written")

    def step(self, name: str) -> None:
        self._bar.set_postfix_str(name)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def _check_request(layer: str, options: ImportOptions) -> None:
    if layer not in LAYERS:
        raise InvalidInputError(
            f"未知的图层 {layer!r}，应为 {'、'.join(LAYERS)}",
            f"unknown layer {layer!r}; expected one of {', '.join(LAYERS)}",
        )
    fields = SPECS[layer].fields
    _check_class_options(layer, options)
    unknown = sorted((set(options.columns) | set(options.defaults)) - set(fields))
    if unknown:
        raise InvalidInputError(
            f"图层 {layer} 没有字段 {', '.join(unknown)}；可用字段：{', '.join(fields)}",
            f"layer {layer} has no field(s) {', '.join(unknown)}; fields: {', '.join(fields)}",
        )


def _check_class_options(layer: str, options: ImportOptions) -> None:
    if options.class_map is None and options.class_column is None:
        return
    if layer != "components":
        raise InvalidInputError(
            "只有部件图层可以使用分类映射", "a class map is for components only"
        )
    if options.class_map is None:
        raise InvalidInputError(
            "指定了分类字段但没有分类映射文件；字段值本身就是分类代码时用 --map class_code=字段",
            "class_column needs a class map; when the column holds class codes themselves, "
            "map it: --map class_code=COLUMN",
        )
    if "class_code" in options.columns or "class_code" in options.defaults:
        raise InvalidInputError(
            "分类映射与 class_code 映射/默认值不能同时使用",
            "give either a class map or class_code (--class/--map/--set), not both",
        )


def _rejected(issues: list[Issue], source: str) -> ImportRejected:
    ordered = sorted(issues, key=lambda i: (i.row is not None, i.row or 0))
    return ImportRejected([RowProblem(i.row, i.reason, i.column) for i in ordered], source=source)


def _database_rejected(exc: DBAPIError, source: str) -> ImportRejected:
    """A driver error as one file-level problem (the transaction is already rolled back)."""
    diag = getattr(exc.orig, "diag", None)
    primary = getattr(diag, "message_primary", None) or str(exc.orig).strip().splitlines()[0]
    detail = getattr(diag, "message_detail", None)
    constraint = getattr(diag, "constraint_name", None)
    reason = f"the database refused the import, nothing was written: {primary}"
    if detail:
        reason += f" ({detail})"
    return ImportRejected([RowProblem(None, reason, constraint)], source=source)
