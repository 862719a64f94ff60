"""The `citygrid` command line: database, imports, demo district, server."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from app.errors import DomainError, ImportRejected
from app.settings import Settings

app = typer.Typer(
    help="CityGrid 数字化城管 command line.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="The database: embedded cluster and migrations.", no_args_is_help=True)
demo_app = typer.Typer(help="The synthetic demo district.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")

LAYERS = ("areas", "units", "grids", "streets", "components", "events")


def _settings() -> Settings:
    return Settings()


def _embedded(settings: Settings):
    from app.embedded import EmbeddedPostgres

    if settings.database_url:
        typer.echo(
            "DATABASE_URL is set: CityGrid uses that server and runs no embedded one.", err=True
        )
        raise typer.Exit(2)
    return EmbeddedPostgres(settings.home)


def _database_url(settings: Settings) -> str:
    from app.db.session import resolve_database_url

    return resolve_database_url(settings)


def _engine(settings: Settings):
    from app.db.session import make_engine

    return make_engine(_database_url(settings))


def with_engine(work):
    """Run ``work(engine, settings)`` with an engine, printing domain errors as the CLI does."""
    settings = _settings()
    engine = _engine(settings)
    try:
        return work(engine, settings)
    except DomainError as exc:
        _fail(exc)
    finally:
        engine.dispose()


def _fail(exc: DomainError) -> None:
    typer.secho(f"错误 / error: {exc.message_zh}", fg="red", err=True)
    if exc.message_en != exc.message_zh:
        typer.secho(f"       {exc.message_en}", fg="red", err=True)
    if isinstance(exc, ImportRejected):
        for problem in exc.problems[:200]:
            typer.echo(f"  - {problem}", err=True)
        if len(exc.problems) > 200:
            typer.echo(f"  … and {len(exc.problems) - 200} more", err=True)
    raise typer.Exit(1)


# -- db -------------------------------------------------------------------------------------


@db_app.command("start")
def db_start() -> None:
    """Start the embedded PostGIS (initialised on first use) and print its URL."""
    typer.echo(_embedded(_settings()).start())


@db_app.command("stop")
def db_stop() -> None:
    """Stop the embedded PostGIS."""
    was_running = _embedded(_settings()).stop()
    typer.echo("stopped" if was_running else "not running")


@db_app.command("status")
def db_status() -> None:
    """Whether the embedded PostGIS runs, where its data lives, and its URL."""
    status = _embedded(_settings()).status()
    typer.echo(f"running: {'yes' if status.running else 'no'}")
    typer.echo(f"data:    {status.data_dir}")
    if status.running:
        typer.echo(f"pid:     {status.pid}\nurl:     {status.url}")
    raise typer.Exit(0 if status.running else 3)


@db_app.command("url")
def db_url() -> None:
    """Print the database URL (DATABASE_URL, or the embedded cluster's, starting it)."""
    typer.echo(_database_url(_settings()))


@db_app.command("backup")
def db_backup(
    target: Annotated[Path, typer.Argument(help="the archive to write, e.g. citygrid.backup")],
) -> None:
    """Back up the database and the token signing key into one file (pg_dump)."""
    from app.backup import backup

    settings = _settings()
    try:
        manifest = backup(_database_url(settings), settings, target)
    except DomainError as exc:
        _fail(exc)
    typer.echo(f"backup written to {target} (signing key: {manifest['secret_key']})")


@db_app.command("restore")
def db_restore(
    source: Annotated[Path, typer.Argument(help="an archive written by `citygrid db backup`")],
    yes: Annotated[bool, typer.Option("--yes", help="replace the database without asking")] = False,
) -> None:
    """Replace the database's contents and the signing key with a backup (all or nothing).
    Restart the server afterwards: it keeps the signing key it read at start."""
    from app.backup import restore

    settings = _settings()
    url = _database_url(settings)
    if not yes:
        typer.confirm(f"Replace everything in {url.rsplit('/', 1)[-1]} with {source}?", abort=True)
    try:
        manifest = restore(url, settings, source)
    except DomainError as exc:
        _fail(exc)
    typer.echo(
        f"restored the backup of {manifest['created_at']} (signing key: {manifest['secret_key']})"
    )


@db_app.command("migrate")
def db_migrate(revision: str = "head") -> None:
    """Upgrade the schema to REVISION and load the standard class tables."""
    _migrate(_settings(), revision)


@db_app.command("downgrade")
def db_downgrade(revision: Annotated[str, typer.Argument(help="target, e.g. base")]) -> None:
    """Downgrade the schema to REVISION."""
    from app.db.migrate import downgrade

    downgrade(_database_url(_settings()), revision)


def _migrate(settings: Settings, revision: str = "head") -> str:
    from app.db.migrate import upgrade
    from app.db.session import make_engine
    from app.services.catalog.classes import load_standard_classes
    from app.services.workflow.calendar import load_workflow_defaults
    from app.services.workflow.transitions import fill_stage_lights

    url = _database_url(settings)
    upgrade(url, revision)
    engine = make_engine(url)
    try:
        counts = load_standard_classes(engine)
        # Working calendars and time limits ship with the code; rows already there are kept.
        load_workflow_defaults(engine, settings)
        fill_stage_lights(engine, settings)  # cases older than migration 0015
    finally:
        engine.dispose()
    typer.echo(
        f"schema at {revision}; classes loaded: "
        + ", ".join(f"{k} scheme {v}" for k, v in counts.items())
    )
    return url


# -- import ---------------------------------------------------------------------------------


def _pairs(values: list[str] | None, option: str) -> dict[str, str]:
    out = {}
    for value in values or []:
        if "=" not in value:
            raise typer.BadParameter(f"expected FIELD=VALUE, got {value!r}", param_hint=option)
        key, _, val = value.partition("=")
        out[key.strip()] = val.strip()
    return out


@app.command("import")
def import_layer(
    layer: Annotated[
        str, typer.Argument(help="areas | units | grids | streets | components | events")
    ],
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="FIELD=SOURCE_COLUMN, e.g. --map code=GRID_ID (repeatable)"),
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set", help="FIELD=VALUE for every row, e.g. --set level=community (repeatable)"
        ),
    ] = None,
    layer_name: Annotated[
        str | None, typer.Option("--layer", help="layer inside a GeoPackage")
    ] = None,
    crs: Annotated[
        str | None, typer.Option(help="CRS of a file that declares none, e.g. EPSG:4490")
    ] = None,
    lon: Annotated[str | None, typer.Option(help="CSV longitude column")] = None,
    lat: Annotated[str | None, typer.Option(help="CSV latitude column")] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option(help="events: import the valid rows and write the rejected ones to --rejects"),
    ] = False,
    rejects: Annotated[
        Path | None, typer.Option(help="events: where rejected rows go (CSV)")
    ] = None,
) -> None:
    """Import FILE (GeoJSON, GeoPackage, zipped Shapefile, CSV; events also NDJSON) all-or-nothing."""
    from app.services.catalog.imports import ImportOptions, import_file

    if layer not in LAYERS:
        raise typer.BadParameter(f"one of {', '.join(LAYERS)}", param_hint="LAYER")
    if layer == "events":
        _import_events(
            file, _pairs(map_, "--map"), _pairs(set_, "--set"), lon, lat, skip_invalid, rejects
        )
        return
    options = ImportOptions(
        columns=_pairs(map_, "--map"),
        defaults=_pairs(set_, "--set"),
        layer_name=layer_name,
        source_crs=crs,
        lon_column=lon,
        lat_column=lat,
    )
    settings = _settings()
    engine = _engine(settings)
    try:
        report = import_file(engine, settings, layer, file, options, progress=sys.stderr.isatty())
    except DomainError as exc:
        _fail(exc)
    finally:
        engine.dispose()
    typer.echo(
        f"{report.layer}: {report.rows_written} of {report.rows_read} rows written "
        f"from {report.source} in {report.seconds:.1f} s"
    )
    for warning in report.warnings:
        typer.echo(f"  warning: {warning}")


