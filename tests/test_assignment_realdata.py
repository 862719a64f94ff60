"""Assignment on real data (Cambridge, MA) checked against an independent computation.

Grids: a 100 m lattice (EPSG:26986) cut by the 13 neighbourhoods (communities). Events: the
9,110 geocoded crash records. Every point must land in the grid geopandas finds (smallest
code on shared boundaries), the nearest street must be the one shapely finds, and the bulk
importer must store exactly what the API's preview decides.
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.db.session import make_engine
from app.main import create_app
from app.services.catalog.imports import ImportOptions, import_file, import_frame
from app.services.intake.event_import import EventImportOptions, import_events
from app.settings import Settings
from tests import auth
from tests import cambridge as cambridge_areas
from tests.cambridge import DISTRICT, METRIC
from tests.conftest import create_database, drop_database

pytestmark = pytest.mark.realdata
UNITS = (
    "code,name,kind,area_code\nCAM-OFFICE,Cambridge office,subdistrict_office,250001001\n"
    "CAM-DPW,Public Works,department,\n"
)


def lattice_grids(hoods: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """100 m squares cut by the communities, coded north→south then west→east."""
    metric = hoods.to_crs(METRIC)
    x0, y0, x1, y1 = metric.total_bounds
    xs, ys = np.arange(x0, x1, 100.0), np.arange(y0, y1, 100.0)
    squares = [shapely.box(x, y, x + 100, y + 100) for x in xs for y in ys]
    cells = gpd.GeoDataFrame(geometry=squares, crs=METRIC).to_crs(4326)
    pieces = gpd.overlay(
        cells, hoods[["code", "geometry"]], how="intersection", keep_geom_type=True
    )
    pieces = pieces[pieces.to_crs(METRIC).area > 1.0].copy()  # no sub-square-metre slivers
    centre = pieces.geometry.representative_point()
    pieces["_y"], pieces["_x"] = -centre.y.round(4), centre.x
    pieces = pieces.sort_values(["code", "_y", "_x"])
    pieces["seq"] = pieces.groupby("code").cumcount() + 1
    pieces["code"] = pieces["code"] + pieces["seq"].map("{:03d}".format)
    return pieces[["code", "geometry"]].reset_index(drop=True)


@pytest.fixture(scope="module")
def cambridge(shared_dir, server_url, template_db, tmp_path_factory):
    root = shared_dir / "realdata" / "cambridge_ma"
    tmp = tmp_path_factory.mktemp("cambridge")
    url = create_database(
        server_url, f"citygrid_cambridge_assign_{os.getpid()}", template=template_db
    )
    engine = make_engine(url)
    settings = Settings(database_url=url, home=tmp / "home")
    hoods = cambridge_areas.import_areas(engine, settings, root)
    (tmp / "units.csv").write_text(UNITS, encoding="utf-8")
    import_file(engine, settings, "units", tmp / "units.csv")
    grids = lattice_grids(hoods)
    # History reaches back to 2010: the grids are valid from before the first crash.
    import_frame(
        engine,
        settings,
        "grids",
        grids,
        ImportOptions(defaults={"valid_from": "2000-01-01T00:00:00+00:00"}),
    )
    import_file(
        engine,
        settings,
        "streets",
        root / "streets" / "TRANS_Centerlines.geojson",
        ImportOptions(columns={"street_name": "Street"}, defaults={"street_name": "(unnamed)"}),
    )
    import_file(
        engine,
        settings,
        "components",
        root / "assets" / "INFRA_StreetLights.geojson",
        ImportOptions(
            defaults={
                "class_code": "0118",
                "maintainer_unit_code": "CAM-DPW",
                "district_code": DISTRICT,
            }
        ),
    )
    crashes = pd.read_csv(root / "events" / "police_crash_data_historical.csv", dtype=str)
    crashes = crashes.dropna(subset=["Latitude", "Longitude"]).reset_index(drop=True)
    yield {
        "url": url,
        "engine": engine,
        "settings": settings,
        "grids": grids,
        "root": root,
        "crashes": crashes,
        "tmp": tmp,
    }
    engine.dispose()
    drop_database(server_url, f"citygrid_cambridge_assign_{os.getpid()}")


def _preview(settings: Settings, points: list[dict], at: str | None = None) -> list[dict]:
    out = []
    # Previews of thousands of points need an account (anonymous callers get 100).
    with TestClient(create_app(settings), headers=auth.headers(settings, "analyst")) as client:
        for i in range(0, len(points), 5000):
            r = client.post(
                "/api/v1/events/assign", json={"points": points[i : i + 5000], "at": at}
            )
            assert r.status_code == 200, r.text
            out += r.json()["results"]
    return out


def test_every_crash_lands_in_the_grid_geopandas_finds(cambridge):
    crashes, grids = cambridge["crashes"], cambridge["grids"]
    lon, lat = (
        crashes["Longitude"].astype(float).to_numpy(),
        crashes["Latitude"].astype(float).to_numpy(),
    )
    results = _preview(
        cambridge["settings"],
        [{"class_code": "0499", "lon": x, "lat": y} for x, y in zip(lon, lat, strict=True)],
    )
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    joined = gpd.sjoin(points, grids, predicate="intersects", how="left")
    expected = joined.groupby(level=0)["code"].min().reindex(range(len(points)))
    got = [r["assignment"]["grid"]["code"] if r["inside"] else None for r in results]
    mismatches = [
        (i, g, e)
        for i, (g, e) in enumerate(zip(got, expected, strict=True))
        if g != (None if pd.isna(e) else e)
    ]
    assert len(points) == 9110 and not mismatches
    assert 0.98 < sum(g is not None for g in got) / len(got) < 1.0  # a few crashes lie outside


def test_nearest_street_is_the_one_shapely_finds(cambridge):
    crashes = cambridge["crashes"].iloc[::3]
    lon, lat = (
        crashes["Longitude"].astype(float).to_numpy(),
        crashes["Latitude"].astype(float).to_numpy(),
    )
    results = _preview(
        cambridge["settings"],
        [{"class_code": "0499", "lon": x, "lat": y} for x, y in zip(lon, lat, strict=True)],
    )
    with cambridge["engine"].connect() as conn:
        segs = gpd.GeoDataFrame.from_postgis(
            "SELECT id, street_id, geom FROM street_segment", conn, geom_col="geom"
        ).to_crs(METRIC)
    pts = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(METRIC)
    tree = shapely.STRtree(segs.geometry.values)
    checked = 0
    for p, r in zip(pts, results, strict=True):
        if not r["inside"]:
            continue
        near = tree.query(p, predicate="dwithin", distance=60)
        d = np.sort(segs.geometry.values[near].distance(p)) if len(near) else np.array([])
        # Skip the ambiguous: two streets within 0.1 m of each other, or at the 50 m edge.
        if (len(d) > 1 and d[1] - d[0] < 0.1) or (len(d) and abs(d[0] - 50) < 0.2):
            continue
        street = r["assignment"]["street"]
        if not len(d) or d[0] > 50:
            assert street["id"] is None
            continue
        best = segs.iloc[near[np.argmin(segs.geometry.values[near].distance(p))]]
        assert street["segment_id"] == best["id"]
        assert street["distance_m"] == pytest.approx(d[0], abs=0.15)  # two projections, ~0.01 %
        checked += 1
    assert checked > 1500  # crashes at intersections are equidistant to several segments


def test_bulk_import_stores_what_the_api_decides(cambridge, tmp_path):
    crashes = cambridge["crashes"].iloc[:3000]
    table = pd.DataFrame(
        {
            "class_code": "0499",
            "lon": crashes["Longitude"],
            "lat": crashes["Latitude"],
            "observed_at": pd.to_datetime(crashes["Date Time"], format="%m/%d/%Y %I:%M:%S %p")
            .dt.tz_localize("America/New_York", ambiguous="NaT", nonexistent="NaT")
            .map(lambda t: None if pd.isna(t) else t.isoformat()),
            "location_text": crashes["Location"].str.strip().str[:256],
            "idempotency_key": "crash-" + crashes["Crash Number"],
        }
    )
    table = table[table["observed_at"].notna()]
    # Lights with a 4 m offset become component reports: matched to the light by both paths.
    lights = gpd.read_file(cambridge["root"] / "assets" / "INFRA_StreetLights.geojson").iloc[:300]
    table = pd.concat(
        [
            table,
            pd.DataFrame(
                {
                    "class_code": "BJ0118",
                    "lon": lights.geometry.x + 4 / 85000,
                    "lat": lights.geometry.y,
                    "observed_at": "2016-06-30T12:00:00-04:00",
                    "idempotency_key": [f"light-{i}" for i in range(300)],
                }
            ),
        ]
    )
    path = Path(tmp_path / "crashes.csv")
    table.to_csv(path, index=False)
    report = import_events(
        cambridge["engine"],
        cambridge["settings"],
        path,
        EventImportOptions(skip_invalid=True, rejects_path=tmp_path / "rejects.csv"),
    )
    assert report.rows_written + report.rows_rejected == len(
        table
    ) and report.rows_written > 0.97 * len(table)
    rejected = pd.read_csv(tmp_path / "rejects.csv")
    assert set(rejected["reason"].str.split(" ").str[0]) <= {"outside"}
    with cambridge["engine"].connect() as conn:
        stored = pd.DataFrame(
            conn.execute(
                text(
                    "SELECT idempotency_key, reported_at, ST_X(geom) AS lon, ST_Y(geom) AS lat, assignment "
                    "FROM event WHERE idempotency_key IS NOT NULL"
                )
            )
            .mappings()
            .all()
        )
    sample = pd.concat(
        [
            stored[stored.idempotency_key.str.startswith("light")],
            stored[stored.idempotency_key.str.startswith("crash")].sample(300, random_state=1),
        ]
    )
    for key, at, x, y, mine in sample.itertuples(index=False):
        code = "BJ0118" if key.startswith("light") else "0499"
        api = _preview(
            cambridge["settings"], [{"class_code": code, "lon": x, "lat": y}], at.isoformat()
        )[0]
        for part in ("grid", "street", "component", "unit"):
            assert mine[part] == api["assignment"][part], (key, part)
    lights_found = stored[stored.idempotency_key.str.startswith("light")]["assignment"].map(
        lambda a: a["component"]["id"] is not None
    )
    assert lights_found.mean() > 0.95
