"""`citygrid grids …`: generate grids, validate topology, versioned edits, history.

Edits take ``--actor`` (the planner) and ``--dry-run`` (show the verdict and what would move,
store nothing). Shapes are GeoJSON or WKT in WGS84, inline or in a file.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

grids_app = typer.Typer(
    help="单元网格：生成、拓扑检查、编辑 / grids: generate, validate, edit.", no_args_is_help=True
)

Actor = Annotated[str | None, typer.Option(help="编辑人 / who edits (planner)")]
Note = Annotated[str | None, typer.Option(help="说明 / why")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="只预览，不保存 / preview only")]
Shape = Annotated[str, typer.Option(help="GeoJSON or WKT (WGS84), inline or a file path")]


def register(app: typer.Typer) -> None:
    app.add_typer(grids_app, name="grids")


# -- generation and validation ------------------------------------------------------------------


@grids_app.command("generate")
def generate(
    communities: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="社区面 file")],
    streets: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="街道中心线 file")],
    target_area: Annotated[float, typer.Option(help="target grid area, m²")] = 10_000.0,
    out: Annotated[Path | None, typer.Option(help="write the grids here (GeoJSON, WGS84)")] = None,
    code_column: Annotated[str, typer.Option(help="column holding the community code")] = "code",
    code_prefix: Annotated[
        str,
        typer.Option(help="prepended to the code column, zero-padded to 12 digits, e.g. 250001001"),
    ] = "",
    metric_crs: Annotated[
        str | None, typer.Option(help="CRS to measure in, e.g. EPSG:26986")
    ] = None,
) -> None:
    """Partition communities into street-following grids, coded per GB/T 30428.1."""
    import geopandas as gpd

    from app.services.grids.topology import rules
    from gis.grids import area_distribution, check_topology, generate_grids

    settings = _settings()
    comms = gpd.read_file(communities)
    code = comms[code_column].astype(str).str.replace(r"\.0$", "", regex=True)
    if code_prefix:
        code = code_prefix + code.str.zfill(12 - len(code_prefix))
    comms = comms.assign(code=code)[["code", "geometry"]]
    lines = gpd.read_file(streets).to_crs(comms.crs)
    started = time.perf_counter()
    grids = generate_grids(
        comms,
        lines,
        target_area_m2=target_area,
        metric_crs=metric_crs,
        progress=sys.stderr.isatty(),
    )
    seconds = time.perf_counter() - started
    topo = rules(settings)
    found = check_topology(grids, comms, topo, metric_crs=metric_crs)
    dist = area_distribution(grids["area_m2"], topo)
    typer.echo(f"{len(grids):,} grids in {len(comms)} communities in {seconds:.1f} s")
    typer.echo(_distribution(dist, topo))
    _echo_violations([_row(v) for v in found])
    if out:
        grids.to_crs(4326).to_file(out, driver="GeoJSON", engine="pyogrio")
        typer.echo(f"written to {out}")
    raise typer.Exit(1 if any(v.severity == "error" for v in found) else 0)


@grids_app.command("validate")
def validate(
    community: Annotated[str | None, typer.Option(help="区/街道/社区编码 prefix")] = None,
    grids_file: Annotated[
        Path | None,
        typer.Option(
            "--grids", exists=True, dir_okay=False, help="check a file instead of the database"
        ),
    ] = None,
    communities_file: Annotated[
        Path | None,
        typer.Option(
            "--communities", exists=True, dir_okay=False, help="the communities of --grids"
        ),
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write the violations here (GeoJSON)")] = None,
) -> None:
    """List every topology violation (errors and warnings); exit 1 when there are errors."""
    if grids_file:
        found, features = _validate_files(grids_file, communities_file)
    else:
        from app.services.grids.topology import validation_report

        engine, settings = _engine_settings()
        try:
            with _session(engine) as session:
                report = validation_report(session, settings, area_code=community)
        finally:
            engine.dispose()
        found = report["violations"]
        typer.echo(
            f"{report['communities_checked']} communities checked: "
            f"{report['errors']} error(s), {report['warnings']} warning(s)"
        )
        features = [
            {
                "type": "Feature",
                "geometry": v["geometry"],
                "properties": {k: x for k, x in v.items() if k != "geometry"},
            }
            for v in found
        ]
    _echo_violations(found)
    if out:
        out.write_text(
            json.dumps(
                {"type": "FeatureCollection", "features": features}, ensure_ascii=False, default=str
            ),
            encoding="utf-8",
        )
        typer.echo(f"written to {out}")
    raise typer.Exit(1 if any(v["severity"] == "error" for v in found) else 0)


def _validate_files(grids_file: Path, communities_file: Path | None):
    import geopandas as gpd

    from app.services.grids.topology import rules
    from gis.grids import check_topology

    if communities_file is None:
        raise typer.BadParameter("--grids needs --communities", param_hint="--communities")
    grids = gpd.read_file(grids_file)
    comms = gpd.read_file(communities_file).to_crs(grids.crs)
    found = check_topology(grids, comms, rules(_settings()))
    rows = [_row(v) for v in found]
    features = [
        {
            "type": "Feature",
            "geometry": v.geometry.__geo_interface__ if v.geometry else None,
            "properties": r,
        }
        for v, r in zip(found, rows, strict=True)
    ]
    return rows, features


# -- edits --------------------------------------------------------------------------------------


@grids_app.command("split")
def split(
    code: str, line: Shape, actor: Actor = None, note: Note = None, dry_run: DryRun = False
) -> None:
    """Cut a grid along a line drawn across it (new codes; the old one is retired)."""
    _edit("split", code, _shape(line, "line"), actor=actor, note=note, dry_run=dry_run)


@grids_app.command("merge")
def merge(
    codes: list[str], actor: Actor = None, note: Note = None, dry_run: DryRun = False
) -> None:
    """Merge adjacent grids of one community into one new grid."""
    _edit("merge", codes, actor=actor, note=note, dry_run=dry_run)


@grids_app.command("reshape")
def reshape(
    code: str,
    geometry: Shape,
    adjust_neighbours: bool = True,
    actor: Actor = None,
    note: Note = None,
    dry_run: DryRun = False,
) -> None:
    """Give a grid a new shape (same code, next version); neighbours follow by default."""
    _edit(
        "reshape",
        code,
        _shape(geometry),
        adjust_neighbours=adjust_neighbours,
        actor=actor,
        note=note,
        dry_run=dry_run,
    )


@grids_app.command("create")
def create(
    geometry: Shape,
    community: Annotated[str | None, typer.Option()] = None,
    actor: Actor = None,
    note: Note = None,
    dry_run: DryRun = False,
) -> None:
    """A new grid from a polygon, clipped to the free area of its community."""
    _edit("create", _shape(geometry), community=community, actor=actor, note=note, dry_run=dry_run)


@grids_app.command("retire")
def retire(
    codes: list[str], actor: Actor = None, note: Note = None, dry_run: DryRun = False
) -> None:
    """End grids without successor (refused if that leaves a gap in a gridded community)."""
    _edit("retire", codes, actor=actor, note=note, dry_run=dry_run)


@grids_app.command("renumber")
def renumber(
    community: str, actor: Actor = None, note: Note = None, dry_run: DryRun = False
) -> None:
    """Re-sequence a community's grids west→east, north→south (old → new kept)."""
    _edit("renumber", community, actor=actor, note=note, dry_run=dry_run)


