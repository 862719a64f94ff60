"""Assignment on real data (Cambridge, MA) checked against an independent computation.

Grids: a 100 m lattice (EPSG:26986) cut by the 13 neighbourhoods (communities). Events: the
9,110 geocoded crash records. Every point must land in the grid geopandas finds (smallest
code on shared boundaries), the nearest street must be the one shapely finds, and the bulk
importer and the API must decide alike, every field, on a sample built where they could
part ways (a few seconds; the earlier test sent 600 previews through 600 apps, 111 s).
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
from app.services.intake.assignment import PointRequest
from app.services.intake.event_import import EventImportOptions, import_events
from app.settings import Settings
from tests import auth, parity
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


def _crash_table(crashes: pd.DataFrame, lights: gpd.GeoDataFrame) -> pd.DataFrame:
    """Crashes as 0499 events, and street lights with a 4 m offset as light reports."""
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
    lights_table = pd.DataFrame(
        {
            "class_code": "BJ0118",
            "lon": lights.geometry.x + 4 / 85000,
            "lat": lights.geometry.y,
            "observed_at": "2016-06-30T12:00:00-04:00",
            "idempotency_key": [f"light-{i}" for i in range(len(lights))],
        }
    )
    return pd.concat([table, lights_table])


def cambridge_sample(engine, grids: gpd.GeoDataFrame, rng) -> list[PointRequest]:
    """Where the engines could part ways (seeded, ~800 points): around stored crashes (same
    class, 0-60 m, 0-8 days later: the 50 m / 7 day duplicate rule), light reports 0-40 m
    from a light (the 30 m radius), with its identifier up to 150 m away, an event naming a
    light and an unknown identifier (both refused), grid corners exactly and 0.3 m off (the
    100 m lattice cut by the neighbourhoods), and uniform points over and around the city."""
    m_lon, m_lat = 82_900.0, 111_050.0  # metres per degree at 42.37 N (sampling only)
    points = []

    def near(lon, lat, r):
        angle = rng.uniform(0, 2 * np.pi)
        return lon + r * np.cos(angle) / m_lon, lat + r * np.sin(angle) / m_lat

    with engine.connect() as conn:
        crashes = conn.execute(
            text(
                "SELECT ST_X(geom), ST_Y(geom), reported_at FROM event WHERE class_code = '0499' "
                "ORDER BY md5(id::text) LIMIT 250"
            )
        ).all()
        lights = conn.execute(
            text(
                "SELECT identifier, ST_X(geom), ST_Y(geom) FROM component "
                "ORDER BY md5(identifier) LIMIT 200"
            )
        ).all()
    for lon, lat, at in crashes:
        later = at + pd.Timedelta(days=float(rng.uniform(0, 8)))
        x, y = near(lon, lat, rng.uniform(0, 60))
        points.append(PointRequest(x, y, "event", "0499", later))
    at = pd.Timestamp("2016-07-01T12:00:00Z").to_pydatetime()
    for n, (ident, lon, lat) in enumerate(lights):
        x, y = near(lon, lat, rng.uniform(0, 40 if n < 120 else 150))
        if n < 120:
            points.append(PointRequest(x, y, "component", "0118", at))
        elif n < 190:
            points.append(PointRequest(x, y, "component", "0118", at, ident))
        elif n < 195:
            points.append(PointRequest(x, y, "event", "0499", at, ident))
        else:
            points.append(PointRequest(x, y, "component", "0118", at, ident[:-6] + "999999"))
    corners = [shapely.get_coordinates(g)[0] for g in grids.sample(60, random_state=1).geometry]
    for lon, lat in corners:
        points.append(PointRequest(lon, lat, "event", "0499", at))
        x, y = near(lon, lat, 0.3)
        points.append(PointRequest(x, y, "event", "0499", at))
    x0, y0, x1, y1 = grids.total_bounds
    for lon, lat in zip(
        rng.uniform(x0 - 0.01, x1 + 0.01, 150), rng.uniform(y0 - 0.01, y1 + 0.01, 150), strict=True
    ):
        points.append(PointRequest(lon, lat, "event", "0499", at))
    return points


def test_bulk_import_and_the_api_decide_alike_field_by_field(cambridge, tmp_path):
    """Import 1,500 crashes and 100 light reports (the open cases the sample meets), then
    compare both engines on the sample, every field (tests/parity.py)."""
    lights = gpd.read_file(cambridge["root"] / "assets" / "INFRA_StreetLights.geojson")
    table = _crash_table(cambridge["crashes"].iloc[:1500], lights.iloc[:100])
    path = Path(tmp_path / "crashes.csv")
    table.to_csv(path, index=False)
    engine, settings = cambridge["engine"], cambridge["settings"]
    report = import_events(
        engine,
        settings,
        path,
        EventImportOptions(skip_invalid=True, rejects_path=tmp_path / "rejects.csv"),
    )
    assert report.rows_written + report.rows_rejected == len(table)
    assert report.rows_written > 0.97 * len(table)
    rejected = pd.read_csv(tmp_path / "rejects.csv")
    assert set(rejected["reason"].str.split(" ").str[0]) <= {"outside"}
    with engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT idempotency_key, class_kind, class_code, ST_X(geom), ST_Y(geom), "
                "reported_at, assignment FROM event WHERE idempotency_key IS NOT NULL "
                "ORDER BY md5(idempotency_key) LIMIT 300"
            )
        ).all()
    lights_found = [a["component"]["id"] is not None for k, *_, a in stored if k[:5] == "light"]
    assert lights_found and sum(lights_found) / len(lights_found) > 0.95
    # What the importer stored is what the API decides for the same point and time (the API
    # now also sees the stored case itself as a duplicate, so duplicates are left out here).
    again = parity.api_outcomes(
        settings, [PointRequest(x, y, kind, code, at) for _, kind, code, x, y, at, _ in stored]
    )
    for (key, *_, mine), api in zip(stored, again, strict=True):
        for part in ("grid", "street", "component", "unit"):
            assert mine[part] == api[part], (key, part)

    result = parity.compare(
        engine, settings, cambridge_sample(engine, cambridge["grids"], np.random.default_rng(14))
    )
    assert not result["differences"], parity.explain(result["differences"])
    summary = {k: v for k, v in result.items() if k != "differences"}
    assert result["points"] > 700 and result["outside"] > 5 and result["refused"] == 10, summary
    assert result["with_duplicates"] > 50 and result["by_identifier"] >= 60, summary
    assert result["with_component"] > 150 and result["with_street"] > 300, summary
