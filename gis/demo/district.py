"""Deterministic generator of a plausible, entirely SYNTHETIC demo district.

The district "云溪区（合成示范）" (code 320599) sits around lon 120.60, lat 31.30, but none of
it is real: streets, areas, units, people, components and cases are all invented. It gives
CityGrid demos, tests and benchmarks data shaped like a Chinese digital city-management
platform's (GB/T 30428): ~10,000 m2 unit grids that follow streets and tile communities,
15-digit grid codes, 16-digit component identifiers, and a year of cases with hotspots and
daily, weekly and seasonal rhythms.

Everything is built in metres (EPSG:32651) and published in EPSG:4326. Lattice nodes are
reprojected and rounded to 7 decimals (~1 cm) once; every polygon and segment is made from
those rounded nodes, and areas are coverage unions of their grids, so the layers are exactly
consistent both in memory and in the written files.

Grid sequence rule (3 digits inside a community): grids are numbered by lattice row from
north to south, and inside a row from west to east. A lattice row is the strip of blocks
between two consecutive east-west streets, so "row" is a street-bounded row of blocks, not
a band of latitude. Subdistricts (inside the district) and communities (inside a
subdistrict) are numbered in the same reading order of their north-west-most grid.

Examples
--------
>>> from gis.demo.district import generate_district
>>> district = generate_district(n_grids=300, events_per_grid=1.0)
>>> district.metadata["synthetic"], len(district.grids)
(True, 300)
>>> district.grids["code"].str.len().unique().tolist()
[15]
"""

from __future__ import annotations

import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from gis.demo._areas import (
    DISTRICT_CODE,
    DISTRICT_NAME,
    area_codes,
    build_areas,
    build_grids,
    grid_polygons,
    supervisor_groups,
)
from gis.demo._events import Hotspot, make_events
from gis.demo._layout import GEOGRAPHIC_CRS, GRADE_ZH, METRIC_CRS, Layout, build_layout
from gis.demo._names import person_names
from gis.demo._streets import Streets, build_streets
from gis.demo._units import CONTRACTORS, DEPARTMENTS, build_units
from gis.demo.components import place_components

__all__ = ["DemoDistrict", "generate_district", "read_district", "write_district"]

TIMEZONE = "Asia/Shanghai"
GENERATOR = "citygrid gis.demo"
_GEOJSON = ("areas", "streets", "grids")
_NULLABLE = {"areas": ("parent_code",), "grids": ("unit_code",), "units": ("subdistrict_code",)}
_FILES = {
    "metadata": "metadata.json",
    "areas": "areas.geojson",
    "streets": "streets.geojson",
    "grids": "grids.geojson",
    "units": "units.csv",
    "components": "components.csv.gz",
    "events": "events.csv.gz",
}


@dataclass
class DemoDistrict:
    """A synthetic district: metadata plus one table per layer, all in EPSG:4326.

    Text columns use pandas' ``str`` dtype, except the nullable ones (``areas.parent_code``,
    ``grids.unit_code``, ``units.subdistrict_code``), which are ``object`` holding ``str`` or
    ``None``. ``events.observed_at`` is ``datetime64[us, Asia/Shanghai]``.
    """

    metadata: dict
    areas: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    units: pd.DataFrame
    components: gpd.GeoDataFrame
    events: gpd.GeoDataFrame


