"""Point-in-grid assignment: GridIndex against geopandas sjoin and a bare STRtree query.

All three run on the same grids and points, must give identical answers (smallest code wins
on shared boundaries, -1 outside) and are timed side by side::

    .venv/bin/python bench/bench_locate.py --grids 100000 --points 1000000

Grids and points come from :func:`gis.demo.district.generate_district` (events as points) when it is
available, else from a jittered lattice of ~100 m quads with uniform random points.
Throughputs are best-of-``--repeat``; index memory is from :attr:`GridIndex.stats` and each
method's working memory is the tracemalloc peak of one extra, untimed run.
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc
from collections.abc import Callable, Sequence

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer

from gis.grids import GridIndex


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark, print a table and return the measurements."""
    args = _parse(argv)
    t0 = time.perf_counter()
    grids, lon, lat, source = _data(args.grids, args.points, args.seed, args.lattice)
    print(
        f"data: {len(grids):,} grids, {lon.size:,} points from {source} "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    codes = grids["code"].to_numpy()
    geoms = np.asarray(grids.geometry.array, dtype=object)
    # sjoin needs a points frame; building it is outside the timing (GridIndex takes arrays).
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs="EPSG:4326")
    frame = grids[["code", "geometry"]]
    build, index = _timed(lambda: GridIndex.build(grids, cell_size_m=args.cell_size))
    # STRtree construction is lazy in shapely: the tree is built by the first query.
    tree_build, tree = _timed(lambda: shapely.STRtree(geoms))
    methods = {
        "GridIndex": (build, lambda: index.locate(lon, lat)),
        "geopandas sjoin": (0.0, lambda: _sjoin(pts, frame, codes)),
        "shapely STRtree": (tree_build, lambda: _strtree(tree, lon, lat, codes)),
    }
    rows, answers = [], {}
    for name, (secs_build, run) in methods.items():
        secs, answers[name] = _best(run, args.repeat)
        rows.append([name, secs_build, secs, 0, 0])
    # Memory in separate, untimed runs: tracemalloc sees numpy and Python allocations (not
    # GEOS internals), so it compares the methods' working memory on equal terms.
    rows[0][3] = _traced(lambda: GridIndex.build(grids, cell_size_m=args.cell_size))
    rows[2][3] = _traced(lambda: shapely.STRtree(geoms).query(shapely.points(lon[:1], lat[:1])))
    for row, (_, run) in zip(rows, methods.values(), strict=True):
        row[4] = _traced(run)
    identical = all(np.array_equal(a, answers["GridIndex"]) for a in answers.values())
    _print(rows, lon.size, index.stats, identical, answers["GridIndex"])
    if not identical:
        raise SystemExit("answers differ between methods")
    return {"rows": rows, "stats": index.stats, "identical": identical}


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench_locate", description=__doc__.splitlines()[0])
    p.add_argument("--grids", type=int, default=100_000)
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=20261121)
    p.add_argument("--repeat", type=int, default=3, help="best of N runs")
    p.add_argument("--cell-size", type=float, default=None, help="coarse cell, metres")
    p.add_argument("--lattice", action="store_true", help="use the lattice, not gis.demo.district")
    return p.parse_args(argv)


def _data(n_grids: int, n_points: int, seed: int, lattice: bool):
    """Grids and point coordinates: the demo district's events, else a random lattice."""
    if not lattice:
        try:
            from gis.demo import generate_district
        except ImportError:
            pass
        else:
            d = generate_district(
                n_grids=n_grids, seed=seed, events_per_grid=n_points / max(n_grids, 1)
            )
            ev = d.events.geometry
            return d.grids, ev.x.to_numpy(), ev.y.to_numpy(), "gis.demo.district events"
    return (*_lattice(n_grids, n_points, seed), "jittered lattice, uniform points")


