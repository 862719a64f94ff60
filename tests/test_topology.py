"""Grid topology rules: pure checks on hand-made shapes, and the database's guarantee.

The database path is exercised with raw SQL, as an editor working straight in PostGIS
(QGIS) would: a change that breaks a rule fails at COMMIT with a clear message and leaves
nothing behind; a community may be filled grid by grid inside one transaction, or over
several while it is only partly gridded.
"""

from __future__ import annotations

import geopandas as gpd
import pytest
from fastapi.testclient import TestClient
from shapely import Polygon, box
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from app.cli import app as cli
from app.errors import ImportRejected
from app.main import create_app
from app.services.catalog.imports import import_frame
from app.services.grids.topology import check
from app.settings import Settings
from gis.grids import TopologyRules, area_distribution, check_topology
from tests import small_district as sd

UTM = "EPSG:32651"
C1 = "320599001001"


def frames(*grids, community=box(0, 0, 200, 100)):
    comm = gpd.GeoDataFrame({"code": [C1]}, geometry=[community], crs=UTM)
    g = gpd.GeoDataFrame(
        {"code": [f"{C1}{i + 1:03d}" for i in range(len(grids))], "community_code": C1},
        geometry=list(grids),
        crs=UTM,
    )
    return g, comm


def rules_found(grids, comm, **kw):
    return sorted((v.rule, v.severity, v.codes) for v in check_topology(grids, comm, **kw))


# -- pure rules -------------------------------------------------------------------------------


def test_a_clean_tiling_passes():
    assert check_topology(*frames(box(0, 0, 100, 100), box(100, 0, 200, 100))) == []


def test_overlap_beyond_a_few_cm2_is_an_error_with_its_shape():
    (v,) = check_topology(*frames(box(0, 0, 101, 100), box(100, 0, 200, 100)))
    assert (v.rule, v.severity, v.codes) == ("overlap", "error", (f"{C1}001", f"{C1}002"))
    assert v.area_m2 == pytest.approx(100) and v.geometry.bounds == (100, 0, 101, 100)
    # 1 mm along 100 m is 0.1 m²; 1 µm is 1 cm², inside the tolerance
    assert rules_found(*frames(box(0, 0, 100.000001, 100), box(100, 0, 200, 100))) == []


def test_gap_outside_and_thin_gaps():
    grids, comm = frames(box(0, 0, 90, 100), box(100, 0, 200, 100))
    (gap,) = check_topology(grids, comm)
    assert (gap.rule, gap.codes, round(gap.area_m2)) == ("gap", (), 1000)
    # a 1 cm seam along the whole boundary is digitising noise, not a gap
    assert rules_found(*frames(box(0, 0, 99.99, 100), box(100, 0, 200, 100))) == []
    # a partly gridded community: its gaps are one warning
    assert rules_found(grids, comm, partial=True) == [("partial", "warning", ())]
    assert rules_found(grids, comm, partial=[C1]) == [("partial", "warning", ())]
    outside = rules_found(*frames(box(0, 0, 100, 105), box(100, 0, 200, 100)))
    assert outside == [("outside", "error", (f"{C1}001",))]


def test_slivers_area_band_and_multipart():
    strip = box(100, 0, 100.05, 100)  # 5 cm wide: an artifact, not an area
    tail = Polygon([(0, 0), (100, 0), (100, 100), (0, 100)]).union(box(100, 0, 200, 0.04))
    found = rules_found(*frames(box(0, 0, 100, 100), strip, box(100.05, 0, 200, 100)))
    assert found == [("area", "warning", (f"{C1}002",)), ("sliver", "error", (f"{C1}002",))]
    grids, comm = frames(tail, box(100, 0.04, 200, 100))
    assert ("sliver", "error", (f"{C1}001",)) not in rules_found(grids, comm)  # one polygon
    small = rules_found(*frames(box(0, 0, 10, 100), box(10, 0, 200, 100)), rules=TopologyRules())
    assert small == [("area", "warning", (f"{C1}001",))]
    two = box(0, 0, 50, 100).union(box(150, 0, 200, 100))
    found = rules_found(*frames(two, box(50, 0, 150, 100)))
    assert found == [("multipart", "warning", (f"{C1}001",))]


def test_invalid_grids_and_crs_checked_up_front():
    bowtie = Polygon([(0, 0), (100, 100), (100, 0), (0, 100)])
    found = rules_found(*frames(bowtie, box(100, 0, 200, 100)))
    assert ("invalid", "error", (f"{C1}001",)) in found
    grids, comm = frames(box(0, 0, 200, 100))
    with pytest.raises(ValueError, match="CRS"):
        check_topology(grids, comm.to_crs(4326))


