"""`citygrid import`: every format, reprojection, mapping, and every way a file is refused.

Fixtures are built here: district 320599 > sub-district 320599001 > communities
320599001001 (west) and 320599001002 (east), 1 km squares drawn in UTM 51N (EPSG:32651,
near Suzhou) so the import has to reproject them.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import LineString, MultiLineString, Point, Polygon, box
from sqlalchemy import text

from app.db.catalog import imports as repo
from app.errors import ImportRejected, InvalidInputError
from app.services.catalog.imports import ImportOptions, import_file, import_frame, read_source
from app.settings import Settings

UTM = "EPSG:32651"
X0, Y0 = 272_000.0, 3_466_000.0  # south-west corner of community 001, metres
TABLES = ("admin_area", "responsible_unit", "grid", "street", "street_segment", "component")
TO_LONLAT = Transformer.from_crs(UTM, "EPSG:4326", always_xy=True)


def square(x: float, y: float, size: float) -> Polygon:
    return box(X0 + x, Y0 + y, X0 + x + size, Y0 + y + size)


def areas_utm() -> gpd.GeoDataFrame:
    rows = [
        ("320599", "示范区", "Demo district", box(X0, Y0, X0 + 2000, Y0 + 1000)),
        ("320599001", "示范街道", "Demo sub-district", box(X0, Y0, X0 + 2000, Y0 + 1000)),
        ("320599001001", "西社区", "West", square(0, 0, 1000)),
        ("320599001002", "东社区", "East", square(1000, 0, 1000)),
    ]
    return gpd.GeoDataFrame(
        {
            "code": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "name_en": [r[2] for r in rows],
        },
        geometry=[r[3] for r in rows],
        crs=UTM,
    )


def grids_utm(n: int = 4, community: str = "320599001001", x: float = 0) -> gpd.GeoDataFrame:
    """``n`` 100 m grids in a row along the south edge of a community."""
    return gpd.GeoDataFrame(
        {
            "GRID_ID": [f"{community}{i + 1:03d}" for i in range(n)],
            "NAME": [f"网格{i + 1}" for i in range(n)],
            "UNIT": ["DPW"] * n,
        },
        geometry=[square(x + 100 * i, 0, 100) for i in range(n)],
        crs=UTM,
    )


UNITS_CSV = (
    "code,name,name_en,kind,contact,phone,area_code\n"
    "DPW,市政局,Public works,department,张三,0512-1,\n"
    "OFF1,示范街道办,Sub-district office,subdistrict_office,,,320599001\n"
)
GRID_MAP = ImportOptions(columns={"code": "GRID_ID", "name": "NAME", "unit_code": "UNIT"})


def counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def rows(engine, sql: str, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def seed(engine, settings, tmp_path: Path, *, grids: bool = False) -> None:
    """Areas (reprojected from UTM), the two units and optionally four grids."""
    import_frame(engine, settings, "areas", areas_utm())
    (tmp_path / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    import_file(engine, settings, "units", tmp_path / "units.csv")
    if grids:
        import_frame(engine, settings, "grids", grids_utm(), GRID_MAP)


def rejected(call, *args, **kwargs) -> ImportRejected:
    with pytest.raises(ImportRejected) as info:
        call(*args, **kwargs)
    return info.value


def problems(exc: ImportRejected) -> list[tuple[int | None, str | None, str]]:
    return [(p.row, p.column, p.reason) for p in exc.problems]


# -- formats, reprojection, mapping -----------------------------------------------------------


def test_areas_from_projected_geopackage_are_reprojected(engine, settings, tmp_path):
    path = tmp_path / "areas.gpkg"
    areas_utm().to_file(path, layer="areas", driver="GPKG")
    report = import_file(engine, settings, "areas", path)
    assert (report.rows_read, report.rows_written, report.layer) == (4, 4, "areas")
    stored = {
        r["code"]: r
        for r in rows(
            engine,
            "SELECT code, level, parent_code, area_m2, ST_XMin(geom) x, ST_YMin(geom) y "
            "FROM admin_area",
        )
    }
    assert stored["320599"]["level"] == "district" and stored["320599"]["parent_code"] is None
    assert stored["320599001"]["parent_code"] == "320599"
    assert stored["320599001002"]["level"] == "community"
    assert stored["320599001002"]["parent_code"] == "320599001"
    lon, lat, _, _ = gpd.GeoSeries([square(0, 0, 1000)], crs=UTM).to_crs(4326).total_bounds
    assert stored["320599001001"]["x"] == pytest.approx(lon, abs=1e-9)
    assert stored["320599001001"]["y"] == pytest.approx(lat, abs=1e-9)
    assert 120 < lon < 121 and 31 < lat < 32
    assert stored["320599001001"]["area_m2"] == pytest.approx(1e6, rel=2e-3)


def test_units_from_csv_and_gzip_csv(engine, settings, tmp_path):
    import_frame(engine, settings, "areas", areas_utm())
    (tmp_path / "units.csv").write_text(UNITS_CSV, encoding="utf-8")
    assert import_file(engine, settings, "units", tmp_path / "units.csv").rows_written == 2
    with gzip.open(tmp_path / "more.csv.gz", "wt", encoding="utf-8") as f:
        f.write("CODE,NAME,KIND\nC1,保洁公司,contractor\n")
    import_file(engine, settings, "units", tmp_path / "more.csv.gz")
    stored = {r["code"]: r for r in rows(engine, "SELECT * FROM responsible_unit")}
    assert stored["OFF1"]["area_code"] == "320599001"
    assert stored["DPW"]["phone"] == "0512-1" and stored["DPW"]["area_code"] is None
    assert stored["C1"]["kind"] == "contractor"


def test_grids_geojson_with_column_mapping(engine, settings, tmp_path):
    seed(engine, settings, tmp_path)
    path = tmp_path / "grids.geojson"
    grids_utm().to_crs(4326).to_file(path, driver="GeoJSON")
    report = import_file(engine, settings, "grids", path, GRID_MAP)
    assert report.rows_written == 4 and report.source == "grids.geojson"
    stored = rows(
        engine,
        "SELECT g.*, u.code AS unit FROM grid g "
        "JOIN responsible_unit u ON u.id = g.unit_id ORDER BY g.code",
    )
    assert [g["code"] for g in stored] == [f"320599001001{i:03d}" for i in (1, 2, 3, 4)]
    assert {g["community_code"] for g in stored} == {"320599001001"}
    assert {(g["version"], g["valid_to"], g["unit"]) for g in stored} == {(1, None, "DPW")}
    assert all(g["valid_from"] is not None for g in stored)
    assert stored[0]["name"] == "网格1"
    assert stored[0]["area_m2"] == pytest.approx(10_000, rel=2e-3)


def test_grids_from_zipped_shapefile_in_utm(engine, settings, tmp_path):
    seed(engine, settings, tmp_path)
    shp = tmp_path / "shp"
    shp.mkdir()
    grids_utm(3, "320599001002", x=1000).to_file(shp / "grids.shp")
    with zipfile.ZipFile(tmp_path / "grids.zip", "w") as archive:
        for part in shp.iterdir():
            archive.write(part, f"data/{part.name}")
    report = import_file(engine, settings, "grids", tmp_path / "grids.zip", GRID_MAP)
    assert report.rows_written == 3
    (x,) = rows(engine, "SELECT min(ST_XMin(geom)) AS x FROM grid")
    placed = gpd.GeoSeries([box(X0 + 1000, Y0, X0 + 1300, Y0 + 100)], crs=UTM)
    expected = placed.to_crs(4326).total_bounds[0]
    assert x["x"] == pytest.approx(expected, abs=1e-9)


def test_grids_from_csv_with_wkt_quietly(engine, settings, tmp_path, capsys):
    seed(engine, settings, tmp_path)
    grids = grids_utm(2).to_crs(4326)
    wkt = grids.geometry.to_wkt(rounding_precision=-1)  # full precision: see the 1 m² rule
    table = pd.DataFrame({"code": grids["GRID_ID"], "wkt": wkt})
    table.to_csv(tmp_path / "grids.csv", index=False)
    report = import_file(engine, settings, "grids", tmp_path / "grids.csv", progress=True)
    assert report.rows_written == 2
    assert capsys.readouterr().err == ""  # no progress bar for a small file


def test_geopackage_layer_choice(engine, settings, tmp_path):
    seed(engine, settings, tmp_path)
    path = tmp_path / "two.gpkg"
    grids_utm(2).to_file(path, layer="grids", driver="GPKG")
    areas_utm().to_file(path, layer="other", driver="GPKG")
    exc = rejected(import_file, engine, settings, "grids", path, GRID_MAP)
    assert "several layers" in exc.problems[0].reason and exc.problems[0].row is None
    options = ImportOptions(columns=GRID_MAP.columns, layer_name="grids")
    assert import_file(engine, settings, "grids", path, options).rows_written == 2


def test_streets_multilines_reuse_and_grades(engine, settings, tmp_path):
    seed(engine, settings, tmp_path)
    lon0, lat0 = TO_LONLAT.transform(X0, Y0 + 50)
    lon1, lat1 = TO_LONLAT.transform(X0 + 1000, Y0 + 50)
    streets = gpd.GeoDataFrame(
        {
            "name": ["人民路", "人民路", "干将路"],
            "grade": ["strict", None, "标准街"],
            "source_id": ["a", "b", "c"],
        },
        geometry=[
            LineString([(lon0, lat0), (lon1, lat1)]),
            MultiLineString(
                [[(lon1, lat1), (lon1 + 0.001, lat1)], [(lon1 + 0.002, lat1), (lon1 + 0.003, lat1)]]
            ),
            LineString([(lon0, lat0 + 0.005), (lon1, lat1 + 0.005)]),
        ],
        crs=4326,
    )
    path = tmp_path / "streets.geojson"
    streets.to_file(path, driver="GeoJSON")
    report = import_file(engine, settings, "streets", path)
    assert (report.rows_read, report.rows_written) == (3, 4)
    assert report.details == {"segments": 4, "streets_created": 2, "streets_reused": 0}
    more = gpd.GeoDataFrame(
        {"street_name": ["人民路"], "street_name_en": ["Renmin Rd"]},
        geometry=[LineString([(lon0, lat0), (lon0, lat0 + 0.001)])],
        crs=4326,
    )
    assert import_frame(engine, settings, "streets", more).details["streets_reused"] == 1
    stored = rows(
        engine,
        "SELECT s.name, s.name_en, s.grade, s.district_code, count(*) n, "
        "sum(g.length_m) m FROM street s JOIN street_segment g "
        "ON g.street_id = s.id GROUP BY s.id ORDER BY s.name",
    )
    renmin = next(s for s in stored if s["name"] == "人民路")
    assert (renmin["grade"], renmin["name_en"], renmin["n"]) == ("严管街", "Renmin Rd", 4)
    assert {s["district_code"] for s in stored} == {"320599"}
    gan = next(s for s in stored if s["name"] == "干将路")
    assert gan["m"] == pytest.approx(1000, rel=5e-3)


def test_components_csv_generated_ids_grid_street_attributes(engine, settings, tmp_path):
    seed(engine, settings, tmp_path, grids=True)
    lon0, lat0 = TO_LONLAT.transform(X0, Y0 + 50)
    lon1, lat1 = TO_LONLAT.transform(X0 + 2000, Y0 + 50)
    street = gpd.GeoDataFrame(
        {"name": ["人民路"]}, geometry=[LineString([(lon0, lat0), (lon1, lat1)])], crs=4326
    )
    import_frame(engine, settings, "streets", street)
    points = [
        TO_LONLAT.transform(X0 + x, Y0 + y)
        for x, y in [(50, 60), (150, 40), (250, 500), (1500, 900)]
    ]
    table = pd.DataFrame(
        {
            "Longitude": [p[0] for p in points],
            "Latitude": [p[1] for p in points],
            "class_code": ["0118", "0118", "0305", "0118"],
            "owner": ["DPW"] * 4,
            "PoleID": ["L1", "L2", "B1", "L3"],
            "lamps": [2, 1, 0, 3],
        }
    )
    table.to_csv(tmp_path / "lights.csv", index=False)
    options = ImportOptions(columns={"owner_unit_code": "owner"})
    report = import_file(engine, settings, "components", tmp_path / "lights.csv", options)
    assert report.rows_written == 4
    assert report.details == {"with_grid": 2, "with_street": 2}
    stored = rows(
        engine,
        "SELECT c.*, u.code AS owner FROM component c "
        "JOIN responsible_unit u ON u.id = c.owner_unit_id ORDER BY c.id",
    )
    assert [c["identifier"] for c in stored] == [
        "3205990118000001",
        "3205990118000002",
        "3205990305000001",
        "3205990118000003",
    ]
    assert [c["grid_code"] for c in stored] == ["320599001001001", "320599001001002", None, None]
    assert [c["street_id"] is not None for c in stored] == [True, True, False, False]
    assert stored[0]["attributes"] == {"PoleID": "L1", "lamps": 2}
    assert {(c["status"], c["scheme"], c["owner"]) for c in stored} == {
        ("in_service", "2013", "DPW")
    }
    # a second file continues the sequences after the stored maxima
    table.iloc[:1].to_csv(tmp_path / "again.csv", index=False)
    import_file(engine, settings, "components", tmp_path / "again.csv", options)
    (last,) = rows(engine, "SELECT identifier FROM component ORDER BY id DESC LIMIT 1")
    assert last["identifier"] == "3205990118000004"


def test_components_given_identifiers_lines_polygons_2026(engine, tmp_path, db_url):
    settings = Settings(database_url=db_url, home=tmp_path / "home", class_scheme="2026")
    seed(engine, settings, tmp_path)
    gdf = gpd.GeoDataFrame(
        {"ID": ["32059901001000007", "32059901001000009"], "state": ["damaged", "in_service"]},
        geometry=[square(10, 10, 5), LineString([(X0 + 20, Y0 + 20), (X0 + 30, Y0 + 30)])],
        crs=UTM,
    )
    report = import_frame(
        engine,
        settings,
        "components",
        gdf,
        ImportOptions(columns={"identifier": "ID", "status": "state"}),
    )
    assert report.rows_written == 2
    stored = rows(
        engine,
        "SELECT identifier, class_code, status, GeometryType(geom) t, attributes "
        "FROM component ORDER BY identifier",
    )
    assert [(c["class_code"], c["status"], c["t"]) for c in stored] == [
        ("01001", "damaged", "POLYGON"),
        ("01001", "in_service", "LINESTRING"),
    ]
    assert stored[0]["attributes"] == {}
    generated = gpd.GeoDataFrame(geometry=[Point(*TO_LONLAT.transform(X0 + 5, Y0 + 5))], crs=4326)
    import_frame(
        engine, settings, "components", generated, ImportOptions(defaults={"class_code": "01001"})
    )
    assert rows(engine, "SELECT max(identifier) m FROM component")[0]["m"] == "32059901001000010"


# -- refused inputs: every problem listed, nothing written -------------------------------------


def test_missing_columns_name_missing_and_available(engine, settings, tmp_path):
    seed(engine, settings, tmp_path)
    before = counts(engine)
    exc = rejected(import_frame, engine, settings, "grids", grids_utm())
    (problem,) = exc.problems
    assert problem.row is None
    assert "code" in problem.reason and "GRID_ID, NAME, UNIT" in problem.reason
    exc = rejected(
        import_frame,
        engine,
        settings,
        "grids",
        grids_utm(),
        ImportOptions(columns={"code": "GRIDCODE"}),
    )
    assert "'GRIDCODE'" in exc.problems[0].reason and "not found" in exc.problems[0].reason
    assert counts(engine) == before


def test_bad_geometries_and_codes_are_all_listed(engine, settings, tmp_path):
    seed(engine, settings, tmp_path, grids=True)
    before = counts(engine)
    bowtie = Polygon(
        [(X0 + 500, Y0 + 500), (X0 + 600, Y0 + 600), (X0 + 600, Y0 + 500), (X0 + 500, Y0 + 600)]
    )
    gdf = gpd.GeoDataFrame(
        {
            "GRID_ID": [
                "320599001001010",
                "32059900100101",
                "320599001001011",
                "320599001001011",
                "320599001001001",
                "320599001009001",
                "320599001001012",
                "320599001001013",
                "320599001001014",
            ],
            "UNIT": ["DPW", "DPW", "DPW", "DPW", "DPW", "DPW", "NOPE", "DPW", "DPW"],
        },
        geometry=[
            bowtie,
            square(0, 200, 100),
            square(100, 200, 100),
            square(200, 200, 100),
            square(300, 200, 100),
            square(400, 200, 100),
            square(500, 200, 100),
            Point(X0 + 5, Y0 + 5),
            None,
        ],
        crs=UTM,
    )
    exc = rejected(
        import_frame,
        engine,
        settings,
        "grids",
        gdf,
        ImportOptions(columns={"code": "GRID_ID", "unit_code": "UNIT"}),
    )
    found = problems(exc)
    assert (1, "geometry") in {(r, c) for r, c, _ in found}
    assert "Self-intersection" in next(m for r, c, m in found if r == 1)
    assert any(r == 2 and c == "code" and "malformed" in m for r, c, m in found)
    assert [r for r, c, m in found if "duplicate" in m] == [3, 4]
    assert any(r == 5 and "already exists" in m for r, c, m in found)
    assert any(r == 6 and "unknown community" in m and "320599001009" in m for r, c, m in found)
    assert any(r == 7 and c == "unit_code" and "NOPE" in m for r, c, m in found)
    assert any(r == 8 and "Point not allowed" in m for r, c, m in found)
    assert any(r == 9 and "missing or empty" in m for r, c, m in found)
    assert "nothing written" in exc.message_en
    assert counts(engine) == before


def test_grid_outside_its_community(engine, settings, tmp_path):
    seed(engine, settings, tmp_path)
    before = counts(engine)
    # row 1 pokes 1 m into the east community (100 m²); row 2 a 0.5 m² sliver (allowed);
    # row 3 lies wholly in the east community though its code says west
    sliver = Polygon(
        [
            (X0 + 900, Y0),
            (X0 + 1000.01, Y0),
            (X0 + 1000.01, Y0 + 50),
            (X0 + 1000, Y0 + 100),
            (X0 + 900, Y0 + 100),
        ]
    )
    gdf = gpd.GeoDataFrame(
        {"code": ["320599001001020", "320599001001021", "320599001001022"]},
        geometry=[
            box(X0 + 800, Y0 + 200, X0 + 901 + 100, Y0 + 300),
            sliver,
            square(1200, 200, 100),
        ],
        crs=UTM,
    )
    found = problems(rejected(import_frame, engine, settings, "grids", gdf))
    assert [r for r, c, m in found] == [1, 3]
    assert "outside its community 320599001001" in found[0][2] and "m²" in found[0][2]
    assert counts(engine) == before
    import_frame(engine, settings, "grids", gdf.iloc[[1]])
    assert counts(engine)["grid"] == 1


def test_unknown_parent_area_and_level_mismatch(engine, settings, tmp_path):
    seed(engine, settings, tmp_path)
    before = counts(engine)
    gdf = gpd.GeoDataFrame(
        {
            "code": ["320599002001", "320599001003", "320599001003", "320599001", "3205991"],
            "name": ["a", "b", "c", "d", None],
            "level": ["community", "district", None, None, None],
        },
        geometry=[square(0, 0, 10)] * 5,
        crs=UTM,
    )
    found = problems(rejected(import_frame, engine, settings, "areas", gdf))
    assert any(r == 1 and "unknown parent area '320599002'" in m for r, c, m in found)
    assert any(r == 2 and c == "level" for r, c, m in found)
    assert [r for r, c, m in found if "duplicate" in m] == [2, 3]
    assert any(r == 4 and "already exists" in m for r, c, m in found)
    assert any(r == 5 and c == "code" for r, c, m in found)
    assert any(r == 5 and c == "name" and "empty" in m for r, c, m in found)
    assert counts(engine) == before


def test_bad_units(engine, settings, tmp_path):
    seed(engine, settings, tmp_path)
    before = counts(engine)
    (tmp_path / "u.csv").write_text(
        "code,name,kind,area_code\n"
        "DPW,dup of stored,department,\n"
        "X1,bad kind,janitor,\n"
        "X2,office elsewhere,subdistrict_office,320599\n"
        "X3,second office,subdistrict_office,320599001\n"
        "X4,nowhere,department,999999\n",
        encoding="utf-8",
    )
    found = problems(rejected(import_file, engine, settings, "units", tmp_path / "u.csv"))
    assert [r for r, c, m in found] == [1, 2, 3, 4, 5]
    assert "already has a subdistrict_office" in found[3][2]
    assert counts(engine) == before


def test_unknown_class_units_and_bad_identifiers(engine, settings, tmp_path):
    seed(engine, settings, tmp_path)
    before = counts(engine)
    pt = Point(*TO_LONLAT.transform(X0 + 5, Y0 + 5))
    gdf = gpd.GeoDataFrame(
        {
            "identifier": [
                None,
                "320599011800001",
                "3205990118000001",
                "3205990118000001",
                "3205990118000002",
                None,
            ],
            "class_code": ["9999", None, None, None, "0305", "0118"],
            "owner_unit_code": [None, None, None, None, None, "NOBODY"],
            "status": [None, None, None, None, None, "broken"],
        },
        geometry=[pt] * 6,
        crs=4326,
    )
    found = problems(rejected(import_frame, engine, settings, "components", gdf))
    assert any(
        r == 1 and "unknown component class '9999' (not in the 2013" in m for r, c, m in found
    )
    assert any(r == 2 and "16 digits" in m for r, c, m in found)
    assert [r for r, c, m in found if "duplicate" in m] == [3, 4]
    assert any(r == 5 and "differs from the class 0118" in m for r, c, m in found)
    assert any(r == 6 and c == "owner_unit_code" for r, c, m in found)
    assert any(r == 6 and c == "status" for r, c, m in found)
    assert counts(engine) == before


def test_csv_coordinates_out_of_range_and_not_numbers(engine, settings, tmp_path):
    seed(engine, settings, tmp_path)
    before = counts(engine)
    lon, lat = TO_LONLAT.transform(X0 + 5, Y0 + 5)
    (tmp_path / "c.csv").write_text(
        f"lng,lat,class_code\n{lon},{lat},0118\n200,{lat},0118\nabc,{lat},0118\n{lon},-95,0118\n"
        ",,0118\n",
        encoding="utf-8",
    )
    exc = rejected(import_file, engine, settings, "components", tmp_path / "c.csv")
    found = problems(exc)
    assert (2, "lng") in {(r, c) for r, c, _ in found}
    assert any(r == 3 and "'abc' is not a number" in m for r, c, m in found)
    # `citygrid import` prints each problem as it is: a plain row number, not np.int64(3)
    assert "RowProblem(row=3, reason=\"lng 'abc' is not a number\"" in str(exc.problems)
    assert any(r == 4 and c == "lat" and "outside" in m for r, c, m in found)
    assert any(r == 5 and "missing" in m for r, c, m in found)
    assert not any(r == 1 for r, c, m in found)
    assert counts(engine) == before


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_file_without_crs_needs_source_crs(engine, settings, tmp_path):
    seed(engine, settings, tmp_path)
    path = tmp_path / "nocrs.geojson"
    # GeoJSON in metres with no crs member: GDAL would assume lon/lat; write it by hand
    feats = [
        {
            "type": "Feature",
            "properties": {"code": "320599001001001"},
            "geometry": shapely.geometry.mapping(square(0, 0, 100)),
        }
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    found = problems(rejected(import_file, engine, settings, "grids", path))
    assert found[0][0] == 1 and "outside lon/lat range" in found[0][2]
    shp = tmp_path / "nocrs"
    shp.mkdir()
    grids_utm(1).set_crs(None, allow_override=True).to_file(shp / "g.shp")
    with zipfile.ZipFile(tmp_path / "nocrs.zip", "w") as archive:
        for part in shp.iterdir():
            archive.write(part, part.name)
    exc = rejected(import_file, engine, settings, "grids", tmp_path / "nocrs.zip", GRID_MAP)
    assert exc.problems[0].row is None and "source_crs" in exc.problems[0].reason
    assert counts(engine)["grid"] == 0
    options = ImportOptions(columns=GRID_MAP.columns, source_crs=UTM)
    assert import_file(engine, settings, "grids", tmp_path / "nocrs.zip", options).rows_written == 1


@pytest.mark.parametrize(
    "name, content, expected",
    [
        ("broken.geojson", b'{"type": "FeatureCollection", "features": [', "not a readable"),
        ("fake.gpkg", b"just text", "not a readable GeoPackage"),
        ("noshape.zip", None, "no shapefile"),
        ("empty.csv", b"", "empty"),
        ("missing.geojson", False, "file not found"),
    ],
)
def test_malformed_files_are_one_file_level_problem(
    engine, settings, tmp_path, name, content, expected
):
    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "no shapes here")
    elif content is not False:
        path.write_bytes(content)
    exc = rejected(import_file, engine, settings, "areas", path)
    assert [(p.row, expected in p.reason) for p in exc.problems] == [(None, True)]
    assert exc.source == name


def test_bad_requests_and_database_errors(engine, settings, tmp_path, monkeypatch):
    seed(engine, settings, tmp_path, grids=True)
    with pytest.raises(InvalidInputError):
        import_frame(engine, settings, "trees", grids_utm())
    with pytest.raises(InvalidInputError):
        import_frame(engine, settings, "grids", grids_utm(), ImportOptions(columns={"colour": "x"}))
    before = counts(engine)
    # pretend validation missed a stored code: the database's own constraint must answer
    monkeypatch.setattr(repo, "current_grid_codes", lambda conn, codes: set())
    exc = rejected(import_frame, engine, settings, "grids", grids_utm(), GRID_MAP)
    (problem,) = exc.problems
    assert problem.column in ("uq_grid_current_code", "ex_grid_code_versions")
    assert "320599001001001" in problem.reason and problem.row is None
    assert counts(engine) == before


def test_read_source_gives_lonlat_frame(tmp_path):
    path = tmp_path / "a.gpkg"
    areas_utm().to_file(path, driver="GPKG")
    frame = read_source(path)
    assert frame.crs.to_epsg() == 4326 and list(frame["_row"]) == [1, 2, 3, 4]
    assert frame.total_bounds == pytest.approx(areas_utm().to_crs(4326).total_bounds, abs=1e-9)
