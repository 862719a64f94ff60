"""Hotspots: Gi* against PySAL, stored weights, and the hotspot/statistics API on the demo district."""

from __future__ import annotations

import ast
import doctest
import time
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from fastapi.testclient import TestClient
from shapely import LineString, box
from sqlalchemy import text

import gis.hotspots.snap
import gis.hotspots.statistics
import gis.hotspots.weights
import gis.maps.render
from app.api.routes.hotspots import StreetHotspots
from app.db.session import make_engine
from app.main import create_app
from app.settings import Settings
from gis.demo import generate_district, read_district
from gis.grids import GridIndex
from gis.hotspots import (
    Contiguity,
    confidence_bins,
    fdr_threshold,
    gi_star,
    queen_contiguity,
    segment_contiguity,
)
from tests.conftest import create_database, drop_database

ROOT = Path(__file__).resolve().parents[1]
GEOJSON, PROBLEM = "application/geo+json", "application/problem+json"


# -- pure: gis.hotspots.weights and gis.hotspots.statistics -----------------------------------------------------


@pytest.fixture(scope="module")
def small_grids() -> gpd.GeoDataFrame:
    return generate_district(n_grids=600, seed=7, events_per_grid=0.0).grids


def test_doctests_pass() -> None:
    for module in (
        gis.hotspots.weights,
        gis.hotspots.statistics,
        gis.maps.render,
        gis.hotspots.snap,
    ):
        result = doctest.testmod(module, extraglobs={"gpd": gpd, "np": np})
        assert result.failed == 0, module.__name__


def test_hotspot_modules_stay_pure() -> None:
    paths = [*(ROOT / "gis" / "hotspots").glob("*.py"), *(ROOT / "gis" / "maps").glob("*.py")]
    assert len(paths) >= 6
    for path in paths:
        tree = ast.parse(path.read_text())
        imported = {
            a.name.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.Import)
            for a in n.names
        }
        imported |= {
            n.module.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module
        }
        assert not imported & {"fastapi", "sqlalchemy", "app", "psycopg2"}, path.name


def test_gi_star_matches_esda_exactly(small_grids) -> None:
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    w = queen_contiguity(small_grids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_w = libpysal.weights.Queen.from_dataframe(small_grids, use_index=False)
    assert {i: sorted(v) for i, v in ref_w.neighbors.items()} == w.neighbours()
    rng = np.random.default_rng(3)
    for y in (rng.poisson(4, len(small_grids)).astype(float), rng.gamma(0.5, 3, len(small_grids))):
        ours = gi_star(y, w)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = esda.G_Local(y, ref_w, star=True, transform="B", permutations=0)
        np.testing.assert_allclose(ours.g, ref.Gs, rtol=0, atol=1e-12)
        np.testing.assert_allclose(ours.z, ref.Zs, rtol=0, atol=1e-9)
        np.testing.assert_allclose(ours.p_norm, ref.p_norm, rtol=0, atol=1e-9)
        np.testing.assert_allclose(ours.variance, ref.VGs, rtol=1e-9)


def test_gi_star_is_much_faster_than_esda() -> None:
    """A 150 × 150 queen lattice (22,500 units): best of three runs each."""
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    ref_w = libpysal.weights.lat2W(150, 150, rook=False)
    pairs = np.array([(i, j) for i, js in ref_w.neighbors.items() for j in js])
    w = Contiguity.from_pairs(ref_w.n, pairs[:, 0], pairs[:, 1])
    y = np.random.default_rng(1).poisson(5, ref_w.n).astype(float)

    def best(fn) -> float:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            fn()
            times.append(time.perf_counter() - started)
        return min(times)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        esda_s = best(lambda: esda.G_Local(y, ref_w, star=True, transform="B", permutations=0))
    ours_s = best(lambda: gi_star(y, w))
    assert ours_s * 5 < esda_s, (ours_s, esda_s)


def test_bins_follow_two_sided_confidence_levels() -> None:
    z = np.array([3.0, 2.7, 2.0, -2.0, 1.7, -1.7, 1.5, 0.0, np.nan])
    p = np.minimum(2 * gis.hotspots.statistics.normal_sf(np.abs(z)), 1)
    assert confidence_bins(z, p).tolist() == [3, 3, 2, -2, 1, -1, 0, 0, 0]


def test_fdr_rejects_what_esda_fdr_rejects() -> None:
    esda = pytest.importorskip("esda")
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.uniform(0, 0.002, 30), rng.uniform(0, 1, 500)])
    for alpha in (0.01, 0.05, 0.10):
        cut = fdr_threshold(p, alpha)
        assert cut > 0
        np.testing.assert_array_equal(p <= cut, p < esda.fdr(p, alpha))
    # FDR can only make bins less extreme
    z = rng.normal(0, 2, 530)
    pz = np.minimum(2 * gis.hotspots.statistics.normal_sf(np.abs(z)), 1)
    assert (np.abs(confidence_bins(z, pz, fdr=True)) <= np.abs(confidence_bins(z, pz))).all()