def _lattice(n_grids: int, n_points: int, seed: int):
    """Square lattice of ~100 m jittered quads around Suzhou, reprojected to EPSG:4326."""
    rng = np.random.default_rng(seed)
    n = max(1, round(n_grids**0.5))
    to_ll = Transformer.from_crs("EPSG:32651", "EPSG:4326", always_xy=True)
    x, y = np.meshgrid(np.arange(n + 1) * 100.0 + 300_000, np.arange(n + 1) * 100.0 + 3_460_000)
    lon, lat = to_ll.transform(x + rng.uniform(-15, 15, x.shape), y + rng.uniform(-15, 15, x.shape))
    j, i = (a.ravel() for a in np.mgrid[0:n, 0:n])
    corners = [(j, i), (j, i + 1), (j + 1, i + 1), (j + 1, i), (j, i)]
    ring = np.stack([np.stack([lon[c], lat[c]], axis=-1) for c in corners], axis=1)
    codes = [f"{320505000000000 + k:015d}" for k in range(n * n)]
    grids = gpd.GeoDataFrame({"code": codes}, geometry=shapely.polygons(ring), crs="EPSG:4326")
    minx, miny, maxx, maxy = grids.total_bounds
    return grids, rng.uniform(minx, maxx, n_points), rng.uniform(miny, maxy, n_points)


def _sjoin(pts: gpd.GeoDataFrame, grids: gpd.GeoDataFrame, codes: np.ndarray) -> np.ndarray:
    """geopandas: sjoin on "intersects", then the smallest code per point."""
    j = gpd.sjoin(pts, grids, how="inner", predicate="intersects")
    return _smallest(j.index.to_numpy(), j["index_right"].to_numpy(), codes, len(pts))


def _strtree(tree: shapely.STRtree, lon, lat, codes) -> np.ndarray:
    """shapely: one bulk STRtree query with the "intersects" predicate."""
    p, g = tree.query(shapely.points(lon, lat), predicate="intersects")
    return _smallest(p, g, codes, len(lon))


def _smallest(p: np.ndarray, g: np.ndarray, codes: np.ndarray, n: int) -> np.ndarray:
    """Per point, the position of the matching grid with the smallest code (-1 if none)."""
    order = np.lexsort((codes[g], p))
    p, g = p[order], g[order]
    first = np.ones(p.size, dtype=bool)
    first[1:] = p[1:] != p[:-1]
    out = np.full(n, -1, dtype=np.int64)
    out[p[first]] = g[first]
    return out


def _timed(fn: Callable):
    t0 = time.perf_counter()
    value = fn()
    return time.perf_counter() - t0, value


def _best(fn: Callable, repeat: int):
    best, value = float("inf"), None
    for _ in range(max(1, repeat)):
        secs, value = _timed(fn)
        best = min(best, secs)
    return best, value


def _traced(fn: Callable) -> int:
    """Peak bytes allocated through Python's allocators (numpy included) while ``fn`` runs."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _print(rows, n, stats, identical, answer) -> None:
    mb = 1 / 2**20
    sjoin_rate = n / rows[1][2]
    print(
        f"\n{'method':<18}{'build s':>9}{'locate s':>10}{'points/s':>14}{'÷ sjoin':>9}"
        f"{'build MB':>10}{'locate MB':>11}"
    )
    for name, build, secs, build_peak, peak in rows:
        rate = n / secs
        print(
            f"{name:<18}{build:>9.2f}{secs:>10.3f}{rate:>14,.0f}{rate / sjoin_rate:>8.1f}x"
            f"{build_peak * mb:>10.0f}{peak * mb:>11.0f}"
        )
    print("MB: tracemalloc peaks (numpy and Python allocations; GEOS memory is not visible)")
    sx, sy = stats["cell_size_m"]
    print(
        f"\nGridIndex: {stats['cells']:,} coarse cells of {sx:.1f} x {sy:.1f} m, "
        f"{stats['refined_blocks']:,} refined into {stats['fine_cells']:,} fine cells; "
        f"boundary fraction {stats['boundary_fraction']:.1%}, "
        f"exact-test area {stats['exact_fraction']:.2%}"
    )
    print(
        f"index memory {stats['memory_bytes'] * mb:.1f} MB (tables, without the grids' "
        f"geometries), {stats['build_queries']:,} exact queries at build"
    )
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"process peak RSS {rss:,.0f} MB (includes generating the data)")
    print(f"points covered: {np.mean(answer >= 0):.1%}; identical answers: {identical}")


if __name__ == "__main__":
    main()
