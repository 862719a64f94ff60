"""Tests of the synthetic demo district generator (gis.demo.district). Pure: no database."""

from __future__ import annotations

import ast
import hashlib
import os
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal

from app import states
from gis.demo import DemoDistrict, generate_district, read_district, write_district
from gis.demo import catalog as _demo_catalog
from gis.demo import components as _demo_components

ROOT = Path(__file__).resolve().parents[1]
# The project's copy of the 2013 class table, else the shared original.
CLASS_TABLES = (
    ROOT / "data" / "classification" / "classification_2013.csv",
    ROOT.parent / "shared" / "standards" / "classification_2013.csv",
)
METRIC = "EPSG:32651"
SMALL: dict[str, Any] = {"n_grids": 300, "seed": 4}  # a seed giving three subdistricts


@pytest.fixture(scope="module")
def small() -> DemoDistrict:
    return generate_district(**SMALL)


@pytest.fixture(scope="module")
def metric(small: DemoDistrict) -> dict[str, gpd.GeoDataFrame]:
    """The small district's spatial layers in metres."""
    layers = ("areas", "streets", "grids", "components", "events")
    return {name: getattr(small, name).to_crs(METRIC) for name in layers}


@pytest.fixture(scope="module")
def classes() -> pd.DataFrame:
    path = next((p for p in CLASS_TABLES if p.exists()), None)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("classification_2013.csv is missing in CI")
        pytest.skip("no classification_2013.csv available")
    return pd.read_csv(path, dtype=str)


def _area(geoms) -> float:
    return float(shapely.area(np.asarray(geoms)).sum())


def test_metadata_says_synthetic(small: DemoDistrict) -> None:
    meta = small.metadata
    assert meta["synthetic"] is True
    assert meta["generator"] == "citygrid gis.demo"
    assert meta["note_en"] == "synthetic demo data, not real geography"
    assert meta["note_zh"] == "合成示范数据，非真实地理信息"
    assert (meta["seed"], meta["n_grids"], meta["crs"]) == (4, 300, "EPSG:4326")
    assert meta["counts"]["grids"] == len(small.grids) == 300
    assert meta["counts"]["events"] == len(small.events) == round(300 * 13.0)
    assert "合成" in small.areas.loc[0, "name"] and small.areas.loc[0, "code"] == "320599"


def test_layers_are_wgs84(small: DemoDistrict) -> None:
    for name in ("areas", "streets", "grids", "components", "events"):
        frame = getattr(small, name)
        assert frame.crs.to_string() == "EPSG:4326"
        assert frame.geometry.is_valid.all()
    bounds = small.areas.total_bounds
    assert 120.4 < bounds[0] < bounds[2] < 120.8 and 31.1 < bounds[1] < bounds[3] < 31.5


def test_grids_do_not_overlap(metric) -> None:
    grids = metric["grids"]
    left, right = grids.sindex.query(grids.geometry, predicate="intersects")
    pairs = left < right
    overlap = shapely.intersection(
        grids.geometry.values[left[pairs]], grids.geometry.values[right[pairs]]
    )
    assert _area(overlap) < 1.0


def test_communities_are_tiled_by_their_grids(metric) -> None:
    grids, areas = metric["grids"], metric["areas"].set_index("code")
    assert set(grids["community_code"]) == set(areas.index[areas["level"] == "community"])
    for code, members in grids.groupby("community_code"):
        community = areas.geometry[code]
        union = shapely.union_all(members.geometry.values)
        assert shapely.symmetric_difference(union, community).area < 1.0, code
        outside = shapely.difference(members.geometry.values, community)
        assert _area(outside) < 0.01, code  # every grid lies inside its community


def test_upper_levels_are_unions_of_children(metric) -> None:
    areas = metric["areas"]
    for level in ("subdistrict", "district"):
        for _, parent in areas[areas["level"] == level].iterrows():
            children = areas[areas["parent_code"] == parent["code"]]
            assert len(children) > 0
            union = shapely.union_all(children.geometry.values)
            assert shapely.symmetric_difference(union, parent.geometry).area < 1.0
    assert areas.geom_type.isin(["Polygon", "MultiPolygon"]).all()


