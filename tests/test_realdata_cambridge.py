"""Real data: Cambridge, Massachusetts (../shared/realdata/cambridge_ma) through the imports.

The city's 13 neighbourhoods become communities of one made-up sub-district 250001001 in a
made-up district 250001 (both the union of the neighbourhoods), its street centerlines the
streets, and six street-furniture inventories components of the 2013 scheme. The numbers
checked come from the data's README (251.6 km of centerlines, 18.5 km² of city, assets
3-10 m from a centerline).
"""

from __future__ import annotations

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import text

from app.services.catalog.imports import ImportOptions, import_file, import_frame

pytestmark = pytest.mark.realdata

DISTRICT, SUBDISTRICT = "250001", "250001001"
UNITS_CSV = """code,name,name_en,kind,phone,area_code
CAM-DPW,剑桥市公共工程局,Department of Public Works,department,617-349-4800,
CAM-WATER,剑桥市水务局,Water Department,department,617-349-4770,
CAM-TPT,剑桥市交通局,"Traffic, Parking & Transportation",department,,
CAM-MBTA,马萨诸塞湾交通局,MBTA,contractor,,
CAM-OFFICE,剑桥街道办,Cambridge sub-district office,subdistrict_office,,250001001
"""
# file -> (class code, owner unit, share that must get a street within 50 m); measured:
# lights 99.9 %, hydrants 94 %, barrels 91 %, signals 99 %, shelters 100 %, benches 70 %
ASSETS = {
    "INFRA_StreetLights.geojson": ("0118", "CAM-DPW", 0.95),
    "INFRA_Hydrants.geojson": ("0113", "CAM-WATER", 0.9),
    "DPW_LitterBarrels.geojson": ("0305", "CAM-DPW", 0.85),
    "TRAFFIC_Signals.geojson": ("0210", "CAM-TPT", 0.95),
    "TRANS_BusShelters.geojson": ("0203", "CAM-MBTA", 0.95),
    "INFRA_ParkBenches.geojson": ("0407", "CAM-DPW", 0.5),  # many benches stand in parks
}


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar_one()


def test_cambridge_areas_streets_units_components(shared_dir, engine, settings, tmp_path):
    root = shared_dir / "realdata" / "cambridge_ma"
    hoods = gpd.read_file(root / "areas" / "BOUNDARY_CDDNeighborhoods.geojson")
    city = shapely.union_all(hoods.geometry.values)
    upper = gpd.GeoDataFrame(
        {"code": [DISTRICT, SUBDISTRICT], "name": ["Cambridge MA", "Cambridge"]},
        geometry=[city, city],
        crs=hoods.crs,
    )
    assert import_frame(engine, settings, "areas", upper).rows_written == 2
    communities = hoods.assign(code=SUBDISTRICT + hoods["N_HOOD"].astype(int).map("{:03d}".format))
    report = import_frame(engine, settings, "areas", communities, source="neighbourhoods")
    assert report.rows_written == 13

    streets_file = root / "streets" / "TRANS_Centerlines.geojson"
    parts = sum(len(getattr(g, "geoms", [g])) for g in gpd.read_file(streets_file).geometry)
    # one centerline has no street name: it gets a placeholder name rather than refusal
    options = ImportOptions(
        columns={"street_name": "Street", "source_id": "ID"}, defaults={"street_name": "(unnamed)"}
    )
    report = import_file(engine, settings, "streets", streets_file, options)
    assert (report.rows_read, report.rows_written) == (2643, parts)

    (tmp_path / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    assert import_file(engine, settings, "units", tmp_path / "units.csv").rows_written == 5

    for name, (class_code, owner, street_share) in ASSETS.items():
        path = root / "assets" / name
        # about 5 % of assets lie just outside the neighbourhoods: the default district
        # names them where the point-in-district look-up finds none
        options = ImportOptions(
            defaults={"class_code": class_code, "owner_unit_code": owner, "district_code": DISTRICT}
        )
        report = import_file(engine, settings, "components", path, options)
        assert report.rows_written == report.rows_read == len(gpd.read_file(path)), name
        assert report.details["with_street"] >= street_share * report.rows_written, (
            name,
            report.details,
        )

    assert scalar(engine, "SELECT count(*) FROM admin_area") == 15
    assert scalar(engine, "SELECT count(*) FROM street_segment") == parts
    assert scalar(engine, "SELECT count(*) FROM street WHERE district_code = '250001'") > 300
    km = scalar(engine, "SELECT sum(length_m) / 1000 FROM street_segment")
    assert km == pytest.approx(251.6, rel=5e-3)
    hoods_km2 = scalar(
        engine, "SELECT sum(area_m2) / 1e6 FROM admin_area WHERE level = 'community'"
    )
    city_km2 = scalar(engine, "SELECT area_m2 / 1e6 FROM admin_area WHERE code = '250001'")
    assert hoods_km2 == pytest.approx(18.46, rel=1e-2)
    assert hoods_km2 == pytest.approx(city_km2, rel=1e-3)

    with engine.connect() as conn:
        per_class = dict(
            conn.execute(text("SELECT class_code, count(*) FROM component GROUP BY 1")).all()
        )
    assert per_class == {
        "0118": 6117,
        "0113": 1960,
        "0305": 990,
        "0210": 785,
        "0203": 68,
        "0407": 3017,
    }
    assert (
        scalar(engine, "SELECT min(identifier) FROM component WHERE class_code = '0118'")
        == "2500010118000001"
    )
    attrs = scalar(engine, "SELECT attributes FROM component WHERE attributes ? 'PoleID' LIMIT 1")
    assert {"PoleID", "FixtureType", "StreetName"} <= set(attrs)
    # lights stand 3-10 m from a centerline (median, README); check the median in metres
    median_m = scalar(
        engine,
        """
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY d) FROM (
            SELECT (SELECT min(ST_Distance(c.geom::geography, s.geom::geography))
                    FROM street_segment s WHERE s.street_id = c.street_id) AS d
            FROM component c WHERE c.class_code = '0118' AND c.street_id IS NOT NULL) x""",
    )
    assert 1 < median_m < 15