def generate_district(
    n_grids: int = 2500,
    seed: int = 20261121,
    events_per_grid: float = 13.0,
    progress: bool = False,
) -> DemoDistrict:
    """Generate a synthetic district of exactly ``n_grids`` unit grids.

    Parameters
    ----------
    n_grids : int
        Number of unit grids (~10,000 m2 each). 2,500 makes a ~25 km2 district;
        100,000 a megacity-sized benchmark.
    seed : int
        Seed of every random choice: the same seed gives identical output.
    events_per_grid : float
        Reports per grid over the year 2025-11-01 .. 2026-10-31 (13 matches a prefecture
        city: 260,000 cases over 20,000 grids).
    progress : bool
        Show a tqdm progress bar over the generation steps.

    Returns
    -------
    DemoDistrict

    Examples
    --------
    >>> d = generate_district(n_grids=300, seed=1, events_per_grid=2.0)
    >>> sorted(d.areas["level"].unique())
    ['community', 'district', 'subdistrict']
    """
    if events_per_grid < 0:
        raise ValueError("events_per_grid must not be negative")
    # Independent streams per stage: tuning one stage never reshuffles the others.
    rng = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    step = _Steps(progress)
    layout = build_layout(n_grids, rng[0])
    streets = build_streets(layout, rng[1])
    step("layout")
    codes, polygons = area_codes(layout), grid_polygons(layout)
    areas = build_areas(layout, codes, polygons, rng[2])
    group = supervisor_groups(layout, rng[3])
    n_units = 1 + layout.n_subdistricts + len(DEPARTMENTS) + len(CONTRACTORS)
    people = person_names(n_units + int(group.max()) + 1, rng[3])  # all distinct
    units = build_units(areas[areas["level"] == "subdistrict"], people[:n_units], rng[3])
    grids = build_grids(layout, codes, polygons, group, people[n_units:], rng[3])
    step("areas")
    contractor = grids["unit_code"].fillna("").to_numpy(dtype=object)
    comps = place_components(layout, streets, contractor, rng[4])
    step("components")
    supervisors = grids["supervisor"].to_numpy(dtype=object)
    n_events = round(n_grids * events_per_grid)
    events, spots = make_events(layout, streets, comps, supervisors, n_events, rng[5])
    step("events")
    to_ll = Transformer.from_crs(METRIC_CRS, GEOGRAPHIC_CRS, always_xy=True)
    district = DemoDistrict(
        metadata={},
        areas=_normalise(areas, "areas"),
        streets=_street_table(layout, streets),
        grids=_normalise(grids, "grids"),
        units=_normalise(units, "units"),
        components=_component_table(comps, to_ll),
        events=_event_table(events, to_ll),
    )
    district.metadata = _metadata(district, seed, n_grids, events_per_grid, spots, to_ll)
    step("assembled")
    step.close()
    return district


