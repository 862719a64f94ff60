"""Real data: the whole Cambridge, MA street-asset census (11 layers, 26,241 features) through the
component import, driven by the class-map data file data/classification/cambridge_assets_2013.csv.

Set-up as in tests/test_assignment_realdata.py: the 13 neighbourhoods are communities of a
made-up sub-district 250001001 and the centerlines the streets; the grids are the project's
own (gis.grids.generate: blocks between streets, ~10,000 m², no slivers, as the topology rules of
migration 0006 demand). Checked against independent geopandas/shapely computations: every component inside
the grids has the grid that contains it and none outside; where a centerline lies within
50 m (EPSG:26986 metres) the component has that street. Re-importing changes nothing, and a
corrupted copy is refused whole.
"""

from __future__ import annotations

import os

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import Polygon
from sqlalchemy import text

from app.db.session import make_engine
from app.errors import ImportRejected
from app.main import create_app
from app.services.catalog.classes import CLASS_DIR, read_standard_table
from app.services.catalog.imports import ImportOptions, import_file, import_frame
from app.settings import Settings
from gis.grids import generate_grids
from gis.io import read_table
from gis.io.census import (
    class_map_for,
)
from tests import auth
from tests import cambridge as cambridge_areas
from tests.cambridge import DISTRICT, METRIC
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.realdata
CLASS_MAP = CLASS_DIR / "cambridge_assets_2013.csv"
# Planning states in two layers' Status columns: not yet (or never) in public space.
PLANNED = {
    "RECREATION_BikeRacks": ("Approved", "Rejected", "Pending"),
    "TRAFFIC_MeteredParkingSpaces": ("Proposed",),
}
# file -> (features, class code) as counted in the data's README
LAYERS = {
    "INFRA_StreetLights": (6117, "0118"),
    "INFRA_Hydrants": (1960, "0113"),
    "DPW_LitterBarrels": (990, "0305"),
    "DPW_PedestrianRamps": (4605, "2140"),
    "INFRA_UtilityPoles": (2457, "0117"),
    "TRAFFIC_Signals": (785, "0210"),
    "RECREATION_BikeRacks": (2892 - 200, "0212"),
    "TRAFFIC_MeteredParkingSpaces": (3320 - 8, "0201"),
    "TRANS_BusShelters": (68, "0203"),
    "INFRA_ParkBenches": (3017, "0407"),
    "INFRA_OverheadSigns": (30, "0209"),
}


def census() -> ImportOptions:
    # ~5 % of the assets lie just outside the neighbourhoods: the district is the fallback
    return ImportOptions(class_map=CLASS_MAP, defaults={"district_code": DISTRICT}, actor="census")


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one()
            for t in ("component", "component_source", "component_history", "component_sequence")
        }