def test_geographic_input_is_measured_in_metres():
    grids, comm = frames(box(0, 0, 101, 100), box(100, 0, 200, 100))
    # near the zone's central meridian (x = 500 km), where UTM scale is ~1
    grids, comm = (f.translate(500_000, 3_460_000) for f in (grids.geometry, comm.geometry))
    (v,) = check_topology(
        frames(*grids)[0].set_crs(UTM, allow_override=True).to_crs(4326),
        frames(community=comm.iloc[0])[1].to_crs(4326),
    )
    assert v.area_m2 == pytest.approx(100, rel=1e-3)
    assert v.geometry.bounds[0] > 120  # handed back in lon/lat


def test_area_distribution():
    d = area_distribution([1000, 9000, 10000, 11000, 60000])
    assert (d["count"], d["min"], d["median"], d["max"]) == (5, 1000, 10000, 60000)
    assert d["share_in_band"] == pytest.approx(0.6)


# -- the database enforces the same rules -----------------------------------------------------


def box_wkt(x0, y0, x1, y1):
    pts = [
        sd.lonlat(x0, y0),
        sd.lonlat(x1, y0),
        sd.lonlat(x1, y1),
        sd.lonlat(x0, y1),
        sd.lonlat(x0, y0),
    ]
    return "MULTIPOLYGON(((" + ", ".join(f"{x!r} {y!r}" for x, y in pts) + ")))"


def refused(engine, *statements):
    """Run ``statements`` in one transaction; the COMMIT must fail. Returns the message."""
    with pytest.raises(IntegrityError) as info, engine.begin() as conn:
        for sql, params in statements:
            conn.execute(text(sql), params)
    assert info.value.orig.diag.constraint_name == "grid_topology"
    return str(info.value.orig)


def scalar(engine, sql, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


INSERT = "INSERT INTO grid (code, community_code, geom) VALUES (:c, :m, ST_GeomFromText(:g, 4326))"
SHAPE = "UPDATE grid SET geom = ST_GeomFromText(:g, 4326) WHERE code = :c AND valid_to IS NULL"


def test_commit_refuses_overlap_gap_and_outside_made_in_raw_sql(engine):
    sd.build(engine)  # four grids inserted one by one in one transaction: checked at COMMIT
    assert scalar(engine, "SELECT count(complete_since) FROM grid_coverage") == 2
    message = refused(
        engine,
        (INSERT, {"c": sd.COMMUNITY_A + "003", "m": sd.COMMUNITY_A, "g": box_wkt(50, 0, 150, 100)}),
    )
    assert "grid topology violated in community 320599001001" in message
    assert "overlap 320599001001001 x 320599001001003" in message
    assert "HINT" in message and "citygrid grids validate" in message
    message = refused(engine, (SHAPE, {"c": sd.A1, "g": box_wkt(0, 0, 80, 100)}))
    assert "gap - 2" in message  # the 20 m strip left uncovered (~2,000 m²)
    message = refused(engine, (SHAPE, {"c": sd.B2, "g": box_wkt(100, 100, 200, 210)}))
    assert "outside 320599001002002" in message
    # nothing of any of them was kept
    assert scalar(engine, "SELECT count(*) FROM grid") == 4
    assert scalar(
        engine, "SELECT ST_Area(geom::geography)::int FROM grid WHERE code = :c", c=sd.A1
    ) == pytest.approx(10_036, abs=5)


def test_a_boundary_moved_in_one_transaction_passes(engine):
    sd.build(engine)
    with engine.begin() as conn:  # two statements, one rule-abiding result at COMMIT
        conn.execute(text(SHAPE), {"c": sd.A1, "g": box_wkt(0, 0, 120, 100)})
        conn.execute(text(SHAPE), {"c": sd.A2, "g": box_wkt(120, 0, 200, 100)})
    assert scalar(engine, "SELECT count(*) FROM citygrid_grid_topology(:c)", c=sd.COMMUNITY_A) == 0


def test_partly_gridded_community_is_filled_over_several_commits(engine):
    sd.build(engine)
    with engine.begin() as conn:  # a fresh community, loaded in three steps
        conn.execute(
            text(
                "INSERT INTO admin_area (code, level, parent_code, name, geom) "
                "VALUES ('320599001003', 'community', :p, '新社区', "
                "ST_GeomFromText(:g, 4326))"
            ),
            {"p": sd.SUBDISTRICT, "g": box_wkt(200, 0, 400, 100)},
        )
    c3 = "320599001003"
    with engine.begin() as conn:
        conn.execute(text(INSERT), {"c": c3 + "001", "m": c3, "g": box_wkt(200, 0, 300, 100)})
    state = "SELECT complete_since IS NOT NULL FROM grid_coverage WHERE community_code = :c"
    assert scalar(engine, state, c=c3) is False
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT rule, severity, round(area_m2) FROM citygrid_grid_topology(:c)"), {"c": c3}
        ).all()
    assert [(r, s) for r, s, _ in rows] == [("partial", "warning")]
    with engine.begin() as conn:
        conn.execute(text(INSERT), {"c": c3 + "002", "m": c3, "g": box_wkt(300, 0, 400, 100)})
    assert scalar(engine, state, c=c3) is True
    # once complete, the community must stay covered
    assert "gap" in refused(engine, ("DELETE FROM grid WHERE code = :c", {"c": c3 + "002"}))
    # retiring every grid of it starts it over
    with engine.begin() as conn:
        conn.execute(text("UPDATE grid SET valid_to = now() WHERE community_code = :c"), {"c": c3})
    assert scalar(engine, state, c=c3) is None


