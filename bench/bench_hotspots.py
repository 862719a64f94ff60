"""Benchmark: the hotspot query end to end against PySAL on the same data, in one run.

    python -m bench hotspots --grids 100000 --events 1000000

On one synthetic district (gis.demo.district) loaded into a fresh database of the embedded cluster:

1. queen weights from the grid polygons — ours (``gis.hotspots.weights``) vs libpysal ``Queen``;
2. Gi* — ours (``gis.hotspots.statistics.gi_star``) vs ``esda.G_Local(star=True, transform="B")``,
   with the largest difference of z and p (they must agree to 1e-9);
3. the API: ``GET /api/v1/hotspots/grids`` (cold = first call, warm = later calls), with and
   without geometry, a filtered call, ``/hotspots/streets`` (street and segment level),
   ``/stats/streets``, against a real uvicorn server;
4. map HTML: size and headless Chromium render time of the analyst map.

Prints the timings; they are measured, never asserted. esda is optional (skipped if absent).

The loader here (:func:`load_district`) writes a district straight into the tables with
COPY, assigning grids and streets with ``gis.grids.locate``/``gis.nearest``: the event import
pipeline would take minutes for a million events, which is not what this measures.
"""

from __future__ import annotations

import argparse
import io
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Engine, text

from app import PROJECT_ROOT
from gis.demo import DemoDistrict

OPEN_SHARE = 0.03  # the most recent 3 % of demo cases are still open, the rest closed
TIME_LIMIT = pd.Timedelta(hours=48)


def _ewkb(geoms) -> np.ndarray:
    geoms = shapely.set_srid(np.asarray(geoms, dtype=object), 4326)
    return shapely.to_wkb(geoms, hex=True, include_srid=True)