@pytest.fixture(scope="module")
def cambridge(shared_dir, server_url, template_db, tmp_path_factory):
    root = shared_dir / "realdata" / "cambridge_ma"
    tmp = tmp_path_factory.mktemp("cambridge_components")
    name = f"citygrid_cambridge_components_{os.getpid()}"  # concurrent sessions share a server
    url = create_database(server_url, name, template=template_db)
    engine = make_engine(url)
    settings = Settings(database_url=url, home=tmp / "home")
    hoods = cambridge_areas.import_areas(engine, settings, root)
    streets = root / "streets" / "TRANS_Centerlines.geojson"
    grids = generate_grids(hoods[["code", "geometry"]], gpd.read_file(streets), metric_crs=METRIC)
    import_frame(
        engine,
        settings,
        "grids",
        grids[["code", "geometry"]],
        ImportOptions(defaults={"valid_from": "2000-01-01T00:00:00+00:00"}),
    )
    import_file(
        engine,
        settings,
        "streets",
        streets,
        ImportOptions(columns={"street_name": "Street"}, defaults={"street_name": "(unnamed)"}),
    )
    planner = auth.headers(settings, "planner")
    with TestClient(create_app(settings), headers=planner) as client:  # 2013: no ramp class
        r = client.post(
            "/api/v1/classes",
            json={
                "code": "2140",
                "name": "无障碍坡道",
                "name_en": "pedestrian curb ramp",
                "geometry_type": "point",
            },
        )
        assert r.status_code == 201, r.text
    refused, files = {}, {}
    for layer, states in PLANNED.items():
        # the file as published is refused (planned features), the census takes the rest
        with pytest.raises(ImportRejected) as exc:
            import_file(
                engine, settings, "components", root / "assets" / f"{layer}.geojson", census()
            )
        refused[layer] = exc.value.problems
        frame = gpd.read_file(root / "assets" / f"{layer}.geojson")
        (tmp / "census").mkdir(exist_ok=True)
        files[layer] = tmp / "census" / f"{layer}.geojson"
        frame[~frame["Status"].isin(states)].to_file(files[layer], driver="GeoJSON")
    files = {layer: files.get(layer, root / "assets" / f"{layer}.geojson") for layer in LAYERS}
    reports = {
        layer: import_file(engine, settings, "components", files[layer], census())
        for layer in LAYERS
    }
    yield {
        "engine": engine,
        "settings": settings,
        "root": root,
        "grids": grids,
        "reports": reports,
        "tmp": tmp,
        "files": files,
        "refused": refused,
    }
    engine.dispose()
    drop_database(server_url, name)


def test_every_layer_maps_to_a_class_of_its_scheme():
    for scheme in ("2013", "2026"):
        table = read_table(CLASS_DIR / f"cambridge_assets_{scheme}.csv")
        known = {r["code"] for r in read_standard_table(scheme) if r["kind"] == "component"}
        for layer in LAYERS:
            cmap = class_map_for(table, layer)
            used = set(cmap.classes.values()) | ({cmap.default} - {None})
            assert used and used <= known | {"2140"}, (scheme, layer, used)


def test_planned_features_are_refused_with_their_rows(cambridge, shared_dir):
    for layer, states in PLANNED.items():
        frame = gpd.read_file(
            shared_dir / "realdata" / "cambridge_ma" / "assets" / f"{layer}.geojson"
        )
        planned = frame.index[frame["Status"].isin(states)] + 1
        problems = cambridge["refused"][layer]
        assert [p.row for p in problems] == planned.tolist()
        assert all(p.column == "status" and "planning state" in p.reason for p in problems)


def test_census_counts_grids_and_streets(cambridge):
    engine, reports = cambridge["engine"], cambridge["reports"]
    for layer, (n, _) in LAYERS.items():
        assert reports[layer].rows_read == reports[layer].rows_written == n, layer
    with engine.connect() as conn:
        per_class = dict(
            conn.execute(text("SELECT class_code, count(*) FROM component GROUP BY 1")).all()
        )
        statuses = dict(
            conn.execute(
                text("SELECT status, count(*) FROM component WHERE class_code = '0201' GROUP BY 1")
            ).all()
        )
        stored = gpd.GeoDataFrame.from_postgis(
            "SELECT identifier, class_code, grid_code, street_id, "
            "ST_PointOnSurface(geom) AS pt FROM component",
            conn,
            geom_col="pt",
        )
        segments = gpd.GeoDataFrame.from_postgis(
            "SELECT street_id, geom FROM street_segment", conn, geom_col="geom"
        )
    assert per_class == {code: n for n, code in LAYERS.values()}
    assert sum(per_class.values()) == 26_241 - 208  # 200 planned racks, 8 proposed spaces
    # the meters' own Status words: In Service, (Temp) Out of Service, Permanently Removed
    assert statuses == {"in_service": 2558, "damaged": 296 + 238, "retired": 220}

    # grids: the grid geopandas finds (smallest code on shared edges), or none
    hit = gpd.sjoin(stored, cambridge["grids"], predicate="intersects", how="left")
    expected = hit.groupby(level=0)["code"].min().reindex(stored.index)
    assert (stored["grid_code"].fillna("-") == expected.fillna("-")).all()
    inside = expected.notna().mean()
    assert 0.93 < inside < 1.0  # some assets stand just outside the neighbourhoods

    # streets: the nearest centerline within 50 m, measured independently in metres
    pts, segs = stored.to_crs(METRIC), segments.to_crs(METRIC)
    tree = shapely.STRtree(segs.geometry.values)
    nearest, dist = tree.query_nearest(pts.geometry.values, return_distance=True, all_matches=False)
    street = pd.Series(segs["street_id"].to_numpy()[nearest[1]], index=pts.index[nearest[0]])
    d = pd.Series(dist, index=pts.index[nearest[0]])
    clear = (d - 50).abs() > 0.5
    assert stored["street_id"][clear & (d > 50)].isna().all()
    near = clear & (d < 50)
    agree = (stored["street_id"][near] == street[near]).mean()
    assert stored["street_id"][near].notna().all() and agree > 0.995  # ties at intersections
    lights = stored["class_code"] == "0118"
    assert stored["street_id"][lights].notna().mean() > 0.99


