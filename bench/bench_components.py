"""Benchmark: the component census import and the component API at a million components.

    python -m bench components --grids 100000 --components 1000000

On one synthetic district (gis.demo.district; cached in bench/out/) loaded into a fresh database of the
embedded cluster (areas, units, grids, streets through the importer):

1. the census import of ``--components`` components (a spatial sample of the district's,
   identifiers generated, the original identifier as the source id): rows/s, then the same
   file again (an idempotent re-import writes nothing) and its time;
2. API latencies through the app (in-process client): list by bbox, by grid, one component,
   PATCH, POST, a component's history; summaries by grid/community/street; CSV export.

Prints the numbers; timings are measured, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from urllib.parse import quote

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.db.session import make_engine
from app.main import create_app
from app.services.accounts.users import create_user, issue_token
from app.services.catalog.imports import ImportOptions, import_frame
from app.services.components import inventory as components_service
from app.services.demo.load import LAYER_OPTIONS
from app.settings import Settings
from bench.bench_assign import _rss_mb, _timed, district_for, fresh_database


def census_frame(components, n: int, seed: int = 7):
    """``n`` of the district's components as a census file: no identifiers, an asset id."""
    rng = np.random.default_rng(seed)
    take = np.sort(rng.choice(len(components), size=min(n, len(components)), replace=False))
    frame = components.iloc[take].reset_index(drop=True)
    return frame.rename(columns={"identifier": "asset_id"})


def latency(client: TestClient, method: str, urls: list[str], **kwargs) -> dict[str, float]:
    """Median and 95th percentile milliseconds of one request per url."""
    times = []
    for url in urls:
        started = time.perf_counter()
        r = client.request(method, url, **kwargs)
        times.append((time.perf_counter() - started) * 1000)
        assert r.status_code < 300, (url, r.status_code, r.text[:300])
    times.sort()
    return {
        "median_ms": statistics.median(times),
        "p95_ms": times[int(0.95 * (len(times) - 1))],
        "n": len(times),
    }


def api_numbers(engine, settings: Settings, district, census, rng) -> dict[str, dict]:
    """Latencies and throughputs of the component endpoints on the loaded database."""
    out: dict[str, dict] = {}
    grids = district.grids["code"].to_numpy()
    pts = census.geometry
    create_user(engine, "bench-planner", "bench-password-1", ["planner"])
    token = issue_token(settings, "bench-planner")
    with TestClient(create_app(settings), headers={"Authorization": f"Bearer {token}"}) as client:
        boxes = []
        for i in rng.choice(len(census), 50, replace=False):
            x, y = pts.iloc[i].x, pts.iloc[i].y
            boxes.append(
                f"/api/v1/components?bbox={x - 0.003},{y - 0.002},{x + 0.003},{y + 0.002}"
                "&limit=1000"
            )  # ~570 × 440 m
        out["list bbox ~0.25 km² (limit 1000)"] = latency(client, "GET", boxes)
        out["list by grid"] = latency(
            client, "GET", [f"/api/v1/components?grid={g}&limit=500" for g in rng.choice(grids, 50)]
        )
        out["list by class, first page + count"] = latency(
            client, "GET", ["/api/v1/components?class=0118&limit=100"] * 5
        )
        first = client.get("/api/v1/components?limit=5000").json()["features"]
        idents = [f["id"] for f in first]
        picks = list(rng.choice(idents, 100, replace=False))
        out["get one"] = latency(client, "GET", [f"/api/v1/components/{i}" for i in picks])
        out["PATCH status"] = latency(
            client,
            "PATCH",
            [f"/api/v1/components/{i}" for i in picks[:50]],
            json={"status": "damaged"},
            headers={"X-Actor": quote("基准")},
        )
        out["history"] = latency(
            client, "GET", [f"/api/v1/components/{i}/history" for i in picks[:50]]
        )
        new = [
            {
                "class_code": "0118",
                "geometry": {"type": "Point", "coordinates": [pts.iloc[i].x + 1e-5, pts.iloc[i].y]},
            }
            for i in rng.choice(len(census), 50)
        ]
        times = []
        for body in new:
            started = time.perf_counter()
            assert client.post("/api/v1/components", json=body).status_code == 201
            times.append((time.perf_counter() - started) * 1000)
        out["POST (identifier generated, grid + street placed)"] = {
            "median_ms": statistics.median(times),
            "p95_ms": sorted(times)[47],
            "n": 50,
        }
        for by in ("grid", "community", "street"):
            out[f"summary by {by}"] = latency(
                client, "GET", [f"/api/v1/components/summary?by={by}"] * 3
            )
        started = time.perf_counter()
        body = client.get("/api/v1/components?format=csv").content
        seconds = time.perf_counter() - started
        rows = body.count(b"\n") - 1
        out["CSV export, all components"] = {
            "seconds": seconds,
            "rows": rows,
            "rows_per_s": rows / seconds,
            "mb": len(body) / 1e6,
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench components", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--grids", type=int, default=100_000)
    parser.add_argument(
        "--events",
        type=int,
        default=1_000_000,
        help="events of the cached district (only names the cache folder)",
    )
    parser.add_argument("--components", type=int, default=1_000_000)
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args(argv)

    print(
        f"== component benchmark: {args.grids:,} grids, {args.components:,} components ==",
        flush=True,
    )
    district, _ = _timed(
        "generate (or load cached) district", district_for, args.grids, args.events
    )
    url = fresh_database(f"citygrid_bench_components_{args.grids}")
    engine = make_engine(url)
    settings = Settings(database_url=url)
    for layer in ("areas", "units", "grids", "streets"):
        _timed(
            f"set-up: import {layer} ({len(getattr(district, layer)):,} rows)",
            import_frame,
            engine,
            settings,
            layer,
            getattr(district, layer),
            LAYER_OPTIONS[layer],
        )
    census = census_frame(district.components, args.components)
    options = ImportOptions(columns={"source_id": "asset_id"}, source_layer="census", actor="bench")
    print("-- census import", flush=True)
    report, first_s = _timed(
        f"import {len(census):,} components",
        import_frame,
        engine,
        settings,
        "components",
        census,
        options,
    )
    again, again_s = _timed(
        "the same file again (idempotent)",
        import_frame,
        engine,
        settings,
        "components",
        census,
        options,
    )
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT count(*), count(grid_code), count(street_id) FROM component")
        ).one()
    print(
        f"  written {report.rows_written:,} at {report.rows_written / first_s:,.0f} rows/s; "
        f"with grid {report.details['with_grid']:,}, with street "
        f"{report.details['with_street']:,}",
        flush=True,
    )
    print(
        f"  re-import: written {again.rows_written}, already imported "
        f"{again.details.get('already_imported', 0):,} in {again_s:.1f} s; stored "
        f"{stored[0]:,} components",
        flush=True,
    )
    with engine.connect() as conn:  # the share of the import spent placing, measured alone
        _timed(
            "of which: grid + street placement in Python (measured again alone)",
            components_service.place,
            conn,
            census.geometry,
            settings.street_max_distance_m,
        )
    print(f"  peak RSS {_rss_mb():,.0f} MB", flush=True)
    if not args.skip_api:
        print("-- API", flush=True)
        for name, numbers in api_numbers(
            engine, settings, district, census, np.random.default_rng(11)
        ).items():
            shown = ", ".join(
                f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v:,}"
                for k, v in numbers.items()
            )
            print(f"  {name}: {shown}", flush=True)
    engine.dispose()
    return 0


if __name__ == "__main__":
    import sys

    raise SystemExit(main(sys.argv[1:]))