def write_district(district: DemoDistrict, out_dir: str | Path) -> dict[str, Path]:
    """Write the district as GeoJSON, CSV and JSON files; returns ``{layer: path}``.

    Polygons and streets go to RFC 7946 GeoJSON with 7 decimals; the point layers go to
    gzipped CSV with ``lon``/``lat`` columns to keep the repository small. Output is
    byte-for-byte reproducible (no timestamps in the gzip headers).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {layer: out / name for layer, name in _FILES.items()}
    text = json.dumps(district.metadata, ensure_ascii=False, indent=2) + "\n"
    paths["metadata"].write_text(text, encoding="utf-8")
    for layer in _GEOJSON:
        frame = getattr(district, layer)
        if frame.crs is None or frame.crs.to_string() != GEOGRAPHIC_CRS:
            raise ValueError(f"{layer} must be in {GEOGRAPHIC_CRS}")
        paths[layer].unlink(missing_ok=True)
        frame.to_file(
            paths[layer],
            driver="GeoJSON",
            engine="pyogrio",
            layer=layer,
            COORDINATE_PRECISION=7,
            RFC7946="YES",
        )
    district.units.to_csv(paths["units"], index=False, lineterminator="\n", encoding="utf-8")
    for layer in ("components", "events"):
        _write_points(getattr(district, layer), paths[layer])
    return paths


def read_district(in_dir: str | Path) -> DemoDistrict:
    """Read a district written by :func:`write_district` back into the same dtypes."""
    src = Path(in_dir)
    metadata = json.loads((src / _FILES["metadata"]).read_text(encoding="utf-8"))
    layers = {
        layer: _normalise(gpd.read_file(src / _FILES[layer], engine="pyogrio"), layer)
        for layer in _GEOJSON
    }
    units = pd.read_csv(src / _FILES["units"], dtype=str, keep_default_na=False)
    units["subdistrict_code"] = units["subdistrict_code"].replace("", None)
    points = {}
    for layer in ("components", "events"):
        frame = pd.read_csv(src / _FILES[layer], dtype=str, keep_default_na=False)
        geometry = shapely.points(frame.pop("lon").astype(float), frame.pop("lat").astype(float))
        if layer == "events":
            frame["observed_at"] = pd.to_datetime(frame["observed_at"], format="ISO8601")
        points[layer] = _normalise(
            gpd.GeoDataFrame(frame, geometry=geometry, crs=GEOGRAPHIC_CRS), layer
        )
    return DemoDistrict(metadata=metadata, units=_normalise(units, "units"), **layers, **points)


class _Steps:
    """Optional tqdm bar over the generation stages (tqdm imported only when asked for)."""

    def __init__(self, enabled: bool) -> None:
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=5, desc="demo district", unit="step")

    def __call__(self, label: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(label)
            self.bar.update()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _normalise(frame: pd.DataFrame, layer: str) -> pd.DataFrame:
    """Same dtypes whether generated or read back: ``str`` text, object+None if nullable."""
    frame = frame.reset_index(drop=True)
    for col in frame.columns:
        if col in _NULLABLE.get(layer, ()):
            raw = frame[col].to_numpy(dtype=object)
            frame[col] = pd.Series(np.where(pd.isna(raw), None, raw), dtype=object)
        elif col != "geometry" and pd.api.types.is_string_dtype(frame[col].dtype):
            frame[col] = frame[col].astype("str")
    if "observed_at" in frame:
        frame["observed_at"] = _localise(frame["observed_at"])
    return frame


def _localise(times: pd.Series) -> pd.Series:
    times = pd.Series(times)
    if times.dt.tz is None:
        times = times.dt.tz_localize(TIMEZONE)
    return times.dt.tz_convert(TIMEZONE).dt.as_unit("us")


def _points(x: np.ndarray, y: np.ndarray, to_ll: Transformer) -> np.ndarray:
    lon, lat = to_ll.transform(x, y)
    return shapely.points(np.round(lon, 7), np.round(lat, 7))


def _street_table(layout: Layout, streets: Streets) -> gpd.GeoDataFrame:
    ll = layout.node_ll
    coords = np.stack(
        [
            ll[streets.node0[:, 0], streets.node0[:, 1]],
            ll[streets.node1[:, 0], streets.node1[:, 1]],
        ],
        axis=1,
    )
    frame = pd.DataFrame(
        {
            "street_name": streets.name_zh[streets.street],
            "street_name_en": streets.name_en[streets.street],
            "grade": np.array(GRADE_ZH, dtype=object)[streets.seg_grade],
        }
    )
    return _normalise(
        gpd.GeoDataFrame(frame, geometry=shapely.linestrings(coords), crs=GEOGRAPHIC_CRS), "streets"
    )


def _component_table(comps: pd.DataFrame, to_ll: Transformer) -> gpd.GeoDataFrame:
    """Number components per class (census order: by grid, then north->south, west->east)."""
    klass = comps["class_code"].astype(int).to_numpy()
    order = np.lexsort(
        (comps["x"].to_numpy(), -comps["y"].to_numpy(), comps["cell"].to_numpy(), klass)
    )
    comps = comps.iloc[order].reset_index(drop=True)
    seq = comps.groupby("class_code", sort=False).cumcount().to_numpy() + 1
    if seq.max(initial=0) > 999_999:
        raise ValueError(
            "more than 999,999 components of one class: the 6-digit sequence overflows"
        )
    ident = [
        f"{DISTRICT_CODE}{c}{s:06d}"
        for c, s in zip(comps["class_code"].tolist(), seq.tolist(), strict=True)
    ]
    frame = pd.DataFrame(
        {
            "identifier": ident,
            "class_code": comps["class_code"],
            "status": comps["status"],
            "owner_unit_code": comps["owner_unit_code"],
            "maintainer_unit_code": comps["maintainer_unit_code"],
        }
    )
    geometry = _points(comps["x"].to_numpy(), comps["y"].to_numpy(), to_ll)
    return _normalise(gpd.GeoDataFrame(frame, geometry=geometry, crs=GEOGRAPHIC_CRS), "components")


def _event_table(ev: pd.DataFrame, to_ll: Transformer) -> gpd.GeoDataFrame:
    cols = [
        "class_kind",
        "class_code",
        "source",
        "observed_at",
        "description",
        "location_text",
        "reporter",
    ]
    frame = ev[cols].copy()
    geometry = _points(ev["x"].to_numpy(), ev["y"].to_numpy(), to_ll)
    return _normalise(gpd.GeoDataFrame(frame, geometry=geometry, crs=GEOGRAPHIC_CRS), "events")


def _metadata(
    d: DemoDistrict,
    seed: int,
    n_grids: int,
    events_per_grid: float,
    spots: list[Hotspot],
    to_ll: Transformer,
) -> dict:
    """Provenance, counts and the hotspots (ground truth for hotspot-detection demos)."""
    level = d.areas["level"].value_counts()
    hotspots = []
    for s in spots:
        lon, lat = to_ll.transform(*s.xy)
        hotspots.append({"name": s.name, "kind": s.kind, "lon": round(float(lon), 7),
                         "lat": round(float(lat), 7), "sigma_m": round(s.sigma, 1)})  # fmt: skip
    return {
        "synthetic": True,
        "generator": GENERATOR,
        "generator_version": 1,
        "seed": seed,
        "n_grids": n_grids,
        "events_per_grid": float(events_per_grid),
        "district_code": DISTRICT_CODE,
        "name": DISTRICT_NAME[0],
        "name_en": DISTRICT_NAME[1],
        "note_zh": "合成示范数据，非真实地理信息",
        "note_en": "synthetic demo data, not real geography",
        "crs": GEOGRAPHIC_CRS,
        "build_crs": METRIC_CRS,
        "classification": "GB/T 30428.2-2013 (4-digit class codes; kind + code identify a class)",
        "period": {"start": "2025-11-01", "end": "2026-10-31", "timezone": TIMEZONE},
        "counts": {
            "areas": len(d.areas),
            "subdistricts": int(level.get("subdistrict", 0)),
            "communities": int(level.get("community", 0)),
            "grids": len(d.grids),
            "street_segments": len(d.streets),
            "streets": int(d.streets["street_name"].nunique()),
            "units": len(d.units),
            "supervisors": int(d.grids["supervisor"].nunique()),
            "components": len(d.components),
            "events": len(d.events),
        },
        "hotspots": hotspots,
    }


def _write_points(frame: gpd.GeoDataFrame, path: Path) -> None:
    """CSV with lon/lat (7 decimals) instead of geometry, gzipped without a timestamp."""
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    if "observed_at" in table:
        # Asia/Shanghai has been UTC+8 all year round since 1991, so the offset is constant.
        local = table["observed_at"].dt.tz_convert(TIMEZONE).dt.tz_localize(None)
        stamps = np.datetime_as_string(local.to_numpy().astype("datetime64[s]"), unit="s")
        table["observed_at"] = np.char.add(stamps, "+08:00")
    # Formatting floats in Python is several times faster than to_csv's float_format.
    table["lon"] = [f"{v:.7f}" for v in frame.geometry.x.tolist()]
    table["lat"] = [f"{v:.7f}" for v in frame.geometry.y.tolist()]
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, lineterminator="\n")
    with path.open("wb") as raw, gzip.GzipFile("", "wb", 6, raw, mtime=0) as gz:
        gz.write(buffer.getvalue().encode("utf-8"))