def _import_events(
    file: Path,
    columns: dict,
    defaults: dict,
    lon: str | None,
    lat: str | None,
    skip_invalid: bool,
    rejects: Path | None,
) -> None:
    from app.services.intake.event_import import EventImportOptions, import_events

    if skip_invalid and rejects is None:
        rejects = file.with_name(file.name.split(".")[0] + ".rejects.csv")
    options = EventImportOptions(
        columns=columns,
        defaults=defaults,
        lon_column=lon,
        lat_column=lat,
        skip_invalid=skip_invalid,
        rejects_path=rejects,
    )
    settings = _settings()
    engine = _engine(settings)
    try:
        report = import_events(engine, settings, file, options, progress=sys.stderr.isatty())
    except DomainError as exc:
        _fail(exc)
    finally:
        engine.dispose()
    rate = report.rows_written / report.seconds if report.seconds else 0
    typer.echo(
        f"events: {report.rows_written} of {report.rows_read} rows written from "
        f"{report.source} in {report.seconds:.1f} s ({rate:,.0f} rows/s)"
    )
    if report.rows_already_imported:
        typer.echo(
            f"  {report.rows_already_imported} rows skipped: their idempotency key was imported before"
        )
    if report.rows_rejected:
        typer.echo(f"  {report.rows_rejected} rows rejected, written to {report.rejects_path}")