def _copy(conn, table: str, frame: pd.DataFrame) -> None:
    started = time.perf_counter()
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, header=False, na_rep="\\N", sep="\t")
    buffer.seek(0)
    cursor = conn.connection.driver_connection.cursor()
    cursor.copy_expert(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN (NULL '\\N')", buffer)
    if os.environ.get("CITYGRID_BENCH_VERBOSE"):
        print(
            f"    COPY {table}: {len(frame):,} rows in {time.perf_counter() - started:.2f} s",
            flush=True,
        )


def _iso(times: pd.Series) -> np.ndarray:
    """ISO 8601 UTC text of aware timestamps, vectorised (``Series.map(isoformat)`` is slow)."""
    utc = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[s]")
    return np.char.add(np.datetime_as_string(utc, unit="s"), "Z")


def load_district(
    engine: Engine,
    district: DemoDistrict,
    *,
    components: bool | str = True,
    open_share: float = OPEN_SHARE,
) -> dict[str, int]:
    """Write ``district`` into an empty migrated database; returns rows per table.

    ``components``: all (True), none (False) or those of the grids whose code starts with
    the given prefix (a community, say: enough for a supervisor map, and quick).
    """
    from gis.grids import GridIndex
    from gis.nearest import nearest_within

    counts: dict[str, int] = {}
    with engine.begin() as conn:
        # The district is a consistent coverage by construction: skip migration 0006's
        # per-community topology checks at COMMIT (a bulk load's documented switch).
        conn.execute(text("SET LOCAL citygrid.skip_topology = on"))
        areas = pd.DataFrame(district.areas.drop(columns="geometry"))
        areas["geom"] = _ewkb(
            [
                shapely.MultiPolygon([g]) if g.geom_type == "Polygon" else g
                for g in district.areas.geometry
            ]
        )
        _copy(
            conn, "admin_area", areas[["code", "level", "parent_code", "name", "name_en", "geom"]]
        )
        units = district.units.rename(columns={"subdistrict_code": "area_code"})
        _copy(
            conn,
            "responsible_unit",
            units[["code", "name", "name_en", "kind", "contact", "phone", "area_code"]],
        )
        unit_id: dict[str, int] = dict(
            conn.execute(text("SELECT code, id FROM responsible_unit")).all()
        )
        grids = pd.DataFrame(district.grids.drop(columns="geometry"))
        grids["geom"] = _ewkb([shapely.MultiPolygon([g]) for g in district.grids.geometry])
        grids["unit_id"] = grids["unit_code"].map(unit_id).astype("Int64")
        grids["valid_from"] = "2025-01-01T00:00:00+08:00"
        _copy(
            conn,
            "grid",
            grids[["code", "community_code", "unit_id", "supervisor", "valid_from", "geom"]],
        )
        grid_id: dict[str, int] = dict(conn.execute(text("SELECT code, id FROM grid")).all())
        streets = district.streets.drop_duplicates("street_name")
        street_table = pd.DataFrame(
            {
                "name": streets["street_name"],
                "name_en": streets["street_name_en"],
                "grade": streets["grade"],
                "district_code": district.metadata["district_code"],
            }
        )
        _copy(conn, "street", street_table)
        street_id: dict[str, int] = dict(conn.execute(text("SELECT name, id FROM street")).all())
        segs = pd.DataFrame(
            {
                "street_id": district.streets["street_name"].map(street_id),
                "source_id": np.arange(len(district.streets)).astype(str),
                "geom": _ewkb(district.streets.geometry.values),
            }
        )
        _copy(conn, "street_segment", segs)
        seg_rows = conn.execute(
            text("SELECT id, street_id, ST_AsBinary(geom) FROM street_segment")
        ).all()
        index = GridIndex.build(district.grids[["code", "geometry"]])
        if components is not False:
            counts["component"] = _components(conn, district, index, unit_id, components)
        ev = district.events
        lon, lat = ev.geometry.x.to_numpy(), ev.geometry.y.to_numpy()
        codes = index.locate_codes(lon, lat)
        seg_geoms = shapely.from_wkb([bytes(r[2]) for r in seg_rows])
        pos, dist = nearest_within(seg_geoms, np.array([r[0] for r in seg_rows]), lon, lat, 50.0)
        seg_street = np.array([r[1] for r in seg_rows])
        reported = ev["observed_at"]
        cutoff = (
            reported.quantile(1 - open_share)
            if open_share > 0
            else reported.max() + pd.Timedelta(1, "s")
        )
        is_open = (reported >= cutoff).to_numpy()
        status = np.where(
            is_open, np.where(np.arange(len(ev)) % 2 == 0, "dispatched", "handling"), "closed"
        )
        table = pd.DataFrame(
            {
                "scheme": "2013",
                "class_kind": ev["class_kind"],
                "class_code": ev["class_code"],
                "geom": _ewkb(ev.geometry.values),
                "location_text": ev["location_text"],
                "description": ev["description"],
                "source": ev["source"],
                "reporter": ev["reporter"],
                "observed_at": _iso(reported),
                "reported_at": _iso(reported),
                "grid_id": pd.Series([grid_id.get(c) for c in codes], dtype="Int64"),
                "grid_code": codes,
                "community_code": [c[:12] if c else None for c in codes],
                "subdistrict_code": [c[:9] if c else None for c in codes],
                "district_code": [c[:6] if c else None for c in codes],
                "street_id": pd.Series(np.where(pos >= 0, seg_street[np.maximum(pos, 0)], 0))
                .replace(0, pd.NA)
                .astype("Int64"),
                "street_distance_m": np.where(pos >= 0, np.round(dist, 2), np.nan),
                "deadline_at": _iso(reported + TIME_LIMIT),
                "status": status,
                "closed_at": np.where(
                    is_open, np.array(None), _iso(reported + pd.Timedelta(hours=20))
                ),
            }
        )
        for start in range(0, len(table), 200_000):
            _copy(conn, "event", table.iloc[start : start + 200_000])
        counts.update(
            grid=len(grids), street=len(street_table), street_segment=len(segs), event=len(table)
        )
        for table in ("grid", "street_segment", "event"):
            conn.execute(text(f"ANALYZE {table}"))
    return counts


def _components(conn, district: DemoDistrict, index, unit_id: dict, prefix: bool | str) -> int:
    comps = district.components
    codes = index.locate_codes(comps.geometry.x.to_numpy(), comps.geometry.y.to_numpy())
    if isinstance(prefix, str):
        keep = np.array([c is not None and c.startswith(prefix) for c in codes])
        comps, codes = comps[keep], codes[keep]
    table = pd.DataFrame(
        {
            "identifier": comps["identifier"],
            "scheme": "2013",
            "class_code": comps["class_code"],
            "geom": _ewkb(comps.geometry.values),
            "grid_code": codes,
            "status": comps["status"],
            "owner_unit_id": comps["owner_unit_code"].map(unit_id).astype("Int64"),
            "maintainer_unit_id": comps["maintainer_unit_code"].map(unit_id).astype("Int64"),
        }
    )
    _copy(conn, "component", table)
    return len(table)


# -- the benchmark --------------------------------------------------------------------------


def _timed(label: str, fn, *args, repeat: int = 1, **kwargs):
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - started)
    print(f"  {label}: {best:.3f} s" + (f" (best of {repeat})" if repeat > 1 else ""), flush=True)
    return result, best


