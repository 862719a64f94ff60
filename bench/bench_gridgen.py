"""Grid generation (gis.grids.generate) on the synthetic demo district: time, memory, area spread.

The demo generator's communities and streets are the input; its own grids are ignored. By
default only the main streets (控制街/严管街) are kept, so blocks are several grids large and
the split and merge steps do real work (``--streets all`` gives one block per demo grid)::

    .venv/bin/python -m bench gridgen --grids 100000
    .venv/bin/python bench/bench_gridgen.py --grids 2500 --import

``--import`` also loads the generated grids into a throwaway database twice, with and
without the topology trigger, to measure what the check at COMMIT costs.
"""

from __future__ import annotations

import argparse
import contextlib
import threading
import time
from collections.abc import Sequence
from pathlib import Path

MAIN_GRADES = ("控制街", "严管街")


def main(argv: Sequence[str] | None = None) -> dict:
    """Run the benchmark, print the results and return them."""
    args = _parse(argv)
    from gis.demo import generate_district
    from gis.grids import area_distribution, check_topology, generate_grids

    started = time.perf_counter()
    district = generate_district(n_grids=args.grids, seed=args.seed, events_per_grid=0.0)
    areas = district.areas
    communities = areas[areas["level"] == "community"][["code", "geometry"]]
    streets = district.streets
    if args.streets == "main":
        streets = streets[streets["grade"].isin(MAIN_GRADES)]
    print(
        f"input: {len(communities):,} communities, {len(streets):,} street segments "
        f"({args.streets}) from a {args.grids:,}-grid demo district "
        f"({time.perf_counter() - started:.1f} s)",
        flush=True,
    )

    started = time.perf_counter()
    with _PeakRSS() as memory:
        grids = generate_grids(
            communities, streets, target_area_m2=args.target_area, progress=args.progress
        )
    gen_s, gen_mb = time.perf_counter() - started, memory.above_start_mb
    dist = area_distribution(grids.to_crs(grids.estimate_utm_crs()).area)
    out = {
        "grids": len(grids),
        "communities": len(communities),
        "generate_s": gen_s,
        "generate_peak_mb": gen_mb,
        "areas": dist,
    }
    print(
        f"generate: {len(grids):,} grids in {gen_s:.1f} s "
        f"({len(grids) / gen_s:,.0f} grids/s), peak +{gen_mb:,.0f} MiB"
    )
    print(
        "areas m²: "
        + " · ".join(f"{k} {dist[k]:,.0f}" for k in ("min", "p5", "median", "p95", "max"))
        + f"; {100 * dist['share_in_band']:.1f} % inside 2,000–50,000"
    )
    if not args.no_check:
        started = time.perf_counter()
        found = check_topology(grids, communities)
        errors = sum(v.severity == "error" for v in found)
        out.update(
            check_s=time.perf_counter() - started, errors=errors, warnings=len(found) - errors
        )
        print(
            f"check:    {errors} error(s), {len(found) - errors} warning(s) "
            f"in {out['check_s']:.1f} s"
        )
    if args.do_import:
        out["import"] = _import(district, grids)
    return out


def _import(district, grids) -> dict:
    """Seconds to import the grids with the topology trigger skipped and with it on."""
    from sqlalchemy import text

    from app.db.session import make_engine
    from app.services.catalog.imports import import_frame
    from app.services.demo.load import LAYER_OPTIONS
    from app.settings import Settings
    from bench.bench_assign import fresh_database
    from tests.conftest import _server_url, drop_database

    times = {}
    frame = grids[["code", "community_code", "geometry"]]
    for skip in (True, False):
        name = f"citygrid_bench_gridgen_{int(skip)}"
        url = fresh_database(name)
        engine = make_engine(url)
        try:
            if skip:
                with engine.begin() as conn:
                    conn.execute(text(f'ALTER DATABASE "{name}" SET citygrid.skip_topology = on'))
                engine.dispose()
                engine = make_engine(url)
            settings = Settings(database_url=url)
            import_frame(engine, settings, "areas", district.areas)
            import_frame(engine, settings, "units", district.units, LAYER_OPTIONS["units"])
            started = time.perf_counter()
            import_frame(engine, settings, "grids", frame)
            times["skipped" if skip else "checked"] = time.perf_counter() - started
        finally:
            engine.dispose()
            drop_database(_server_url(), name)
    print(
        f"import:   {len(frame):,} grids in {times['skipped']:.1f} s without the topology "
        f"check, {times['checked']:.1f} s with it (+{times['checked'] - times['skipped']:.1f} s)"
    )
    return times


class _PeakRSS:
    """Samples this process's resident memory in a thread: the peak above the start, MiB.

    Shapely's geometries live in GEOS's C heap, which tracemalloc does not see, and the
    kernel's own peak mark cannot always be reset, so the RSS is sampled instead.
    """

    def __init__(self, every_s: float = 0.05) -> None:
        self.every_s, self.peak, self._stop = every_s, 0.0, threading.Event()

    def __enter__(self) -> _PeakRSS:
        self.start = self.peak = _rss_mb()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())

    def _sample(self) -> None:
        while not self._stop.wait(self.every_s):
            self.peak = max(self.peak, _rss_mb())

    @property
    def above_start_mb(self) -> float:
        return self.peak - self.start


def _rss_mb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench gridgen", description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, default=100_000, help="size of the demo district")
    parser.add_argument("--streets", choices=("main", "all"), default="main")
    parser.add_argument("--target-area", type=float, default=10_000.0)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--no-check", action="store_true", help="skip the topology check")
    parser.add_argument(
        "--import",
        dest="do_import",
        action="store_true",
        help="also time the import with and without the topology trigger",
    )
    parser.add_argument("--progress", action="store_true")
    return parser.parse_args(argv)


if __name__ == "__main__":
    main()
