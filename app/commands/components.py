"""CLI: `citygrid components …`, `citygrid classes …`, and census options on `citygrid import`.

``citygrid import components FILE`` gains ``--class``, ``--class-map``, ``--class-column``,
``--source-id``, ``--source-layer`` and ``--actor`` (the core command is extended here, so
one module owns the component census); ``citygrid components import`` is the same command
under the component group.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Annotated

import typer

components_app = typer.Typer(
    help="The component inventory (部件): census import, summaries.", no_args_is_help=True
)
classes_app = typer.Typer(
    help="Component and event classes, a city's own classes.", no_args_is_help=True
)

ClassOpt = Annotated[
    str | None, typer.Option("--class", help="one class code for every feature, e.g. 0118")
]
ClassMapOpt = Annotated[
    Path | None,
    typer.Option(
        "--class-map",
        exists=True,
        dir_okay=False,
        help="CSV: value,class_code[,layer,column,source_id_column] (see data/classification/)",
    ),
]
ClassColumnOpt = Annotated[
    str | None,
    typer.Option(
        "--class-column", help="the source column whose values the class map maps, e.g. TYPE"
    ),
]
SourceIdOpt = Annotated[
    str | None,
    typer.Option("--source-id", help="the source's own feature id column: the key of re-imports"),
]
SourceLayerOpt = Annotated[
    str | None,
    typer.Option(
        "--source-layer", help="name of the source in re-import keys (default: the file name)"
    ),
]
ActorOpt = Annotated[str | None, typer.Option("--actor", help="who imports (history)")]
CENSUS = ("class_", "class_map", "class_column", "source_id", "source_layer", "actor")


def _run(work):
    from app.cli import with_engine

    return with_engine(work)


def import_components(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    class_: ClassOpt = None,
    class_map: ClassMapOpt = None,
    class_column: ClassColumnOpt = None,
    source_id: SourceIdOpt = None,
    source_layer: SourceLayerOpt = None,
    actor: ActorOpt = None,
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", help="FIELD=SOURCE_COLUMN, e.g. --map owner_unit_code=OWNER"),
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="FIELD=VALUE for every row (repeatable)")
    ] = None,
    layer_name: Annotated[str | None, typer.Option("--layer", help="GeoPackage layer")] = None,
    crs: Annotated[str | None, typer.Option(help="CRS of a file that declares none")] = None,
    lon: Annotated[str | None, typer.Option(help="CSV longitude column")] = None,
    lat: Annotated[str | None, typer.Option(help="CSV latitude column")] = None,
) -> None:
    """Import a component census file all-or-nothing; importing it again changes nothing."""
    from app.cli import _pairs
    from app.services.catalog.imports import ImportOptions, import_file

    columns, defaults = _pairs(map_, "--map"), _pairs(set_, "--set")
    if class_:
        defaults["class_code"] = class_
    if source_id:
        columns["source_id"] = source_id
    options = ImportOptions(
        columns=columns,
        defaults=defaults,
        layer_name=layer_name,
        source_crs=crs,
        lon_column=lon,
        lat_column=lat,
        class_map=class_map,
        class_column=class_column,
        source_layer=source_layer,
        actor=actor,
    )
    report = _run(
        lambda engine, settings: import_file(
            engine, settings, "components", file, options, progress=sys.stderr.isatty()
        )
    )
    rate = report.rows_written / report.seconds if report.seconds else 0
    typer.echo(
        f"components: {report.rows_written} of {report.rows_read} rows written from "
        f"{report.source} in {report.seconds:.1f} s ({rate:,.0f} rows/s)"
    )
    if report.details.get("already_imported"):
        typer.echo(
            f"  {report.details['already_imported']} already imported before "
            "(same source layer and key): unchanged"
        )
    for warning in report.warnings:
        typer.echo(f"  warning: {warning}")


def summary(
    by: Annotated[
        str, typer.Option(help="grid | community | subdistrict | district | street")
    ] = "grid",
    class_: ClassOpt = None,
    status: Annotated[str | None, typer.Option(help="only this status")] = None,
    format_: Annotated[str, typer.Option("--format", help="md | csv")] = "md",
) -> None:
    """Component counts per class per grid, community or street."""
    from app.services.components import reads

    result = _run(
        lambda engine, settings: reads.summary(
            engine, settings, by, {"class_code": class_, "status": status}
        )
    )
    if format_ == "csv":
        typer.echo(reads.summary_csv(result).lstrip("\ufeff"), nl=False)
        return
    typer.echo(f"| {by} | name | class | 名称 | total | damaged | missing | retired |")
    typer.echo("|---|---|---|---|---:|---:|---:|---:|")
    for r in result["items"]:
        typer.echo(
            f"| {r['key'] or '-'} | {r['name'] or ''} | {r['class_code']} | "
            f"{r['class_name']} | {r['total']} | {r['damaged']} | {r['missing']} | "
            f"{r['retired']} |"
        )


def retire(
    identifier: str,
    note: Annotated[str | None, typer.Option(help="why (kept in the history)")] = None,
    actor: ActorOpt = None,
) -> None:
    """Retire (注销) a component; its identifier is never issued again."""
    from app.services.components import inventory as service

    row = _run(lambda engine, settings: service.retire_component(engine, identifier, actor, note))
    typer.echo(f"{row['identifier']}: {row['status']}")


def import_classes(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    scheme: Annotated[
        str | None, typer.Option(help="2013 | 2026 (default: the deployment's)")
    ] = None,
) -> None:
    """Add a city's own classes from a CSV (code, name, major_name, name_en, geometry_type, kind)."""
    from app.services.catalog.classes import import_classes as run

    counts = _run(lambda engine, settings: run(engine, scheme or settings.class_scheme, file))
    typer.echo(f"classes: {counts['written']} written, {counts['unchanged']} unchanged")