def compare_with_esda(grids, y: np.ndarray) -> dict:
    """Queen weights and Gi*: ours vs libpysal/esda on the same polygons and counts."""
    from gis.hotspots import gi_star, queen_contiguity

    out: dict = {}
    w, out["ours_weights_s"] = _timed(
        "ours: queen weights (gis.hotspots.weights)", queen_contiguity, grids
    )
    ours, out["ours_gi_s"] = _timed(
        "ours: Gi* (gis.hotspots.statistics.gi_star)", gi_star, y, w, repeat=5
    )
    try:
        import esda
        import libpysal
    except ImportError:
        print("  esda/libpysal not installed: comparison skipped", flush=True)
        return out
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref_w, out["esda_weights_s"] = _timed(
            "libpysal: Queen.from_dataframe",
            libpysal.weights.Queen.from_dataframe,
            grids,
            use_index=False,
        )
        ref, out["esda_gi_s"] = _timed(
            "esda: G_Local(star=True, transform='B', permutations=0)",
            esda.G_Local,
            y,
            ref_w,
            star=True,
            transform="B",
            permutations=0,
        )
    out["max_abs_dz"] = float(np.nanmax(np.abs(ours.z - ref.Zs)))
    out["max_abs_dp"] = float(np.nanmax(np.abs(ours.p_norm - ref.p_norm)))
    same = all(sorted(ref_w.neighbors[i]) == v for i, v in w.neighbours().items())
    print(
        f"  same neighbours: {same}; max |Δz| = {out['max_abs_dz']:.2e}, "
        f"max |Δp| = {out['max_abs_dp']:.2e}",
        flush=True,
    )
    print(
        f"  speed-up: weights ×{out['esda_weights_s'] / out['ours_weights_s']:.0f}, "
        f"Gi* ×{out['esda_gi_s'] / out['ours_gi_s']:.0f}",
        flush=True,
    )
    return out


def api_timings(url: str, home: Path) -> dict:
    """Start uvicorn on ``url`` and time the hotspot endpoints (cold first call, then warm)."""
    import httpx

    port = 18500 + os.getpid() % 1000
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "CITYGRID_HOME": str(home),
        "CITYGRID_MAP_BASEMAP": "none",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app.main:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=PROJECT_ROOT,
    )
    base = f"http://127.0.0.1:{port}"
    out: dict = {}
    try:
        for _ in range(150):
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        calls = [
            ("grids, cold (weights read, geometry cached)", "/api/v1/hotspots/grids"),
            ("grids, whole year, with geometry", "/api/v1/hotspots/grids"),
            ("grids, no geometry", "/api/v1/hotspots/grids?geometry=false"),
            (
                "grids, class 0102, one quarter, FDR",
                "/api/v1/hotspots/grids?class=0102&from=2026-01-01&to=2026-03-31&fdr=true",
            ),
            (
                "grids, quarter + trend vs previous quarter",
                "/api/v1/hotspots/grids?from=2026-04-01&to=2026-06-30&trend=true&geometry=false",
            ),
            ("streets ranking", "/api/v1/hotspots/streets?from=2026-01-01&to=2026-03-31"),
            (
                "segments, cold (events matched to segments)",
                "/api/v1/hotspots/streets?level=segment",
            ),
            (
                "segments Gi*, warm",
                "/api/v1/hotspots/streets?level=segment&from=2026-01-01&to=2026-03-31",
            ),
            ("stats by street and class", "/api/v1/stats/streets?from=2026-01-01&to=2026-03-31"),
            ("analyst map HTML", "/maps/hotspots?from=2026-01-01&to=2026-03-31&basemap=none"),
        ]
        with httpx.Client(timeout=600) as client:
            for label, path in calls:
                repeat = 1 if "cold" in label else 3
                times, size = [], 0
                for _ in range(repeat):
                    started = time.perf_counter()
                    r = client.get(base + path)
                    times.append(time.perf_counter() - started)
                    assert r.status_code == 200, (path, r.status_code, r.text[:300])
                    size = len(r.content)
                out[label] = {"s": min(times), "bytes": size}
                print(f"  {label}: {min(times):.3f} s, {size / 1e6:.1f} MB", flush=True)
    finally:
        server.terminate()
        server.wait(10)
    return out


