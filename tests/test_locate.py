"""GridIndex must equal a brute-force shapely ``covers`` test, smallest code winning, exactly.

Pure tests (no database). Fixtures are built here: a jittered lattice of quadrilaterals in
UTM 51N reprojected to EPSG:4326 around Suzhou, with concave L-shaped grids, a grid with an
empty hole, a grid whose hole holds an island grid, and a MultiPolygon grid. Points include
every vertex and edge midpoint (shared by 2-4 grids), points in holes and outside.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.affinity
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon, box

from gis.grids import GridIndex, locate_points

CENTRE = (120.6, 31.3)


def brute_force(grids: gpd.GeoDataFrame, lon, lat, code_column: str = "code") -> np.ndarray:
    """Reference: ``covers`` on every bounding-box candidate, the smallest code wins."""
    geoms = np.asarray(grids.geometry.array, dtype=object)
    codes = grids[code_column].to_numpy().astype(str)
    pts = shapely.points(lon, lat)
    p, g = shapely.STRtree(geoms).query(pts)
    ok = shapely.covers(geoms[g], pts[p])
    p, g = p[ok], g[ok]
    order = np.lexsort((g, codes[g], p))
    p, g = p[order], g[order]
    first = np.ones(p.size, dtype=bool)
    first[1:] = p[1:] != p[:-1]
    out = np.full(len(pts), -1, dtype=np.int64)
    out[p[first]] = g[first]
    return out


def lattice_grids(
    n: int = 40, seed: int = 7, centre=CENTRE, utm: str = "EPSG:32651"
) -> gpd.GeoDataFrame:
    """Jittered ``n x n`` lattice of ~100 m quads plus concave, holed and multi-part grids."""
    rng = np.random.default_rng(seed)
    to_utm = Transformer.from_crs("EPSG:4326", utm, always_xy=True)
    to_ll = Transformer.from_crs(utm, "EPSG:4326", always_xy=True)
    x0, y0 = to_utm.transform(*centre)
    step = np.arange(n + 1) * 100.0 - 50.0 * n
    x, y = np.meshgrid(step + x0, step + y0)
    x, y = x + rng.uniform(-20, 20, x.shape), y + rng.uniform(-20, 20, y.shape)
    lon, lat = to_ll.transform(x, y)
    node = np.stack([lon, lat], axis=-1)  # node[j, i]: shared corners are bit-identical

    def ring(*ji):
        return [tuple(node[j, i]) for j, i in ji]

    taken = np.zeros((n, n), dtype=bool)
    polys = []
    # Concave L-shapes: three cells of a 2x2 block; the fourth stays a quad.
    corners = {(2, 2), (n // 4, n // 2), (3 * n // 4, n // 8), (n // 2, 3 * n // 4)}
    for j, i in sorted((j, i) for j, i in corners if j + 2 <= n and i + 2 <= n):
        if taken[j : j + 2, i : i + 2].any():
            continue
        polys.append(
            Polygon(
                ring(
                    (j, i),
                    (j, i + 1),
                    (j, i + 2),
                    (j + 1, i + 2),
                    (j + 1, i + 1),
                    (j + 2, i + 1),
                    (j + 2, i),
                    (j + 1, i),
                )
            )
        )
        taken[j, i] = taken[j, i + 1] = taken[j + 1, i] = True
    for j, i in zip(*np.nonzero(~taken), strict=True):
        polys.append(Polygon(ring((j, i), (j, i + 1), (j + 1, i + 1), (j + 1, i))))
    # Holes: one left empty, one filled exactly by an island grid (shared boundary).
    for k, island in ((len(polys) // 3, False), (2 * len(polys) // 3, True)):
        shell = polys[k]
        hole = shapely.affinity.scale(shell, 0.4, 0.4, origin="centroid").exterior
        polys[k] = Polygon(shell.exterior, [hole])
        if island:
            polys.append(Polygon(hole))
    # A MultiPolygon grid beside the lattice, one part touching the lattice's corner node.
    lx, ly = node[0, 0]
    polys.append(
        MultiPolygon(
            [
                box(lx - 0.002, ly - 0.002, lx, ly),
                box(lx - 0.004, ly - 0.004, lx - 0.003, ly - 0.003),
            ]
        )
    )
    codes = 320505001001001 + rng.permutation(len(polys))  # codes unrelated to row order
    return gpd.GeoDataFrame({"code": codes.astype(str)}, geometry=polys, crs="EPSG:4326")


def sample_points(grids: gpd.GeoDataFrame, n_random: int, seed: int = 11):
    """Random points over the extent plus every vertex, edge midpoint and near-edge point."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = grids.total_bounds
    pad = 0.1 * (maxx - minx)
    lon = [rng.uniform(minx - pad, maxx + pad, n_random)]
    lat = [rng.uniform(miny - pad, maxy + pad, n_random)]
    rings = shapely.get_rings(shapely.get_parts(grids.geometry.values))
    xy, idx = shapely.get_coordinates(rings, return_index=True)
    same = idx[1:] == idx[:-1]
    a, b = xy[:-1][same], xy[1:][same]
    mid = (a + b) / 2
    t = rng.uniform(0, 1, len(a))[:, None]
    along = a + t * (b - a)  # on the edge up to one rounding: both answers happen
    nudge = along + rng.normal(0, 1e-12, along.shape)  # ~100 ulps (0.1 um) off the edge
    for extra in (xy, mid, along, nudge):
        lon.append(extra[:, 0])
        lat.append(extra[:, 1])
    lon.append(np.array([np.nan, 0.0, np.inf, 120.6]))
    lat.append(np.array([31.3, np.nan, 31.3, -np.inf]))
    return np.concatenate(lon), np.concatenate(lat)