def test_grid_areas_are_about_ten_thousand_square_metres(metric) -> None:
    area = metric["grids"].area
    assert 8_000 <= area.mean() <= 12_000
    assert area.min() >= 2_500 and area.max() <= 35_000


def test_area_codes(small: DemoDistrict) -> None:
    areas = small.areas.set_index("code")
    width = {"district": 6, "subdistrict": 9, "community": 12}
    assert (areas.index.str.len() == areas["level"].map(width)).all()
    assert areas.index.is_unique
    children = areas[areas["level"] != "district"]
    assert all(
        code.startswith(parent) and parent in areas.index
        for code, parent in zip(children.index, children["parent_code"], strict=True)
    )
    assert areas.loc["320599", "parent_code"] is None


def test_grid_codes(small: DemoDistrict) -> None:
    codes = small.grids["code"]
    assert codes.str.fullmatch(r"\d{15}").all() and codes.is_unique
    assert (codes.str[:12] == small.grids["community_code"]).all()
    seq = codes.str[12:].astype(int)
    for _, group in seq.groupby(small.grids["community_code"]):
        assert sorted(group) == list(range(1, len(group) + 1))


def test_grid_sequence_runs_west_to_east_then_north_to_south(metric) -> None:
    grids = metric["grids"]
    geoms, codes = grids.geometry.values, grids["code"].to_numpy()
    a, b = grids.sindex.query(geoms, predicate="touches")
    keep = (a < b) & (
        grids["community_code"].to_numpy()[a] == grids["community_code"].to_numpy()[b]
    )
    a, b = a[keep], b[keep]
    shared = shapely.intersection(geoms[a], geoms[b])
    edge = shapely.length(shared) > 1.0  # neighbours across a street, not just at a corner
    a, b, shared = a[edge], b[edge], shared[edge]
    bounds = shapely.bounds(shared)
    north_south_street = (bounds[:, 3] - bounds[:, 1]) > (bounds[:, 2] - bounds[:, 0])
    xy = shapely.get_coordinates(shapely.centroid(geoms))
    seq = pd.Series(codes).str[12:].astype(int).to_numpy()
    ns = north_south_street
    assert ns.any() and (~ns).any()
    # Across a north-south street: neighbours in a row are consecutive numbers, west first.
    west_first = xy[a, 0] < xy[b, 0]
    west, east = np.where(west_first, a, b)[ns], np.where(west_first, b, a)[ns]
    assert (seq[east] == seq[west] + 1).all()
    # Across an east-west street: the northern row is numbered first.
    north_first = xy[a, 1] > xy[b, 1]
    north, south = np.where(north_first, a, b)[~ns], np.where(north_first, b, a)[~ns]
    assert (seq[south] > seq[north]).all()


def test_supervisors_cover_one_to_five_adjacent_grids(small: DemoDistrict) -> None:
    grids = small.grids
    assert grids["supervisor"].str.len().gt(0).all()
    for _, members in grids.groupby("supervisor"):
        assert 1 <= len(members) <= 5
        assert members["community_code"].nunique() == 1
        assert shapely.union_all(members.geometry.values).geom_type == "Polygon"


def test_units(small: DemoDistrict) -> None:
    units = small.units
    assert units["code"].is_unique
    kinds = units["kind"].value_counts()
    assert kinds["command_centre"] == 1 and 2 <= kinds["contractor"] <= 4
    subs = small.areas.loc[small.areas["level"] == "subdistrict", "code"]
    offices = units[units["kind"] == "subdistrict_office"]
    assert sorted(offices["subdistrict_code"]) == sorted(subs)
    assert units.loc[units["kind"] != "subdistrict_office", "subdistrict_code"].isna().all()
    names = "".join(units["name"])
    for word in (
        "指挥中心",
        "环境卫生",
        "市政",
        "园林",
        "执法",
        "交警",
        "供水",
        "供电",
        "燃气",
        "通信",
    ):
        assert word in names
    assert units["contact"].str.len().gt(0).all() and units["phone"].str.len().gt(0).all()


