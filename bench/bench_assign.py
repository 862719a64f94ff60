"""Benchmark: assigning events to grids, side by side in one run.

    python -m bench assign --grids 100000 --events 1000000

On one synthetic district (gis.demo.district) loaded into a fresh database of the embedded cluster:

1. grid lookup for every event point — our cell index (gis.grids.locate.GridIndex) vs geopandas
   ``sjoin`` vs a plain PostGIS ``JOIN … ON ST_Intersects`` (all three must agree);
2. the whole bulk assignment (grid, street, component, unit rule, duplicates) and the whole
   ``import events`` (assignment + COPY into the event table);
3. single-event ``POST /api/v1/events`` latency at 1, 10 and 50 concurrent clients against a
   real uvicorn server, and ``POST /api/v1/events/assign`` throughput.

Prints a table with ratios; timings are measured, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import geopandas as gpd
import httpx
import numpy as np
import orjson
from sqlalchemy import text

from app import PROJECT_ROOT
from app.db.migrate import upgrade
from app.db.session import make_engine
from app.services.catalog.classes import load_standard_classes
from app.services.catalog.imports import import_frame
from app.services.demo.load import LAYER_OPTIONS, _event_table
from app.services.intake.bulk_assignment import gather_bulk_facts
from app.services.intake.event_import import import_event_frame
from app.settings import Settings
from bench import loadgen
from gis.demo import generate_district, read_district, write_district
from gis.grids import GridIndex

CACHE = PROJECT_ROOT / "bench" / "out"


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(label: str, fn, *args, **kwargs):
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.2f} s", flush=True)
    return result, seconds


def district_for(grids: int, events: int, seed: int = 20261121):
    """Generate (or reuse from bench/out/) a district of ``grids`` grids and ``events`` events."""
    folder = CACHE / f"demo-{grids}-{events}-{seed}"
    if (folder / "metadata.json").exists():
        return read_district(folder)
    district = generate_district(
        n_grids=grids, seed=seed, events_per_grid=events / grids, progress=True
    )
    write_district(district, folder)
    return district


def fresh_database(name: str) -> str:
    """A migrated, seeded database on the embedded cluster (or TEST_DATABASE_URL's server)."""
    from tests.conftest import _server_url, create_database

    url = create_database(_server_url(), name)
    upgrade(url)
    engine = make_engine(url)
    load_standard_classes(engine)
    engine.dispose()
    return url


def postgis_join(engine, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, float]:
    """Plain PostGIS: points in a table, JOIN grid ON ST_Intersects, smallest code per point."""
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE pts (id int, geom geometry(Point, 4326))"))
        cursor = conn.connection.driver_connection.cursor()
        import io

        buf = io.StringIO(
            "".join(
                f"{i}\tSRID=4326;POINT({float(x)!r} {float(y)!r})\n"
                for i, (x, y) in enumerate(zip(lon, lat, strict=True))
            )
        )
        cursor.copy_expert("COPY pts (id, geom) FROM STDIN", buf)
        conn.execute(text("ANALYZE pts"))
        started = time.perf_counter()
        rows = conn.execute(
            text(
                "SELECT p.id, min(g.code) FROM pts p JOIN grid g "
                "ON ST_Intersects(g.geom, p.geom) AND g.valid_to IS NULL GROUP BY p.id"
            )
        ).all()
        seconds = time.perf_counter() - started
    codes = np.full(len(lon), None, dtype=object)
    for i, code in rows:
        codes[i] = code
    return codes, seconds


def sjoin_codes(grids: gpd.GeoDataFrame, lon, lat) -> tuple[np.ndarray, float]:
    """geopandas sjoin (intersects), then the smallest code per point, vectorised."""
    codes = grids["code"].to_numpy(dtype=object)
    rank = np.empty(len(codes), dtype=np.int64)
    rank[np.argsort(codes)] = np.arange(len(codes))
    started = time.perf_counter()
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat), crs=4326)
    joined = gpd.sjoin(points, grids[["geometry"]], predicate="intersects", how="inner")
    best = np.full(len(lon), len(codes), dtype=np.int64)
    np.minimum.at(best, joined.index.to_numpy(), rank[joined["index_right"].to_numpy()])
    seconds = time.perf_counter() - started
    by_rank = np.append(np.sort(codes), np.array(None))
    return by_rank[best], seconds


