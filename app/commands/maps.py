"""`citygrid maps …`: export the maps as standalone HTML, recompute the stored weights."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

maps_app = typer.Typer(help="地图与热点 / maps and hotspot weights.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(maps_app, name="maps")


def _engine_settings():
    from app.cli import _engine, _settings

    settings = _settings()
    return _engine(settings), settings


@maps_app.command("weights")
def weights(
    force: Annotated[bool, typer.Option(help="recompute even when up to date")] = False,
) -> None:
    """Recompute the stored contiguity weights (grids, street segments) and event → segment matches."""
    from app.services.hotspots.layers import refresh_weights

    engine, settings = _engine_settings()
    started = time.perf_counter()
    try:
        report = refresh_weights(engine, settings, force=force)
    finally:
        engine.dispose()
    typer.echo(
        f"weights up to date in {time.perf_counter() - started:.1f} s: "
        + ", ".join(f"{k} {v}" for k, v in report.items())
    )


@maps_app.command("export")
def export(
    kind: Annotated[str, typer.Argument(help="supervisor | hotspots | planner")],
    out: Annotated[Path, typer.Option("--out", "-o", help="HTML file to write")],
    grid: Annotated[str | None, typer.Option(help="supervisor map: grid code")] = None,
    supervisor: Annotated[str | None, typer.Option(help="supervisor map: supervisor name")] = None,
    at: Annotated[
        datetime | None, typer.Option(help="supervisor map: time of the deadline lights")
    ] = None,
    class_: Annotated[
        str | None, typer.Option("--class", help="hotspots: class codes, comma-separated")
    ] = None,
    major: Annotated[str | None, typer.Option(help="hotspots: major class codes")] = None,
    start: Annotated[str | None, typer.Option("--from", help="hotspots: from date")] = None,
    end: Annotated[str | None, typer.Option("--to", help="hotspots: to date (inclusive)")] = None,
    source: Annotated[str | None, typer.Option(help="hotspots: sources")] = None,
    status: Annotated[
        str | None, typer.Option(help="hotspots: statuses (open = unfinished)")
    ] = None,
    area: Annotated[str | None, typer.Option(help="area code (hotspots, planner)")] = None,
    fdr: Annotated[bool | None, typer.Option(help="hotspots: FDR-corrected bins")] = None,
    lang: Annotated[str, typer.Option(help="zh | en")] = "zh",
    basemap: Annotated[str | None, typer.Option(help="osm | tianditu | none")] = None,
) -> None:
    """Write one map as a standalone HTML file (Leaflet inlined when available locally)."""
    from app.cli import _fail
    from app.errors import DomainError
    from app.services.hotspots import analysis as hotspots
    from app.services.hotspots import maps

    if kind not in ("supervisor", "hotspots", "planner"):
        raise typer.BadParameter("supervisor, hotspots or planner", param_hint="KIND")
    engine, settings = _engine_settings()
    try:
        if kind == "supervisor":
            html = maps.supervisor_map_html(
                engine,
                settings,
                grid=grid,
                supervisor=supervisor,
                at=at,
                lang=lang,
                basemap=basemap,
                inline=True,
            )
        elif kind == "hotspots":
            f = hotspots.parse_filter(
                engine,
                settings,
                classes=class_,
                major=major,
                start=start,
                end=end,
                source=source,
                status=status,
                area=area,
            )
            html = maps.hotspot_map_html(
                engine, settings, f, fdr=fdr, lang=lang, basemap=basemap, inline=True
            )
        else:
            html = maps.planner_map_html(
                engine, settings, area=area, lang=lang, basemap=basemap, inline=True
            )
    except DomainError as exc:
        _fail(exc)
    finally:
        engine.dispose()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    typer.echo(f"{kind} map: {out} ({len(html.encode()) / 1e6:.1f} MB)")