# -- demo -----------------------------------------------------------------------------------


@demo_app.command("generate")
def demo_generate(
    grids: Annotated[int, typer.Option(help="number of grids (about 10,000 m² each)")] = 2500,
    out: Annotated[Path, typer.Option(help="output folder")] = Path("data/grids"),
    seed: int = 20261121,
    events_per_grid: Annotated[float, typer.Option(help="events per grid per year")] = 13.0,
) -> None:
    """Generate a synthetic district (deterministic for a seed) and write it to OUT."""
    from gis.demo import generate_district, write_district

    started = time.perf_counter()
    district = generate_district(
        n_grids=grids, seed=seed, events_per_grid=events_per_grid, progress=True
    )
    paths = write_district(district, out)
    counts = district.metadata["counts"]
    typer.echo(
        f"wrote {len(paths)} files to {out} in {time.perf_counter() - started:.1f} s: {counts}"
    )


@demo_app.command("load")
def demo_load(
    source: Annotated[Path | None, typer.Option("--dir", help="demo folder")] = None,
    force: Annotated[bool, typer.Option(help="load even if the database has grids")] = False,
) -> None:
    """Load the demo district into the database (only when it holds no grids, unless --force)."""
    from app.services.demo.load import load_demo

    settings = _settings()
    engine = _engine(settings)
    try:
        counts = load_demo(
            engine, settings, source or settings.demo_dir, force=force, progress=sys.stderr.isatty()
        )
    except DomainError as exc:
        _fail(exc)
    finally:
        engine.dispose()
    typer.echo(
        "demo district: "
        + (
            ", ".join(f"{k} {v}" for k, v in counts.items())
            if counts
            else "database already has grids, nothing loaded"
        )
    )


# -- server ---------------------------------------------------------------------------------


@app.command("serve")
def serve(host: str | None = None, port: int | None = None, workers: int = 1) -> None:
    """Serve the API (and maps) with uvicorn; --workers N runs N processes (one per core)."""
    import uvicorn

    from app.main import create_app

    settings = _settings()
    if host:
        settings.host = host
    if port:
        settings.port = port
    typer.echo(f"CityGrid at http://{settings.host}:{settings.port}/  (API docs: /docs)")
    if workers > 1:
        # Each worker builds its own app from the environment (DATABASE_URL, CITYGRID_*).
        if not settings.database_url:
            import os

            os.environ["DATABASE_URL"] = _database_url(settings)
        _serve_workers(settings.host, settings.port, workers, settings.access_log)
    else:
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level="info",
            access_log=settings.access_log,
            # The app believes X-Forwarded-For only from CITYGRID_TRUSTED_PROXIES
            # (app.api.ratelimit.client_address); uvicorn would believe any local caller.
            proxy_headers=False,
        )


def _serve_workers(host: str, port: int, workers: int, access_log: bool) -> None:
    """uvicorn's worker processes on a socket bound here. uvicorn binds its own with protocol
    0, so asyncio never sets TCP_NODELAY on the connections, and every keep-alive response
    then waits ~40 ms for a delayed ACK (measured: 3 ms → 44 ms per request)."""
    import socket

    import uvicorn
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config(
        "app.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        access_log=access_log,
        proxy_headers=False,  # see serve()
    )
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()


@app.command("run")
def run(host: str | None = None, port: int | None = None, workers: int = 1) -> None:
    """Everything a newcomer needs: database, migrations, demo district, then serve."""
    from app.services.demo.load import create_demo_accounts, load_demo

    settings = _settings()
    url = _migrate(settings)
    from app.db.session import make_engine

    engine = make_engine(url)
    try:
        counts = load_demo(engine, settings, settings.demo_dir, progress=sys.stderr.isatty())
        if counts:
            accounts = create_demo_accounts(engine, settings)
    except DomainError as exc:
        _fail(exc)
    finally:
        engine.dispose()
    if counts:
        typer.echo("demo district loaded: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
        typer.echo(f"demo accounts (sign in at /login): {accounts}")
    elif (settings.home / "demo_accounts.txt").exists():
        typer.echo(f"demo accounts (sign in at /login): {settings.home / 'demo_accounts.txt'}")
    serve(host, port, workers)


def _register_command_modules() -> None:
    """Each module in app/commands/ adds its own commands (one module per area of work)."""
    from app.commands import components, grids, maps, users, workflow

    for module in (components, grids, maps, users, workflow):
        module.register(app)


_register_command_modules()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