def test_grid_units_are_mostly_empty(small: DemoDistrict) -> None:
    unit = small.grids["unit_code"]
    assert unit.map(lambda u: u is None or isinstance(u, str)).all()
    assert 0.1 < unit.notna().mean() < 0.4  # ~25 %: the rest fall back to the subdistrict
    contractors = set(small.units.loc[small.units["kind"] == "contractor", "code"])
    assert set(unit.dropna()) <= contractors


def test_streets(small: DemoDistrict, metric) -> None:
    streets = small.streets
    assert set(streets["grade"]) <= {"严管街", "控制街", "标准街"}
    assert streets.geom_type.eq("LineString").all()
    assert streets["street_name"].str.contains(r"[大道路街巷]$").all()
    assert streets.groupby("street_name").size().median() > 3  # named streets are chains
    assert streets.groupby("street_name")["street_name_en"].nunique().eq(1).all()
    # Grid boundaries follow streets exactly.
    network = shapely.union_all(metric["streets"].geometry.values)
    boundary = shapely.union_all(metric["grids"].boundary.values)
    assert shapely.difference(boundary, network.buffer(0.01)).length < 0.01


def test_component_identifiers(small: DemoDistrict, classes) -> None:
    comps = small.components
    ident = comps["identifier"]
    assert ident.str.fullmatch(r"\d{16}").all() and ident.is_unique
    assert (ident.str[:6] == "320599").all() and (ident.str[6:10] == comps["class_code"]).all()
    for _, seq in ident.str[10:].astype(int).groupby(comps["class_code"]):
        assert sorted(seq) == list(range(1, len(seq) + 1))
    known = set(classes.loc[classes["kind"] == "component", "minor_code"])
    assert set(comps["class_code"]) <= known
    assert 12 <= len(comps) / len(small.grids) <= 25


def test_components_reference_units_and_grids(small: DemoDistrict, metric) -> None:
    comps = small.components
    assert set(comps["status"]) <= {"in_service", "damaged", "missing"}
    assert comps["status"].eq("in_service").mean() > 0.9
    units = set(small.units["code"])
    assert set(comps["owner_unit_code"]) <= units and set(comps["maintainer_unit_code"]) <= units
    # Each component lies strictly inside exactly one grid, never on a boundary.
    joined = gpd.sjoin(
        metric["components"], metric["grids"][["code", "geometry"]], predicate="within"
    )
    assert len(joined) == len(comps) and joined.index.is_unique


def test_components_stand_near_streets(metric) -> None:
    streets = metric["streets"]
    _, dist = streets.sindex.nearest(metric["components"].geometry, return_distance=True)
    assert dist.max() <= 15.0
    lights = metric["components"][metric["components"]["class_code"] == "0118"]
    _, light_dist = streets.sindex.nearest(lights.geometry, return_distance=True)
    assert light_dist.min() >= 2.9  # set back from the centreline, not on it


def test_events_classes_exist(small: DemoDistrict, classes) -> None:
    known = set(zip(classes["kind"], classes["minor_code"], strict=True))
    used = set(zip(small.events["class_kind"], small.events["class_code"], strict=True))
    assert used <= known
    share = small.events["class_kind"].eq("component").mean()
    assert 0.12 < share < 0.22


def test_catalogue_codes_exist(classes) -> None:
    known = set(zip(classes["kind"], classes["minor_code"], strict=True))
    events = set(_demo_catalog.EVENT_WEIGHTS) | set(_demo_catalog.EVENT_TEXT)
    for spec in _demo_catalog.HOTSPOT_KINDS.values():
        events |= set(spec["classes"])
    comps = set(_demo_catalog.COMPONENT_WEIGHTS) | set(_demo_components.OWNERS)
    assert {("event", c) for c in events} <= known
    assert {("component", c) for c in comps} <= known