def test_all_equal_counts_have_no_hotspots(small_grids) -> None:
    result = gi_star(np.full(len(small_grids), 4.0), queen_contiguity(small_grids))
    assert np.isnan(result.z).all() and (result.bin == 0).all()


def test_queen_handles_t_junctions_and_tolerance() -> None:
    # c's corner sits in the middle of a's top edge with no vertex there.
    cells = gpd.GeoSeries(
        [box(0, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2), box(2.3, 0, 3, 1)], crs=32651
    )
    assert queen_contiguity(cells).neighbours() == {0: [1, 2], 1: [0, 2], 2: [0, 1], 3: []}
    assert queen_contiguity(cells, tolerance_m=0.5).neighbours()[3] == [0, 2]


def test_segments_meet_at_nodes_within_a_metre() -> None:
    lines = gpd.GeoSeries(
        [
            LineString([(0, 0), (100, 0)]),
            LineString([(100.6, 0.3), (200, 0)]),
            LineString([(50, -50), (50, 50)]),  # crosses mid-line: no shared node
            LineString([(200, 0), (200, 100)]),
        ],
        crs=32651,
    )
    assert segment_contiguity(lines).neighbours() == {0: [1], 1: [0, 3], 2: [], 3: [1]}
    w = Contiguity.from_pairs(4, np.array([0, 1, 1]), np.array([1, 0, 3]))
    assert w.subset(np.array([False, True, True, True])).neighbours() == {0: [2], 1: [], 2: [0]}


# -- the demo district in a database of this module -----------------------------------------


@pytest.fixture(scope="module")
def demo() -> object:
    return read_district(ROOT / "data" / "grids")


@pytest.fixture(scope="module")
def demo_db(server_url, template_db, demo):
    from bench.bench_hotspots import load_district

    name = f"citygrid_hotspots_{id(demo) % 100000}"
    url = create_database(server_url, name, template=template_db)
    engine = make_engine(url)
    load_district(engine, demo, components="320599001001")
    yield url, engine
    engine.dispose()
    drop_database(server_url, name)


@pytest.fixture(scope="module")
def client(demo_db, tmp_path_factory):
    url, _ = demo_db
    settings = Settings(database_url=url, home=tmp_path_factory.mktemp("home"), map_basemap="none")
    with TestClient(create_app(settings)) as c:
        yield c


def _grids(client, query: str = "") -> dict:
    r = client.get("/api/v1/hotspots/grids" + query)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == GEOJSON
    return r.json()


def test_grid_hotspots_geojson(client, demo) -> None:
    body = _grids(client)
    assert body["type"] == "FeatureCollection" and body["numberReturned"] == len(demo.grids) == 2500
    props = [f["properties"] for f in body["features"]]
    assert sum(p["events"] for p in props) == body["summary"]["events"] == len(demo.events)
    assert sum(body["summary"]["bins"].values()) == 2500
    first = body["features"][0]
    assert first["geometry"]["type"] == "MultiPolygon" and first["id"] == props[0]["code"]
    assert set(props[0]) == {"code", "community_code", "events", "z", "p", "bin"}
    assert body["bins"]["3"].startswith("热点")
    # every invented hotspot of the generator (metadata.json) lies in a 99 % hot grid
    index = GridIndex.build(demo.grids[["code", "geometry"]])
    spots = demo.metadata["hotspots"]
    codes = index.locate_codes([s["lon"] for s in spots], [s["lat"] for s in spots])
    bins = {p["code"]: p["bin"] for p in props}
    assert [bins[c] for c in codes] == [3] * len(spots)