@grids_app.command("history")
def history(code: str) -> None:
    """Every version of a grid code and the edits that touched it."""
    from app.services.grids.edits import history as grid_history

    engine, _ = _engine_settings()
    try:
        with _session(engine) as session:
            found = _domain(lambda: grid_history(session, code))
    finally:
        engine.dispose()
    for v in found["versions"]:
        typer.echo(
            f"v{v['version']}  {v['valid_from']} → {v['valid_to'] or 'now'}  {v['area_m2']:,.0f} m²"
        )
    for e in found["edits"]:
        typer.echo(
            f"edit {e['id']} {e['kind']} at {e['at']} by {e['actor'] or '-'}: "
            f"{', '.join(e['retired_codes']) or '-'} → {', '.join(e['started_codes']) or '-'}"
        )
    for r in found["renumbered"]:
        typer.echo(f"renumbered at {r['at']}: {r['old_code']} → {r['new_code']}")


def _edit(kind: str, *args, actor: str | None, note: str | None, dry_run: bool, **kwargs) -> None:
    from app.services.grids import edits as grid_edits

    options = grid_edits.EditOptions(actor=actor, note=note, dry_run=dry_run)
    run = getattr(grid_edits, kind)
    engine, settings = _engine_settings()
    try:
        with _session(engine) as session:
            result = _domain(lambda: run(session, settings, *args, options, **kwargs))
    finally:
        engine.dispose()
    verb = "would be" if result["dry_run"] else "done"
    typer.echo(f"{kind} {verb}" + (f" (edit {result['edit_id']})" if result["edit_id"] else ""))
    typer.echo(f"  retired: {', '.join(result['retired']) or '-'}")
    for s in result["started"]:
        typer.echo(f"  started: {s['code']} v{s['version']} {s['area_m2']:,.0f} m²")
    for what, moves in result["moved"].items():
        for m in moves:
            typer.echo(
                f"  moved {what[:-1]} {m.get('identifier') or m['id']}: "
                f"{m['from_code'] or '-'} → {m['to_code'] or '-'}"
            )
    typer.echo(f"  closed cases kept on their grid: {result['closed_cases_kept']}")
    _echo_violations(result["violations"] + result["warnings"])
    if not result["valid"]:
        raise typer.Exit(1)


