"""Grid generation from communities and street centerlines (gis.grids.generate), and on Cambridge MA.

Hand-made layouts sit near the UTM zone's central meridian (x = 500 km) so metres are metres.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
from shapely import LineString, box
from sqlalchemy import text

from app.services.catalog.imports import import_frame
from app.services.grids.topology import rules
from app.settings import Settings
from gis.grids import area_distribution, check_topology, generate_grids

UTM = "EPSG:32651"
X0, Y0 = 500_000, 3_460_000
C1, C2 = "320599001001", "320599001002"


def communities(*shapes):
    codes = [C1, C2][: len(shapes)]
    return gpd.GeoDataFrame(
        {"code": codes}, geometry=[shapely.affinity.translate(s, X0, Y0) for s in shapes], crs=UTM
    )


def streets(*lines):
    return gpd.GeoSeries(
        [shapely.affinity.translate(LineString(p), X0, Y0) for p in lines], crs=UTM
    )


def local(grids):
    return [shapely.affinity.translate(g, -X0, -Y0) for g in grids.geometry]


def errors(grids, comms):
    return [(v.rule, v.codes) for v in check_topology(grids, comms) if v.severity == "error"]


def test_blocks_follow_streets_and_codes_read_in_rows():
    comms = communities(box(0, 0, 400, 200))
    grids = generate_grids(comms, streets([(200, -10), (200, 210)], [(-10, 100), (410, 100)]))
    assert grids["code"].tolist() == [f"{C1}{n:03d}" for n in range(1, 9)]
    assert grids["area_m2"].to_numpy() == pytest.approx(np.full(8, 10_000), rel=1e-6)
    boxes = [tuple(round(v) for v in g.bounds) for g in local(grids)]
    # rows north → south, west → east inside a row
    assert boxes[:4] == [
        (0, 100, 100, 200),
        (100, 100, 200, 200),
        (200, 100, 300, 200),
        (300, 100, 400, 200),
    ]
    assert boxes[4] == (0, 0, 100, 100)
    assert errors(grids, comms) == []


def test_large_blocks_split_small_ones_merge_never_across_a_community():
    comms = communities(box(0, 0, 1000, 100), box(1000, 0, 1400, 400))
    # a dense street net (40 m blocks) in the second community, crossing into the first
    dense = [[(x, -10), (x, 410)] for x in range(1040, 1400, 40)]
    dense += [[(900, y), (1410, y)] for y in range(40, 400, 40)]
    grids = generate_grids(comms, streets(*dense))
    first = grids[grids["community_code"] == C1]
    assert len(first) == 10  # a 1,000 m × 100 m block with no street: cut across, 10 × 1 ha
    assert first["area_m2"].to_numpy() == pytest.approx(np.full(10, 10_000), rel=1e-6)
    second = grids[grids["community_code"] == C2]
    assert 10 <= len(second) <= 24  # 100 blocks of 1,600 m² merged toward 1 ha
    assert second["area_m2"].min() >= 5_000 and second["area_m2"].max() <= 16_000
    assert errors(grids, comms) == []


def test_a_street_beside_the_boundary_leaves_no_sliver():
    comms = communities(box(0, 0, 300, 100))
    # runs 2 m inside the south boundary, then two cross streets
    grids = generate_grids(
        comms, streets([(-10, 2), (310, 2)], [(100, -10), (100, 110)], [(200, -10), (200, 110)])
    )
    assert [round(g.bounds[1]) for g in local(grids)] == [0, 0, 0]
    assert errors(grids, comms) == []


def test_inputs_are_checked():
    comms = communities(box(0, 0, 100, 100))
    with pytest.raises(ValueError, match="CRS"):
        generate_grids(comms, streets([(0, 0), (1, 1)]).to_crs(4326))
    with pytest.raises(ValueError, match="12 digits"):
        generate_grids(comms.assign(code="32059900100"), streets([(0, 0), (1, 1)]))


# -- real data: Cambridge, Massachusetts ------------------------------------------------------

DISTRICT, SUBDISTRICT = "250001", "250001001"


@pytest.mark.realdata
def test_cambridge_neighbourhoods_are_gridded_along_their_streets(shared_dir, engine, settings):
    root = shared_dir / "realdata" / "cambridge_ma"
    hoods = gpd.read_file(root / "areas" / "BOUNDARY_CDDNeighborhoods.geojson")
    lines = gpd.read_file(root / "streets" / "TRANS_Centerlines.geojson")
    comms = hoods.assign(code=SUBDISTRICT + hoods["N_HOOD"].astype(int).map("{:03d}".format))
    comms = comms[["code", "name" if "name" in hoods else "NAME", "geometry"]]
    grids = generate_grids(comms[["code", "geometry"]], lines, metric_crs="EPSG:26986")

    # README: 18.5 km² of city, "about 1,850 cells of 10,000 m²"
    assert 1_700 <= len(grids) <= 1_950 and grids["community_code"].nunique() == 13
    metric = grids.to_crs(26986)
    dist = area_distribution(metric.area)
    assert 9_000 <= dist["median"] <= 11_000 and dist["share_in_band"] >= 0.98
    assert dist["p5"] >= 5_000 and dist["p95"] <= 20_000
    topo = rules(Settings())
    found = check_topology(grids, comms[["code", "geometry"]], topo, metric_crs="EPSG:26986")
    assert [v for v in found if v.severity == "error"] == []
    # the grids follow the centerlines: most street length runs along grid edges (measured
    # 78 %; the rest are dead ends, park paths and streets between merged small blocks)
    inner = shapely.intersection(
        shapely.union_all(metric.geometry.values).buffer(-0.5),
        shapely.union_all(lines.to_crs(26986).geometry.values),
    )
    inside = shapely.union_all([shapely.buffer(shapely.boundary(g), 0.5) for g in metric.geometry])
    crossing = shapely.difference(inner, inside).length
    assert crossing / inner.length < 0.3

    # and the database accepts them: every rule checked again at COMMIT, communities complete
    city = shapely.union_all(hoods.geometry.values)
    upper = gpd.GeoDataFrame(
        {"code": [DISTRICT, SUBDISTRICT], "name": ["Cambridge MA", "Cambridge"]},
        geometry=[city, city],
        crs=hoods.crs,
    )
    import_frame(engine, settings, "areas", upper)
    import_frame(engine, settings, "areas", comms.rename(columns={"NAME": "name"}))
    report = import_frame(engine, settings, "grids", grids[["code", "community_code", "geometry"]])
    assert report.rows_written == len(grids)
    with engine.connect() as conn:
        complete = conn.execute(text("SELECT count(complete_since) FROM grid_coverage")).scalar()
        worst = conn.execute(
            text(
                "SELECT count(*) FROM admin_area a, citygrid_grid_topology(a.code) t "
                "WHERE a.level = 'community' AND t.severity = 'error'"
            )
        ).scalar()
    assert (complete, worst) == (13, 0)


def test_cli_generates_and_validates_files(tmp_path):
    from typer.testing import CliRunner

    from app.cli import app as cli

    comms = communities(box(0, 0, 400, 200)).to_crs(4326)
    comms.assign(code=["1"]).to_file(tmp_path / "c.geojson")
    streets([(200, -10), (200, 210)]).to_crs(4326).to_frame("geometry").to_file(
        tmp_path / "s.geojson"
    )
    out = tmp_path / "grids.geojson"
    args = [
        "grids",
        "generate",
        "--communities",
        str(tmp_path / "c.geojson"),
        "--streets",
        str(tmp_path / "s.geojson"),
        "--code-prefix",
        "320599001",
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "8 grids in 1 communities" in result.output and "100.0 % inside" in result.output
    written = gpd.read_file(out)
    assert written["code"].str.startswith(C1 + "00").all() and len(written) == 8
    comms.to_file(tmp_path / "c12.geojson")
    result = CliRunner().invoke(
        cli,
        ["grids", "validate", "--grids", str(out), "--communities", str(tmp_path / "c12.geojson")],
    )
    assert result.exit_code == 0, result.output
    broken = written.assign(geometry=written.to_crs(UTM).buffer(5).to_crs(4326))  # 5 m overlaps
    broken.to_file(tmp_path / "broken.geojson")
    result = CliRunner().invoke(
        cli,
        [
            "grids",
            "validate",
            "--grids",
            str(tmp_path / "broken.geojson"),
            "--communities",
            str(tmp_path / "c12.geojson"),
        ],
    )
    assert result.exit_code == 1 and "overlap" in result.output