def test_reimport_changes_nothing(cambridge):
    engine, settings = cambridge["engine"], cambridge["settings"]
    before = counts(engine)
    for layer, (n, _) in LAYERS.items():
        report = import_file(engine, settings, "components", cambridge["files"][layer], census())
        assert (report.rows_written, report.details) == (0, {"already_imported": n}), layer
    assert counts(engine) == before


def test_corrupted_copies_are_refused_whole(cambridge):
    engine, settings, root, tmp = (cambridge[k] for k in ("engine", "settings", "root", "tmp"))
    before = counts(engine)
    shelters = gpd.read_file(root / "assets" / "TRANS_BusShelters.geojson")
    x, y = shelters.geometry.iloc[10].exterior.coords[0]
    d = 0.0001
    shelters.loc[10, "geometry"] = Polygon([(x, y), (x + d, y + d), (x + d, y), (x, y + d)])
    shelters.to_file(tmp / "TRANS_BusShelters.geojson", driver="GeoJSON")
    with pytest.raises(ImportRejected) as exc:  # same layer name, so also a re-import
        import_file(engine, settings, "components", tmp / "TRANS_BusShelters.geojson", census())
    ((row, column, reason),) = [(p.row, p.column, p.reason) for p in exc.value.problems]
    assert (row, column) == (11, "geometry") and "Self-intersection" in reason

    barrels = gpd.read_file(root / "assets" / "DPW_LitterBarrels.geojson")
    barrels.loc[499, "TYPE"] = "CONCRETE"
    barrels.to_file(tmp / "DPW_LitterBarrels.geojson", driver="GeoJSON")
    with pytest.raises(ImportRejected) as exc:  # 989 rows known, one type now unknown
        import_file(engine, settings, "components", tmp / "DPW_LitterBarrels.geojson", census())
    assert [(p.row, p.column) for p in exc.value.problems] == [(500, "TYPE")]
    assert "'CONCRETE' has no class" in exc.value.problems[0].reason
    assert counts(engine) == before


def test_summary_per_community_adds_up(cambridge):
    with TestClient(create_app(cambridge["settings"])) as client:
        body = client.get("/api/v1/components/summary?by=community").json()
        lights = client.get("/api/v1/components?class=0118&limit=1").json()["numberMatched"]
    # totals count what stands: the 220 permanently removed spaces are retired
    assert body["totals"] == {code: n - 220 * (code == "0201") for n, code in LAYERS.values()}
    communities = {i["key"] for i in body["items"]} - {None}
    assert len(communities) == 13 and lights == 6117
    assert all(i["name"] for i in body["items"] if i["key"])