def test_api_gi_star_equals_esda_on_the_stored_weights(client, demo, demo_db) -> None:
    esda = pytest.importorskip("esda")
    libpysal = pytest.importorskip("libpysal")
    body = _grids(client, "?class=0102,0504&from=2026-01-01&to=2026-06-30&geometry=false")
    props = {f["properties"]["code"]: f["properties"] for f in body["features"]}
    grids = demo.grids
    y = np.array([props[c]["events"] for c in grids["code"]], dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = esda.G_Local(
            y,
            libpysal.weights.Queen.from_dataframe(grids, use_index=False),
            star=True,
            transform="B",
            permutations=0,
        )
    z = np.array([props[c]["z"] for c in grids["code"]])
    p = np.array([props[c]["p"] for c in grids["code"]])
    np.testing.assert_allclose(z, ref.Zs, atol=1e-6)  # the API rounds z to 6 decimals
    np.testing.assert_allclose(p, np.minimum(2 * ref.p_norm, 1), atol=1e-8)
    _, engine = demo_db
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT units, pairs FROM spatial_weights WHERE kind = 'grid_queen'")
        ).one()
        pairs = conn.execute(text("SELECT count(*) FROM grid_neighbour")).scalar_one()
    assert stored == (2500, pairs)


def test_filters_and_trend(client) -> None:
    whole = _grids(client, "?geometry=false")["summary"]["events"]
    garbage = _grids(client, "?class=0102&geometry=false")["summary"]["events"]
    quarter = _grids(client, "?from=2026-01-01&to=2026-03-31&geometry=false&trend=true")
    hotline = _grids(client, "?source=hotline,video&status=closed&major=01&geometry=false")[
        "summary"
    ]["events"]
    assert 0 < garbage < whole and 0 < quarter["summary"]["events"] < whole and 0 < hotline < whole
    assert quarter["filter"]["to"] == "2026-04-01T00:00:00+08:00"
    assert quarter["previous"] == {
        "from": "2025-10-03T00:00:00+08:00",
        "to": "2026-01-01T00:00:00+08:00",
    }
    one = quarter["features"][0]["properties"]
    assert (
        one["change"] == one["events"] - one["previous"]
        and one["trend"] in gis.hotspots.statistics.TREND_LABELS
    )
    area = _grids(client, "?area=320599001&significant=true")
    assert all(
        f["id"].startswith("320599001") and f["properties"]["bin"] != 0 for f in area["features"]
    )
    assert area["numberMatched"] < 2500
    opened = _grids(client, "?status=open&geometry=false")["summary"]["events"]
    assert 0 < opened < whole


@pytest.mark.parametrize(
    ("query", "slug", "parameter"),
    [
        ("class=12", "invalid-input", "class"),
        ("class=9999", "unknown-class", "class"),
        ("from=2026-02-30", "invalid-input", "from"),
        ("from=2026-03-01&to=2026-02-01", "invalid-input", "to"),
        ("source=drone", "invalid-input", "source"),
        ("status=lost", "invalid-input", "status"),
        ("area=3205", "invalid-input", "area"),
        ("major=1", "invalid-input", "major"),
        ("trend=true", "invalid-input", "trend"),
    ],
)
def test_bad_filters_are_422_problems(client, query, slug, parameter) -> None:
    for path in ("/api/v1/hotspots/grids", "/api/v1/hotspots/streets", "/api/v1/stats/streets"):
        if query == "trend=true" and path.endswith("stats/streets"):
            continue
        r = client.get(f"{path}?{query}&lang=en")
        assert r.status_code == 422, (path, query, r.text)
        assert r.headers["content-type"] == PROBLEM
        assert r.json()["type"].endswith(slug) and r.json()["parameter"] == parameter


def test_kind_is_validated_by_the_framework(client) -> None:
    r = client.get("/api/v1/hotspots/grids?kind=thing")
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