@pytest.fixture(scope="module")
def grids() -> gpd.GeoDataFrame:
    return lattice_grids()


@pytest.fixture(scope="module")
def points(grids):
    return sample_points(grids, 200_000)


@pytest.fixture(scope="module")
def expected(grids, points):
    return brute_force(grids, *points)


@pytest.mark.parametrize("cell_size_m", [None, 6.0, 45.0, 400.0])
def test_locate_equals_brute_force(grids, points, expected, cell_size_m):
    lon, lat = points
    index = GridIndex.build(grids, cell_size_m=cell_size_m)
    got = index.locate(lon, lat)
    assert got.dtype == np.int64
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, (bad[:10], got[bad[:10]], expected[bad[:10]])
    # The fixture really exercises shared boundaries, holes and the outside.
    assert (expected == -1).sum() > 1000
    assert index.stats["boundary_fraction"] > 0


def test_shared_vertex_goes_to_smallest_code(grids):
    index = GridIndex.build(grids)
    quads = grids[
        grids.geometry.apply(
            lambda g: g.geom_type == "Polygon" and len(g.exterior.coords) == 5 and not g.interiors
        )
    ]
    # A lattice node shared by four quads: covered by all four, the smallest code wins.
    node = np.array(quads.geometry.iloc[500].exterior.coords[2])
    holders = grids[grids.covers(shapely.Point(node))]
    assert len(holders) >= 2
    code = index.locate_codes(node[:1], node[1:])[0]
    assert code == min(holders["code"])


def test_locate_codes_and_shapes(grids, points):
    lon, lat = points
    index = GridIndex.build(grids)
    codes = index.locate_codes(lon[:1000], lat[:1000])
    pos = index.locate(lon[:1000], lat[:1000])
    assert codes.dtype == object
    assert all(c is None for c in codes[pos < 0])
    assert list(codes[pos >= 0]) == list(grids["code"].to_numpy()[pos[pos >= 0]])
    grid2d = index.locate(lon[:1000].reshape(20, 50), lat[:1000].reshape(20, 50))
    assert grid2d.shape == (20, 50)
    assert np.array_equal(grid2d.ravel(), pos)
    assert np.array_equal(locate_points(grids, lon[:1000], lat[:1000]), pos)


def test_crs_is_checked(grids):
    with pytest.raises(ValueError, match="EPSG:4326"):
        GridIndex.build(grids.to_crs("EPSG:32651"))
    with pytest.raises(ValueError, match="EPSG:4326"):
        GridIndex.build(grids.set_crs(None, allow_override=True))


def test_bad_input_is_rejected(grids):
    with pytest.raises(ValueError, match="code column"):
        GridIndex.build(grids, code_column="grid_code")
    lines = gpd.GeoDataFrame(
        {"code": ["1"]}, geometry=[shapely.LineString([(0, 0), (1, 1)])], crs="EPSG:4326"
    )
    with pytest.raises(ValueError, match="Polygon"):
        GridIndex.build(lines)


def test_empty_input():
    empty = gpd.GeoDataFrame({"code": []}, geometry=[], crs="EPSG:4326")
    index = GridIndex.build(empty)
    assert index.locate(np.array([120.6, 0.0]), np.array([31.3, 0.0])).tolist() == [-1, -1]
    assert index.locate_codes([120.6], [31.3]).tolist() == [None]
    assert index.stats["cells"] == 0
    assert GridIndex.build(empty).locate(np.empty(0), np.empty(0)).shape == (0,)