def list_classes(
    kind: Annotated[str | None, typer.Option(help="component | event")] = None,
    custom: Annotated[bool | None, typer.Option("--custom/--standard", help="only these")] = None,
) -> None:
    """List the classes of the deployment's scheme."""
    from app.services.catalog.classes import list_classes as run

    for r in _run(lambda engine, settings: run(engine, settings.class_scheme, kind, custom)):
        typer.echo(
            f"{r['kind']:9} {r['code']:5} {r['major_name']}/{r['name']}  "
            f"{r['name_en'] or ''}  {r['geometry'] or ''}{'  (custom)' * r['is_custom']}"
        )


def _extend_core_import(app: typer.Typer) -> None:
    """Give the core ``import`` command the census options; components go through
    :func:`import_components`. Skipped when the core command already has them."""
    info = next((c for c in app.registered_commands if c.name == "import"), None)
    if info is None or info.callback is None:
        return
    core = info.callback
    signature = inspect.signature(core, eval_str=True)
    if "class_map" in signature.parameters:
        return
    census = [
        p
        for p in inspect.signature(import_components, eval_str=True).parameters.values()
        if p.name in CENSUS
    ]

    def extended(**kwargs):
        extra = {name: kwargs.pop(name) for name in CENSUS}
        if kwargs["layer"] == "components":
            shared = ("map_", "set_", "layer_name", "crs", "lon", "lat")
            return import_components(
                kwargs["file"], **extra, **{k: kwargs[k] for k in shared if k in kwargs}
            )
        if any(v is not None for v in extra.values()):
            raise typer.BadParameter("--class, --class-map, --source-id … are for components")
        return core(**kwargs)

    params = [*signature.parameters.values(), *census]
    extended.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    extended.__annotations__ = {p.name: p.annotation for p in params}
    extended.__doc__ = core.__doc__
    info.callback = extended


def register(app: typer.Typer) -> None:
    """Add `components` and `classes` to the `citygrid` command; extend `import`."""
    components_app.command("import")(import_components)
    components_app.command("summary")(summary)
    components_app.command("retire")(retire)
    classes_app.command("import")(import_classes)
    classes_app.command("list")(list_classes)
    app.add_typer(components_app, name="components")
    app.add_typer(classes_app, name="classes")
    _extend_core_import(app)