def api_latency(url: str, points: np.ndarray, home: Path, workers: int = 1) -> dict:
    """Start uvicorn on the bench database; measure POST /events at 1/10/50 clients."""
    port = 18000 + os.getpid() % 1000
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CITYGRID_PORT": str(port),
        "CITYGRID_HOME": str(home),
    }
    server = subprocess.Popen(  # the way `citygrid serve` runs in production
        [sys.executable, "-m", "app.cli", "serve", "--workers", str(workers), "--port", str(port)],
        env=env,
        cwd=PROJECT_ROOT,
        stdout=subprocess.DEVNULL,  # access log
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    results: dict = {}
    from app.errors import ConflictError
    from app.services.accounts.users import create_user, issue_token

    bench_settings = Settings(database_url=url, home=home)
    engine = make_engine(url)
    with contextlib.suppress(ConflictError):  # the account survives from an earlier run
        create_user(engine, "bench-supervisor", "bench-password", ["supervisor"])
    _forget_bench_reports(engine)
    engine.dispose()
    token = {"Authorization": f"Bearer {issue_token(bench_settings, 'bench-supervisor')}"}
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        rng = np.random.default_rng(1)

        def requests(n: int) -> list[bytes]:
            # Patrol apps send an idempotency key with every report (a retry must not open a
            # second case), so the bench sends one too.
            return [
                loadgen.post_request(
                    f"127.0.0.1:{port}",
                    "/api/v1/events",
                    orjson.dumps(
                        {
                            "class_code": "0102",
                            "lon": float(x),
                            "lat": float(y),
                            "source": "hotline",
                            "reporter": BENCH_REPORTER,
                            "idempotency_key": uuid.uuid4().hex,
                        }
                    ),
                    token,
                )
                for x, y in points[rng.integers(0, len(points), n)]
            ]

        # Warm-up, and the week of open cases a possible-duplicate look-up searches: the
        # imported year ends before today, so without these the 7-day window would be empty.
        loadgen.run("127.0.0.1", port, requests(WEEK_OF_REPORTS), 20)
        # Closed loop (each client sends its next report the moment it has an answer): the
        # saturation throughput, and latency when the machine is the bottleneck.
        for clients in (1, 10, 50):
            n = 500 if clients == 1 else 3000
            cpu = _cpu_seconds(server.pid)
            latencies, wall = loadgen.run("127.0.0.1", port, requests(n), clients)
            results[f"POST /events, {clients} client(s)"] = {
                **_summary(latencies, n / wall),
                "server_cpu_ms": round((_cpu_seconds(server.pid) - cpu) / n * 1000, 2),
            }
        # Paced (open loop): 10 clients together sending `rate` reports a second at evenly
        # spaced times (a megacity averages well under 1/s): latency below saturation.
        for rate in PACED_RATES:
            latencies, _ = loadgen.run("127.0.0.1", port, requests(rate * 8), 10, rate=rate)
            results[f"POST /events, 10 clients paced at {rate}/s"] = _summary(latencies, rate)
        batch = [{"class_code": "0102", "lon": float(x), "lat": float(y)} for x, y in points[:1000]]
        started = time.perf_counter()
        for _ in range(10):
            assert (
                httpx.post(
                    base + "/api/v1/events/assign",
                    json={"points": batch},
                    headers=token,
                    timeout=120,
                ).status_code
                == 200
            )
        results["POST /events/assign (1,000-point batches)"] = {
            "points_per_s": 10_000 / (time.perf_counter() - started)
        }
        results["server peak RSS MB (all processes)"] = round(
            sum(_peak_rss_mb(p) for p in [server.pid, *_children(server.pid)]), 1
        )
    finally:
        server.terminate()
        server.wait(10)
    return results


PACED_RATES = (50, 100, 200, 300)
BENCH_REPORTER = "bench-loadgen"
WEEK_OF_REPORTS = 20_000  # a city with a million cases a year


def _forget_bench_reports(engine) -> None:
    """Delete the reports of earlier runs: each run measures the same database (the imported
    year), not one grown by every earlier run's reports."""
    with engine.begin() as conn:
        for sql in (
            "DELETE FROM case_log WHERE event_id IN (SELECT id FROM event WHERE reporter = :r)",
            "DELETE FROM event WHERE reporter = :r",
        ):
            conn.execute(text(sql), {"r": BENCH_REPORTER})
    # Now, not whenever autovacuum gets to it (meanwhile the look-ups visit the dead rows,
    # and a vacuum during the run takes CPU from it).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) event, case_log, audit_log"))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (uvicorn's workers), from /proc."""
    total = 0.0
    for p in [pid, *_children(pid)]:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmHWM"))) / 1024


def _children(pid: int) -> list[int]:
    with contextlib.suppress(OSError):
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return []


def _summary(latencies: list[float], rate: float) -> dict:
    ms = np.array(latencies) * 1000
    return {
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "req_per_s": round(rate, 1),
    }


def _api_only(args) -> int:
    from sqlalchemy.engine import make_url

    from tests.conftest import _server_url

    url = (
        make_url(_server_url())
        .set(database=f"citygrid_bench_{args.grids}")
        .render_as_string(hide_password=False)
    )
    engine = make_engine(url)
    with engine.connect() as conn:
        points: np.ndarray = np.array(
            conn.execute(
                text("SELECT ST_X(geom), ST_Y(geom) FROM event TABLESAMPLE SYSTEM (1) LIMIT 5000")
            ).all()
        )
    engine.dispose()
    for label, values in api_latency(url, points, Path(tempfile.mkdtemp()), args.workers).items():
        print(f"{label:48} {json.dumps(values) if isinstance(values, dict) else values}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench assign", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--grids", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--import-events",
        type=int,
        default=None,
        help="events for the full import step (default: all)",
    )
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--api-only",
        action="store_true",
        help="only the API latency, on the database an earlier run left",
    )
    args = parser.parse_args(argv)
    if args.api_only:
        return _api_only(args)

    print(f"== assignment benchmark: {args.grids:,} grids, {args.events:,} events ==", flush=True)
    district, gen_s = _timed(
        "generate (or load cached) district", district_for, args.grids, args.events
    )
    url = fresh_database(f"citygrid_bench_{args.grids}")
    engine = make_engine(url)
    settings = Settings(database_url=url)
    load_s = {}
    for layer, options in LAYER_OPTIONS.items():
        _, load_s[layer] = _timed(
            f"import {layer} ({len(getattr(district, layer)):,} rows)",
            import_frame,
            engine,
            settings,
            layer,
            getattr(district, layer),
            options,
        )
    events = district.events
    lon, lat = events.geometry.x.to_numpy(), events.geometry.y.to_numpy()
    grids = district.grids.set_crs(4326, allow_override=True)

    print("-- grid lookup for every event point", flush=True)
    index, build_s = _timed("GridIndex build", GridIndex.build, grids[["code", "geometry"]])
    positions, ours_s = _timed("GridIndex locate", index.locate, lon, lat)
    ours = np.where(
        positions >= 0, grids["code"].to_numpy()[np.maximum(positions, 0)], np.array(None)
    )
    (gp, gp_s) = sjoin_codes(grids, lon, lat)
    print(f"  geopandas sjoin: {gp_s:.2f} s", flush=True)
    (pg, pg_s) = postgis_join(engine, lon, lat)
    print(f"  PostGIS JOIN ST_Intersects: {pg_s:.2f} s", flush=True)
    agree = bool((ours == gp).all() and (ours == pg).all())

    print("-- bulk assignment and import", flush=True)
    table = _event_table(events)
    n_import = args.import_events or len(table)
    from datetime import UTC, datetime

    from app.services.intake.event_files import check_rows

    with engine.connect() as conn:
        rows, problems, classes = check_rows(conn, settings, table, datetime.now(UTC))
        (facts, _), facts_s = _timed(
            "gather_bulk_facts (grid+street+component+rule+duplicates)",
            gather_bulk_facts,
            conn,
            settings,
            rows,
            classes,
        )
    report, import_s = _timed(
        f"import events ({n_import:,} rows, assignment + COPY)",
        import_event_frame,
        engine,
        settings,
        table.iloc[:n_import],
    )

    n = len(lon)
    lines = [
        (
            "grid lookup: GridIndex (ours)",
            n / ours_s,
            f"build {build_s:.1f} s, {index.stats.get('memory_bytes', 0) / 2**20:.0f} MiB",
        ),
        ("grid lookup: geopandas sjoin", n / gp_s, f"ours is {gp_s / ours_s:.1f}x faster"),
        (
            "grid lookup: PostGIS JOIN ST_Intersects",
            n / pg_s,
            f"ours is {pg_s / ours_s:.1f}x faster",
        ),
        (
            "full bulk assignment (facts)",
            len(table) / facts_s,
            "grid+street+component+rules+duplicates",
        ),
        (
            "import events end to end",
            report.rows_written / import_s,
            f"{report.rows_written:,} rows written",
        ),
    ]
    api = (
        {}
        if args.skip_api
        else api_latency(url, np.column_stack([lon, lat]), Path(tempfile.mkdtemp()), args.workers)
    )
    engine.dispose()

    print(f"\n== results: {args.grids:,} grids, {n:,} points (identical answers: {agree}) ==")
    print(f"{'measure':48} {'points/s':>14}  note")
    for label, rate, note in lines:
        print(f"{label:48} {rate:14,.0f}  {note}")
    for label, values in api.items():
        print(f"{label:48} {json.dumps(values) if isinstance(values, dict) else values}")
    print(
        f"bench process peak RSS: {_rss_mb():,.0f} MiB; generate {gen_s:.1f} s; "
        f"layer imports: " + ", ".join(f"{k} {v:.1f} s" for k, v in load_s.items())
    )
    return 0 if agree else 1


if __name__ == "__main__":
    raise SystemExit(main())