def test_street_ranking_segments_and_geojson(client, demo_db) -> None:
    r = client.get("/api/v1/hotspots/streets?limit=200&from=2026-01-01&to=2026-03-31&trend=true")
    assert r.status_code == 200
    body = StreetHotspots.model_validate(r.json())
    events = [i.events for i in body.items]
    assert events == sorted(events, reverse=True) and [i.rank for i in body.items] == list(
        range(1, len(events) + 1)
    )
    top = body.items[0]
    assert top.per_100m == pytest.approx(top.events * 100 / top.length_m)
    assert top.previous is not None
    assert top.change == top.events - top.previous
    by_rate = client.get("/api/v1/hotspots/streets?order=rate&limit=5").json()["items"]
    assert [i["per_100m"] for i in by_rate] == sorted(
        (i["per_100m"] for i in by_rate), reverse=True
    )
    segs = StreetHotspots.model_validate(
        client.get("/api/v1/hotspots/streets?level=segment&limit=5000").json()
    )
    assert all(s.segment_id and s.bin is not None for s in segs.items)
    assert any(s.bin == 3 for s in segs.items)
    per_street = client.get("/api/v1/hotspots/streets?limit=5000").json()["items"]
    seg_total: dict[int, int] = {}
    for s in segs.items:
        seg_total[s.street_id] = seg_total.get(s.street_id, 0) + s.events
    assert {i["street_id"]: i["events"] for i in per_street} == seg_total
    _, engine = demo_db
    with engine.connect() as conn:
        wrong = conn.execute(
            text(
                "SELECT count(*) FROM event_segment m JOIN event e ON e.id = m.event_id "
                "JOIN street_segment s ON s.id = m.segment_id WHERE s.street_id <> e.street_id"
            )
        ).scalar_one()
    assert wrong == 0
    geo = client.get("/api/v1/hotspots/streets?format=geojson&limit=3&level=segment")
    assert geo.status_code == 200 and geo.headers["content-type"] == GEOJSON
    assert [f["geometry"]["type"] for f in geo.json()["features"]] == ["LineString"] * 3


def test_stats_by_street_and_class(client) -> None:
    q = "from=2026-01-01&to=2026-03-31&source=supervisor"
    stats = client.get(f"/api/v1/stats/streets?{q}&limit=5000").json()
    ranking = client.get(f"/api/v1/hotspots/streets?{q}&limit=5000").json()["items"]
    assert {s["street_id"]: s["events"] for s in stats["items"]} == {
        i["street_id"]: i["events"] for i in ranking
    }
    first = stats["items"][0]
    assert first["events"] == sum(c["events"] for c in first["classes"])
    assert first["classes"][0]["name"] and first["classes"][0]["kind"] in ("event", "component")


def _code_pairs(engine) -> set[tuple[str, str]]:
    sql = (
        "SELECT a.code, b.code FROM grid_neighbour n JOIN grid a ON a.id = n.grid_id "
        "JOIN grid b ON b.id = n.neighbour_id"
    )
    with engine.connect() as conn:
        return {tuple(sorted(r)) for r in conn.execute(text(sql))}


def test_weights_follow_grid_changes(client, demo_db) -> None:
    """A new grid version changes the fingerprint; the next query updates the weights
    incrementally, to exactly what a full recomputation gives."""
    from typer.testing import CliRunner

    from app.cli import app as cli

    url, engine = demo_db
    code = "320599001001001"
    before_pairs = _code_pairs(engine)
    with engine.begin() as conn:
        before = conn.execute(
            text("SELECT fingerprint FROM spatial_weights WHERE kind = 'grid_queen'")
        ).scalar_one()
        old_id = conn.execute(
            text("SELECT id FROM grid WHERE code = :c AND valid_to IS NULL"), {"c": code}
        ).scalar_one()
        conn.execute(text("UPDATE grid SET valid_to = '2026-11-01' WHERE id = :i"), {"i": old_id})
        new_id = conn.execute(
            text(
                "INSERT INTO grid (code, community_code, geom, supervisor, version, valid_from) "
                "SELECT code, community_code, geom, supervisor, 2, '2026-11-01' FROM grid WHERE id = :i RETURNING id"
            ),
            {"i": old_id},
        ).scalar_one()
    body = _grids(client, "?geometry=false")
    assert body["numberReturned"] == 2500
    with engine.connect() as conn:
        after = conn.execute(
            text("SELECT fingerprint FROM spatial_weights WHERE kind = 'grid_queen'")
        ).scalar_one()
        count = lambda i: conn.execute(  # noqa: E731
            text("SELECT count(*) FROM grid_neighbour WHERE :i IN (grid_id, neighbour_id)"),
            {"i": i},
        ).scalar_one()
        assert count(new_id) >= 3 and count(old_id) == 0
    assert after != before
    incremental = _code_pairs(engine)
    assert incremental == before_pairs  # same geometry, same neighbours, by code
    result = CliRunner().invoke(cli, ["maps", "weights", "--force"], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert "grids 2500" in result.output
    assert _code_pairs(engine) == incremental