def test_single_grid():
    grid = gpd.GeoDataFrame(
        {"code": ["320505001001001"]},
        geometry=[box(120.600, 31.300, 120.601, 31.301)],
        crs="EPSG:4326",
    )
    lon = np.array([120.6005, 120.600, 120.601, 120.6010000000001, 120.5999999, 120.6005])
    lat = np.array([31.3005, 31.300, 31.301, 31.3005, 31.3005, 31.3010000001])
    index = GridIndex.build(grid)
    assert index.locate(lon, lat).tolist() == [0, 0, 0, -1, -1, -1]
    assert np.array_equal(index.locate(lon, lat), brute_force(grid, lon, lat))


def test_missing_and_empty_geometries_never_match(grids):
    sub = grids.iloc[:50].copy()
    sub.loc[sub.index[3], "geometry"] = None
    sub.loc[sub.index[4], "geometry"] = Polygon()
    lon, lat = sample_points(sub, 20_000)
    assert np.array_equal(GridIndex.build(sub).locate(lon, lat), brute_force(sub, lon, lat))


def test_overlapping_grids_are_still_exact():
    # Not a valid tiling, but the rule is defined anyway: smallest covering code wins.
    x, y = CENTRE
    polys = [
        box(x, y, x + 0.003, y + 0.003),
        box(x + 0.001, y + 0.001, x + 0.002, y + 0.002),
        box(x + 0.002, y, x + 0.005, y + 0.002),
    ]
    grids = gpd.GeoDataFrame(
        {"code": ["320505001001003", "320505001001001", "320505001001002"]},
        geometry=polys,
        crs="EPSG:4326",
    )
    lon, lat = sample_points(grids, 50_000)
    for size in (None, 10.0, 3.0):
        index = GridIndex.build(grids, cell_size_m=size)
        assert np.array_equal(index.locate(lon, lat), brute_force(grids, lon, lat))


def test_densely_digitised_boundaries():
    # Real grids follow kerbs and walls: many short segments, degree-2 vertices everywhere.
    grids = lattice_grids(n=16)
    grids["geometry"] = shapely.segmentize(grids.geometry.values, 15 / 111_000)
    lon, lat = sample_points(grids, 60_000)
    for size in (None, 40.0):
        index = GridIndex.build(grids, cell_size_m=size)
        assert np.array_equal(index.locate(lon, lat), brute_force(grids, lon, lat))


def test_near_equator_and_prime_meridian():
    # Here lon - x0 is not always exact in floating point: the corrected floor must be used.
    grids = lattice_grids(n=12, centre=(0.0004, 0.0003), utm="EPSG:32631")
    lon, lat = sample_points(grids, 30_000)
    index = GridIndex.build(grids)
    assert not index._lattice.exact_floor()
    assert np.array_equal(index.locate(lon, lat), brute_force(grids, lon, lat))


def test_points_on_cell_edges_and_corners(grids):
    # The cell of a point exactly on a cell edge must match the one the index was built for.
    index = GridIndex.build(grids, cell_size_m=30.0)
    xe, ye = index._lattice.xedges(), index._lattice.yedges()
    rng = np.random.default_rng(5)
    lon = np.r_[xe[rng.integers(0, xe.size, 20_000)], rng.uniform(xe[0], xe[-1], 20_000)]
    lat = np.r_[ye[rng.integers(0, ye.size, 20_000)], ye[rng.integers(0, ye.size, 20_000)]]
    assert np.array_equal(index.locate(lon, lat), brute_force(grids, lon, lat))


def test_stats(grids):
    stats = GridIndex.build(grids).stats
    assert stats["cells"] > 0 and stats["memory_bytes"] > 0 and stats["build_seconds"] > 0
    assert 0 < stats["boundary_fraction"] < 1 and 0 <= stats["exact_fraction"] < 0.05
    assert 10 < stats["cell_size_m"][0] < 40  # ~100 m grids -> ~20 m cells
    assert stats["metric_crs"] == "EPSG:32651"


def test_demo_district_events():
    demo = pytest.importorskip("gis.demo.district")
    d = demo.generate_district(n_grids=400, seed=3, events_per_grid=5.0)
    ev = d.events.geometry
    lon = np.concatenate([ev.x.to_numpy(), sample_points(d.grids, 20_000)[0]])
    lat = np.concatenate([ev.y.to_numpy(), sample_points(d.grids, 20_000)[1]])
    got = GridIndex.build(d.grids).locate(lon, lat)
    assert np.array_equal(got, brute_force(d.grids, lon, lat))
    assert (got[: len(ev)] >= 0).mean() > 0.99  # events are reported inside the district