def test_events_inside_district_and_near_streets(small: DemoDistrict, metric) -> None:
    events = metric["events"]
    district = metric["areas"].geometry[metric["areas"]["level"] == "district"].iloc[0]
    assert shapely.contains(district, events.geometry.values).all()
    joined = gpd.sjoin(events, metric["grids"][["code", "geometry"]], predicate="within")
    assert len(joined) == len(events) and joined.index.is_unique
    _, dist = metric["streets"].sindex.nearest(events.geometry, return_distance=True)
    assert (dist <= 30).mean() > 0.8


def test_component_problems_are_at_components(metric) -> None:
    events, comps = metric["events"], metric["components"]
    problems = events[events["class_kind"] == "component"]
    for code, group in problems.groupby("class_code"):
        same = comps[comps["class_code"] == code]
        _, dist = same.sindex.nearest(group.geometry, return_distance=True)
        assert dist.max() <= 3.0, code


def test_event_attributes(small: DemoDistrict) -> None:
    ev = small.events
    assert str(ev["observed_at"].dt.tz) == "Asia/Shanghai"
    assert ev["observed_at"].min() >= pd.Timestamp("2025-11-01", tz="Asia/Shanghai")
    assert ev["observed_at"].max() < pd.Timestamp("2026-11-01", tz="Asia/Shanghai")
    assert ev["observed_at"].is_monotonic_increasing
    share = ev["source"].value_counts(normalize=True)
    assert set(share.index) <= {"supervisor", "hotline", "public_app", "video", "higher_order"}
    assert 0.45 < share["supervisor"] < 0.65 and 0.18 < share["hotline"] < 0.33
    assert ev["location_text"].str.len().between(4, 256).all()
    assert ev["description"].str.len().gt(0).all() and ev["reporter"].str.len().gt(0).all()


def test_supervisors_report_their_own_grids(small: DemoDistrict, metric) -> None:
    events = metric["events"][metric["events"]["source"] == "supervisor"]
    joined = gpd.sjoin(events, metric["grids"][["supervisor", "geometry"]], predicate="within")
    assert len(joined) == len(events) and (joined["reporter"] == joined["supervisor"]).all()


def test_event_rhythms(small: DemoDistrict) -> None:
    ev = small.events
    hour = ev["observed_at"].dt.hour
    supervisor = ev["source"] == "supervisor"
    assert hour[supervisor].between(6, 22).mean() > 0.97  # patrols are day shifts
    barbecue = ev[(ev["class_kind"] == "event") & (ev["class_code"] == "0510")]
    assert barbecue["observed_at"].dt.hour.isin([18, 19, 20, 21, 22, 23, 0, 1]).mean() > 0.6
    weekday = ev.loc[supervisor, "observed_at"].dt.day_of_week
    assert (weekday < 5).mean() > 5 / 7  # fewer patrol reports at weekends


def test_hotspots_concentrate_events(small: DemoDistrict, metric) -> None:
    spots = small.metadata["hotspots"]
    assert 6 <= len(spots) <= 12
    xy = gpd.GeoSeries(
        gpd.points_from_xy([s["lon"] for s in spots], [s["lat"] for s in spots]), crs="EPSG:4326"
    ).to_crs(METRIC)
    events = metric["events"]
    grids = metric["grids"]
    in_grid = gpd.sjoin(events, grids[["code", "geometry"]], predicate="within")["code"]
    per_grid = in_grid.value_counts().reindex(grids["code"], fill_value=0).to_numpy()
    ratios = [
        per_grid[(grids.centroid.distance(p) < 150).to_numpy()].mean() / per_grid.mean() for p in xy
    ]
    assert np.mean(ratios) > 1.4
    # Each hotspot has its own class bias: dust and road works around the building site.
    site = xy[[s["kind"] for s in spots].index("construction")]
    works = events["class_code"].isin(["0302", "0303", "0304", "0112"]) & (
        events["class_kind"] == "event"
    )
    assert works[events.distance(site) < 150].mean() > 2 * works.mean()


