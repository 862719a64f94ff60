"""The read API on the demo district: grids, areas, streets, units, components, classes."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box, shape

from app.main import create_app
from app.settings import Settings
from gis.demo import read_district

GEOJSON = "application/geo+json"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def district():
    return read_district(Settings().demo_dir)


@pytest.fixture(scope="module")
def client(demo_url, tmp_path_factory):
    settings = Settings(database_url=demo_url, home=tmp_path_factory.mktemp("home"))
    with TestClient(create_app(settings)) as client:
        yield client


def test_health_reports_database_and_counts(client, district):
    body = client.get("/health").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["grids"] == len(district.grids) and body["postgis"].startswith("3.")


def test_grid_pages_cover_every_grid_once(client, district):
    first = client.get("/api/v1/grids?limit=7")
    assert first.status_code == 200 and first.headers["content-type"] == GEOJSON
    page = first.json()
    assert page["numberMatched"] == len(district.grids) and page["numberReturned"] == 7
    assert any(link["rel"] == "next" for link in page["links"])
    codes = []
    for offset in range(0, len(district.grids), 1000):
        codes += [
            f["id"]
            for f in client.get(f"/api/v1/grids?limit=1000&offset={offset}").json()["features"]
        ]
    assert sorted(codes) == sorted(district.grids["code"]) and len(set(codes)) == len(codes)


def test_bbox_filter_returns_exactly_the_intersecting_grids(client, district):
    centre = district.grids.geometry.iloc[100].centroid
    bbox = (centre.x - 0.002, centre.y - 0.0015, centre.x + 0.002, centre.y + 0.0015)
    r = client.get("/api/v1/grids", params={"bbox": ",".join(map(str, bbox)), "limit": 5000})
    got = {f["id"] for f in r.json()["features"]}
    # && in PostGIS is a bounding-box test; compare against the grids' envelopes.
    expected = set(district.grids["code"][district.grids.envelope.intersects(box(*bbox))])
    assert got == expected and district.grids["code"].iloc[100] in got


def test_community_filter_and_grid_detail(client, district):
    community = district.grids["community_code"].iloc[0]
    r = client.get(f"/api/v1/grids?community={community}&limit=5000").json()
    expected = set(district.grids["code"][district.grids["community_code"] == community])
    assert {f["id"] for f in r["features"]} == expected
    grid = district.grids.iloc[0]
    one = client.get(f"/api/v1/grids/{grid['code']}")
    assert one.headers["content-type"] == GEOJSON
    props = one.json()["properties"]
    metric_area = district.grids.iloc[[0]].to_crs(32651).area.iloc[0]
    assert props["area_m2"] == pytest.approx(metric_area, rel=0.005)  # metres, not degrees
    assert props["community_code"] == grid["community_code"] and props["community_name"]
    assert props["subdistrict_code"] == grid["code"][:9] and props["district_code"] == "320599"
    assert props["version"] == 1 and props["valid_to"] is None


def test_grids_without_a_unit_show_the_fallback_office(client, district):
    no_unit = district.grids[district.grids["unit_code"].isna()].iloc[0]
    props = client.get(f"/api/v1/grids/{no_unit['code']}").json()["properties"]
    office = district.units[
        (district.units["kind"] == "subdistrict_office")
        & (district.units["subdistrict_code"] == no_unit["code"][:9])
    ]
    assert props["unit_code"] is None and props["fallback_unit_code"] == office["code"].iloc[0]


def test_locate_agrees_with_shapely_for_sampled_points(client, district):
    rng = np.random.default_rng(7)
    sample = district.grids.iloc[rng.choice(len(district.grids), 40, replace=False)]
    for code, geom in zip(sample["code"], sample.geometry, strict=True):
        p = geom.representative_point()
        r = client.get(f"/api/v1/grids/locate?lon={p.x}&lat={p.y}")
        assert r.status_code == 200 and r.json()["id"] == code
    # A vertex shared by several grids goes to the smallest code among those covering it.
    vertex = shapely.get_coordinates(district.grids.geometry.iloc[500])[0]
    covering = district.grids["code"][district.grids.covers(shapely.Point(vertex))]
    got = client.get(f"/api/v1/grids/locate?lon={vertex[0]}&lat={vertex[1]}").json()["id"]
    assert len(covering) >= 2 and got == min(covering)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/grids/locate?lon=0&lat=0", 422),
        ("/api/v1/grids/locate?lon=500&lat=0", 422),
        ("/api/v1/grids/12345", 422),
        ("/api/v1/grids/320599999999999", 404),
        ("/api/v1/grids?bbox=1,2,3", 422),
        ("/api/v1/grids?bbox=3,2,1,4", 422),
        ("/api/v1/grids?community=12", 422),
        ("/api/v1/grids?limit=0", 422),
        ("/api/v1/areas/99", 422),
        ("/api/v1/areas/320598", 404),
        ("/api/v1/streets/999999", 404),
        ("/api/v1/units/NOPE", 404),
        ("/api/v1/components/123", 404),
        ("/api/v1/components?class=abc", 422),
        ("/api/v1/nothing-here", 404),
    ],
)
def test_bad_requests_are_problem_json(client, url, status):
    r = client.get(url)
    assert r.status_code == status and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"]


def test_problems_speak_english_on_request(client):
    zh = client.get("/api/v1/grids/locate?lon=0&lat=0").json()
    en = client.get("/api/v1/grids/locate?lon=0&lat=0", headers={"Accept-Language": "en"}).json()
    assert "管理区域" in zh["detail"] and "outside the managed area" in en["detail"]


def test_areas_tile_the_district(client, district):
    subs = client.get("/api/v1/areas?level=subdistrict").json()
    assert subs["numberMatched"] == int((district.areas["level"] == "subdistrict").sum())
    district_area = client.get("/api/v1/areas/320599").json()["properties"]["area_m2"]
    assert sum(f["properties"]["area_m2"] for f in subs["features"]) == pytest.approx(
        district_area, rel=1e-6
    )
    communities = client.get("/api/v1/areas?level=community&limit=1000").json()["features"]
    assert sum(f["properties"]["grid_count"] for f in communities) == len(district.grids)


def test_streets_have_metric_lengths(client, district):
    name = district.streets["street_name"].iloc[0]
    r = client.get("/api/v1/streets", params={"name": name}).json()
    street = next(f for f in r["features"] if f["properties"]["name"] == name)
    segments = district.streets[district.streets["street_name"] == name]
    assert street["properties"]["segment_count"] == len(segments)
    assert street["properties"]["length_m"] == pytest.approx(
        segments.to_crs(32651).length.sum(), rel=0.005
    )
    assert shape(street["geometry"]).geom_type == "MultiLineString"
    grades = client.get("/api/v1/streets?grade=严管街&limit=500").json()["features"]
    assert grades and all(f["properties"]["grade"] == "严管街" for f in grades)


def test_units_components_and_classes(client, district):
    units = client.get("/api/v1/units?kind=subdistrict_office").json()
    assert units["numberMatched"] == int((district.units["kind"] == "subdistrict_office").sum())
    grid = district.grids["code"].iloc[1200]
    comps = client.get(f"/api/v1/components?grid={grid}&limit=500").json()
    assert comps["features"] and all(
        f["properties"]["grid_code"] == grid for f in comps["features"]
    )
    ident = comps["features"][0]["id"]
    one = client.get(f"/api/v1/components/{ident}").json()["properties"]
    assert one["class_name"] and one["street_name"] and len(one["identifier"]) == 16
    lights = client.get("/api/v1/components?class=0118&limit=1").json()
    assert lights["numberMatched"] == int((district.components["class_code"] == "0118").sum())
    classes = client.get("/api/v1/classes?kind=event").json()
    assert (
        classes["scheme"] == "2013"
        and {"code": "0102", "name": "暴露垃圾"}.items()
        <= next(c for c in classes["items"] if c["code"] == "0102").items()
    )


def test_openapi_docs_are_served(client):
    assert client.get("/docs").status_code == 200
    assert "/api/v1/grids/locate" in client.get("/openapi.json").json()["paths"]