def test_community_boundary_change_is_checked_too(engine):
    sd.build(engine)
    message = refused(
        engine,
        (
            "UPDATE admin_area SET geom = ST_GeomFromText(:g, 4326) WHERE code = :c",
            {"c": sd.COMMUNITY_A, "g": box_wkt(0, -30, 200, 100)},
        ),
    )
    assert "gap" in message and sd.COMMUNITY_A in message


def test_bulk_load_may_skip_and_validate_afterwards(engine, settings, monkeypatch):
    sd.build(engine)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL citygrid.skip_topology = on"))
        conn.execute(
            text(INSERT),
            {"c": sd.COMMUNITY_A + "003", "m": sd.COMMUNITY_A, "g": box_wkt(50, 0, 150, 100)},
        )
    # the skipped change is reported: API (GeoJSON with the offending shape) and CLI
    with TestClient(create_app(settings)) as client:
        r = client.get("/api/v1/grids/validation")
        assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
        body = r.json()
        assert (body["errors"], body["communities_checked"]) == (2, 2)
        pairs = sorted(tuple(f["properties"]["codes"]) for f in body["features"])
        assert pairs == [(sd.A1, sd.COMMUNITY_A + "003"), (sd.A2, sd.COMMUNITY_A + "003")]
        assert all(f["geometry"]["type"] == "Polygon" for f in body["features"])
        assert "重叠" in body["features"][0]["properties"]["message_zh"]
        assert client.get("/api/v1/grids/validation?community=3205990010").status_code == 422
        r = client.get(f"/api/v1/grids/validation?community={sd.COMMUNITY_B}")
        assert r.json()["features"] == []
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    result = CliRunner().invoke(cli, ["grids", "validate"])
    assert result.exit_code == 1 and "2 error(s)" in result.output
    assert "overlap" in result.output
    # the next ordinary change to that community is checked again, and refused
    assert "overlap" in refused(
        engine, ("UPDATE grid SET valid_from = '2019-01-01' WHERE code = :c", {"c": sd.A1})
    )


def test_database_and_python_rules_agree(engine, settings):
    sd.build(engine)
    grids = [
        ("003", box_wkt(150, 0, 200, 100.6)),  # overlaps A2, pokes out into B
        ("004", box_wkt(0, 0, 0.05, 100)),
    ]  # a sliver on A1's edge
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL citygrid.skip_topology = on"))
        conn.execute(text(SHAPE), {"c": sd.A1, "g": box_wkt(0, 0, 90, 100)})  # a gap
        for seq, wkt in grids:
            conn.execute(text(INSERT), {"c": sd.COMMUNITY_A + seq, "m": sd.COMMUNITY_A, "g": wkt})
    with engine.connect() as conn:
        db = sorted(
            (r, tuple(c))
            for r, c in conn.execute(
                text("SELECT rule, codes FROM citygrid_grid_topology(:c) WHERE severity = 'error'"),
                {"c": sd.COMMUNITY_A},
            )
        )
        stored = gpd.read_postgis(
            text("SELECT code, community_code, geom FROM grid WHERE valid_to IS NULL"),
            conn,
            geom_col="geom",
        )
        comm = gpd.read_postgis(
            text("SELECT code, geom FROM admin_area WHERE level = 'community'"),
            conn,
            geom_col="geom",
        )
    py = sorted((v.rule, v.codes) for v in check_topology(stored, comm) if v.severity == "error")
    assert db == py
    assert {r for r, _ in db} == {"overlap", "outside", "gap", "sliver"}


def test_an_import_breaking_the_rules_is_refused_whole(engine, settings):
    sd.build(engine)
    lon0, lat0 = sd.lonlat(0, 0)
    lon1, lat1 = sd.lonlat(200, 100)
    overlapping = gpd.GeoDataFrame(
        {"code": [sd.COMMUNITY_A + "005"]}, geometry=[box(lon0, lat0, lon1, lat1)], crs=4326
    )
    with pytest.raises(ImportRejected) as info:
        import_frame(engine, settings, "grids", overlapping)
    assert "grid topology violated" in info.value.problems[0].reason
    assert scalar(engine, "SELECT count(*) FROM grid") == 4


def test_tolerances_follow_the_settings(engine):
    sd.build(engine)
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL citygrid.skip_topology = on"))
        conn.execute(text(SHAPE), {"c": sd.A1, "g": box_wkt(0, 0, 100, 99.5)})  # 50 m² gap
    with Session(engine) as session:
        strict = check(session, Settings(), [sd.COMMUNITY_A])
        session.rollback()
        loose = check(session, Settings(grid_gap_max_m2=100.0), [sd.COMMUNITY_A])
    assert [v["rule"] for v in strict] == ["gap"] and loose == []