# -- plumbing -----------------------------------------------------------------------------------


def _settings():
    from app.cli import _settings as settings

    return settings()


def _engine_settings():
    from app.cli import _engine

    settings = _settings()
    return _engine(settings), settings


def _session(engine):
    from sqlalchemy.orm import Session

    return Session(engine)


def _domain(call):
    from app.cli import _fail
    from app.errors import DomainError

    try:
        return call()
    except DomainError as exc:
        for v in exc.extra.get("violations", [])[:50]:
            typer.echo(f"  - {v['severity']} {v['rule']}: {v['message_en']}", err=True)
        _fail(exc)


def _shape(value: str, what: str = "geometry"):
    import shapely

    from app.services.grids.edits import parse_geometry

    path = Path(value)
    text = path.read_text(encoding="utf-8") if len(value) < 4096 and path.is_file() else value
    text = text.strip()
    if text.startswith("{"):
        data = json.loads(text)
        if data.get("type") == "FeatureCollection":
            data = data["features"][0]
        return parse_geometry(data, what)
    try:
        return shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        raise typer.BadParameter(f"not GeoJSON or WKT: {exc}", param_hint=what) from exc


def _row(v) -> dict:
    from gis.grids import describe

    return {
        "rule": v.rule,
        "severity": v.severity,
        "community_code": v.community_code,
        "codes": list(v.codes),
        "area_m2": v.area_m2,
        "width_m": v.width_m,
        "message_en": describe(v.rule, v.codes, v.area_m2, v.community_code, "en"),
    }


def _echo_violations(found: list[dict], limit: int = 200) -> None:
    for v in found[:limit]:
        typer.echo(f"  - {v['severity']} {v['rule']}: {v['message_en']}")
    if len(found) > limit:
        typer.echo(f"  … and {len(found) - limit} more")


def _distribution(d: dict, topo) -> str:
    if not d.get("count"):
        return "no grids"
    return (
        f"area m²: min {d['min']:,.0f} · p5 {d['p5']:,.0f} · median {d['median']:,.0f} · "
        f"p95 {d['p95']:,.0f} · max {d['max']:,.0f}; {100 * d['share_in_band']:.1f} % inside "
        f"{topo.area_min_m2:,.0f}–{topo.area_max_m2:,.0f}"
    )