def test_write_read_roundtrip(small: DemoDistrict, tmp_path: Path) -> None:
    paths = write_district(small, tmp_path)
    assert set(paths) == {"metadata", "areas", "streets", "grids", "units", "components", "events"}
    assert all(p.exists() for p in paths.values())
    _assert_same(read_district(tmp_path), small)
    header = pd.read_csv(paths["events"], nrows=2, dtype=str)
    assert list(header.columns[-2:]) == ["lon", "lat"]
    assert header["observed_at"].str.endswith("+08:00").all()
    assert "合成示范" in paths["areas"].read_text(encoding="utf-8")  # UTF-8 kept, not escaped


def test_generation_is_deterministic(small: DemoDistrict, tmp_path: Path) -> None:
    first = _hashes(write_district(small, tmp_path / "a"))
    second = _hashes(write_district(generate_district(**SMALL), tmp_path / "b"))
    assert first == second
    other = _hashes(write_district(generate_district(n_grids=300, seed=8), tmp_path / "c"))
    assert all(first[k] != other[k] for k in ("grids", "streets", "components", "events"))


def test_gis_never_imports_the_web_stack() -> None:
    forbidden = {"fastapi", "sqlalchemy", "geoalchemy2", "starlette", "app", "psycopg2"}
    paths = sorted((ROOT / "gis").rglob("*.py"))
    assert len(paths) > 30 and any(p.parent.name == "grids" for p in paths)
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""] if node.level == 0 else []
            else:
                continue
            assert not {n.split(".")[0] for n in names} & forbidden, str(path)


def test_committed_data_matches_the_generator() -> None:
    committed = read_district(ROOT / "data" / "grids")
    _assert_same(committed, generate_district())


def _assert_same(got: DemoDistrict, want: DemoDistrict) -> None:
    assert got.metadata == want.metadata
    pd.testing.assert_frame_equal(got.units, want.units)
    for name in ("areas", "streets", "grids", "components", "events"):
        assert_geodataframe_equal(getattr(got, name), getattr(want, name), check_less_precise=False)


def _hashes(paths: dict[str, Path]) -> dict[str, str]:
    return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in paths.items()}


def test_demo_accounts_sign_in_and_the_supervisor_owns_busy_grids(demo_copy, tmp_path) -> None:
    from sqlalchemy import text

    from app.db.session import make_engine
    from app.services.accounts.users import authenticate
    from app.services.demo.load import create_demo_accounts
    from app.settings import Settings

    engine = make_engine(demo_copy)
    try:
        path = create_demo_accounts(engine, Settings(database_url=demo_copy, home=tmp_path))
        assert path.stat().st_mode & 0o077 == 0, "the password file is readable by others"
        lines = path.read_text(encoding="utf-8").splitlines()
        password = lines[0].rsplit(": ", 1)[1].rstrip(")")
        rows = [line.split("\t") for line in lines[1:]]
        assert [r[0] for r in rows][:2] == ["demo-admin", "demo-planner"]
        for username, roles, _ in rows:
            assert authenticate(engine, username, password)["roles"] == roles.split(",")
        supervisor = dict((r[0], r[2]) for r in rows)["demo-supervisor"]
        with engine.connect() as conn:
            open_cases = conn.execute(
                text(
                    "SELECT count(*) FROM event e JOIN grid g ON g.code = e.grid_code "
                    f"WHERE g.supervisor = :s AND {states.is_open('e.status')}"
                ),
                {"s": supervisor},
            ).scalar_one()
        assert open_cases > 0
    finally:
        engine.dispose()