def chromium_render(html_path: Path) -> float | None:
    """Seconds for headless Chromium to load and screenshot ``html_path`` (None without it)."""
    import shutil

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        return None
    with tempfile.TemporaryDirectory() as profile:
        started = time.perf_counter()
        subprocess.run(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                f"--user-data-dir={profile}",
                "--window-size=1280,900",
                "--virtual-time-budget=10000",
                f"--screenshot={profile}/shot.png",
                html_path.as_uri(),
            ],
            capture_output=True,
            timeout=300,
        )
        return time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    from app.db.session import make_engine
    from bench.bench_assign import district_for, fresh_database

    parser = argparse.ArgumentParser(
        prog="python -m bench hotspots", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--grids", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--skip-api", action="store_true")
    args = parser.parse_args(argv)
    print(f"== hotspot benchmark: {args.grids:,} grids, {args.events:,} events ==", flush=True)
    district, _ = _timed(
        "generate (or load cached) district", district_for, args.grids, args.events
    )
    grids = district.grids.set_crs(4326, allow_override=True)
    url = fresh_database(f"citygrid_bench_hotspots_{args.grids}")
    engine = make_engine(url)
    _timed("load district (COPY)", load_district, engine, district, components=False)
    # The steady state autovacuum reaches after a bulk load: visibility map set, so the
    # hotspot counts are index-only scans.
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        _timed("VACUUM ANALYZE event", conn.execute, text("VACUUM (ANALYZE) event"))
    from gis.grids import GridIndex

    codes = GridIndex.build(grids[["code", "geometry"]]).locate_codes(
        district.events.geometry.x.to_numpy(), district.events.geometry.y.to_numpy()
    )
    y = pd.Series(codes).value_counts().reindex(grids["code"]).fillna(0).to_numpy(float)
    print("-- weights and Gi*: ours vs PySAL", flush=True)
    compare_with_esda(grids, y)
    if not args.skip_api:
        from app.services.hotspots.layers import refresh_weights
        from app.settings import Settings

        print("-- stored weights", flush=True)
        settings = Settings(database_url=url)
        _timed(
            "refresh_weights, first time (grid queen + segment nodes + event→segment)",
            refresh_weights,
            engine,
            settings,
        )
        _timed(
            "refresh_weights, full recomputation (force)",
            refresh_weights,
            engine,
            settings,
            force=True,
        )
        _edit_one_grid(engine, district.grids["code"].iloc[len(district.grids) // 2])
        _timed(
            "refresh_weights after one grid edit (incremental)", refresh_weights, engine, settings
        )
        print("-- API against uvicorn", flush=True)
        with tempfile.TemporaryDirectory() as home:
            api_timings(url, Path(home))
        print("-- maps", flush=True)
        _maps(engine, url)
    engine.dispose()
    return 0


def _edit_one_grid(engine: Engine, code: str) -> None:
    """A new version of one grid, as a grid edit makes (same shape, new id)."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL citygrid.skip_topology = on"))
        old = conn.execute(
            text("SELECT id FROM grid WHERE code = :c AND valid_to IS NULL"), {"c": code}
        ).scalar_one()
        conn.execute(text("UPDATE grid SET valid_to = '2026-11-01' WHERE id = :i"), {"i": old})
        conn.execute(
            text(
                "INSERT INTO grid (code, community_code, geom, unit_id, supervisor, version, valid_from) "
                "SELECT code, community_code, geom, unit_id, supervisor, version + 1, '2026-11-01' "
                "FROM grid WHERE id = :i"
            ),
            {"i": old},
        )


def _maps(engine: Engine, url: str) -> None:
    from app.services.hotspots.analysis import parse_filter
    from app.services.hotspots.maps import hotspot_map_html, planner_map_html
    from app.settings import Settings

    settings = Settings(database_url=url, map_basemap="none")
    f = parse_filter(engine, settings, start="2026-01-01", end="2026-03-31")
    with tempfile.TemporaryDirectory() as tmp:
        for name, build in (
            ("hotspots", lambda: hotspot_map_html(engine, settings, f, inline=True)),
            ("planner", lambda: planner_map_html(engine, settings, inline=True)),
        ):
            html, seconds = _timed(f"{name} map HTML", build)
            path = Path(tmp) / f"{name}.html"
            path.write_text(html, encoding="utf-8")
            render = chromium_render(path)
            print(
                f"  {name} map: {len(html.encode()) / 1e6:.1f} MB, Chromium load+screenshot "
                f"{'n/a' if render is None else f'{render:.1f} s'}",
                flush=True,
            )


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
