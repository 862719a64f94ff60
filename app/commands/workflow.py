"""CLI: `citygrid evaluate`, `citygrid calendar …`, `citygrid workflow …`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

calendar_app = typer.Typer(
    help="Working calendars (holidays, make-up working days).", no_args_is_help=True
)
workflow_app = typer.Typer(
    help="Case workflow: time limits, demo simulation.", no_args_is_help=True
)


def _run(work):
    from app.cli import with_engine

    return with_engine(work)


def evaluate(
    from_: Annotated[datetime, typer.Option("--from", help="start date, inclusive (YYYY-MM-DD)")],
    to: Annotated[datetime, typer.Option(help="end date, inclusive (YYYY-MM-DD)")],
    level: Annotated[str, typer.Option(help="unit | area | post")] = "unit",
    area_level: Annotated[
        str, typer.Option(help="district | subdistrict | community | grid")
    ] = "subdistrict",
    post: Annotated[
        str, typer.Option(help="supervisor | acceptor | shift_leader | dispatcher")
    ] = "supervisor",
    within: Annotated[str | None, typer.Option(help="only inside this area code")] = None,
    format_: Annotated[str, typer.Option("--format", help="csv | xlsx | md")] = "md",
    out: Annotated[
        Path | None, typer.Option(help="output file (default: stdout; xlsx needs it)")
    ] = None,
) -> None:
    """Performance evaluation (GB/T 30428.4) for a period: indicators, composite, grade."""
    from app.services.workflow import evaluation as service

    def work(engine, settings):
        # Whole days: --to 2026-03-31 includes 31 March (the service treats dates that way).
        return service.evaluate(
            engine,
            settings,
            level,
            from_.date(),
            to.date(),
            area_level=area_level,
            post=post,
            within=within,
        )

    if format_ not in ("csv", "xlsx", "md"):
        raise typer.BadParameter("csv, xlsx or md", param_hint="--format")
    result = _run(work)
    if format_ == "xlsx":
        target = out or Path(f"evaluation_{level}.xlsx")
        if service.write_xlsx(result, target):
            typer.echo(f"wrote {len(result['rows'])} rows to {target}")
            return
        # openpyxl missing from a slim install: fall back to CSV, which every spreadsheet opens.
        format_, out = "csv", target.with_suffix(".csv")
        typer.echo(f"openpyxl is not installed: writing CSV to {out} instead", err=True)
    text = service.to_csv(result) if format_ == "csv" else service.to_markdown(result)
    if out:
        out.write_text(text, encoding="utf-8-sig" if format_ == "csv" else "utf-8")
        typer.echo(f"wrote {len(result['rows'])} rows to {out}")
    else:
        typer.echo(text, nl=False)


@calendar_app.command("load")
def calendar_load(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    work_periods: Annotated[
        str | None,
        typer.Option(
            help="work periods of these years, e.g. 09:00-12:00,13:30-17:30 (default: setting)"
        ),
    ] = None,
) -> None:
    """Load FILE (date,kind,name CSV), replacing each year it lists."""
    from app.services.workflow.calendar import load_calendar_file

    counts = _run(lambda engine, settings: load_calendar_file(engine, file, work_periods))
    for year, n in counts.items():
        typer.echo(f"{year}: {n} listed days")


@calendar_app.command("show")
def calendar_show(year: int) -> None:
    """Print one year's holidays and make-up working days."""
    from app.services.workflow.calendar import read_year

    info = _run(lambda engine, settings: read_year(engine, settings, year))
    typer.echo(
        f"{year}: {info['working_days']} working days, work periods {info['work_periods']}"
        f"{'' if info['defined'] else ' (NOT DEFINED: weekends only)'}"
    )
    for day in info["days"]:
        typer.echo(
            f"  {day['date']}  {'上班' if day['kind'] == 'workday' else '放假'}  {day['name'] or ''}"
        )


@calendar_app.command("deadline")
def calendar_deadline(
    start: Annotated[datetime, typer.Argument(help="e.g. 2026-02-13T15:00 (local time)")],
    value: float,
    unit: Annotated[
        str, typer.Argument(help="urgent_hours | working_hours | working_days | calendar_days")
    ],
) -> None:
    """Where a time limit starting at START runs out."""
    from app.services.workflow.calendar import compute_deadline

    result = _run(lambda engine, settings: compute_deadline(engine, settings, start, value, unit))
    typer.echo(f"{result['start']} + {result['limit']['text']} → {result['deadline']}")


@workflow_app.command("defaults")
def workflow_defaults() -> None:
    """Load the bundled calendars and time limits the database does not have yet."""
    from app.services.workflow.calendar import load_workflow_defaults

    counts = _run(load_workflow_defaults)
    typer.echo(
        f"calendar years loaded: {counts['calendar_years']}, "
        f"time limits added: {counts['time_limits']}"
    )


@workflow_app.command("limits")
def workflow_limits(
    file: Annotated[Path | None, typer.Argument(help="CSV (default: the bundled table)")] = None,
    overwrite: Annotated[bool, typer.Option(help="replace limits already stored")] = False,
) -> None:
    """Load time limits per class and filing criterion."""
    from app.services.workflow.calendar import load_time_limits

    n = _run(lambda engine, settings: load_time_limits(engine, settings, file, overwrite))
    typer.echo(f"time limits written: {n}")


@workflow_app.command("simulate")
def workflow_simulate(
    until: Annotated[datetime | None, typer.Option(help="simulate up to (default: now)")] = None,
    seed: int = 20261121,
) -> None:
    """Move the demo district's reported cases through realistic workflow paths."""
    from app.services.demo.simulation import simulate_workflow

    moment = until or datetime.now().astimezone()
    counts = _run(lambda engine, settings: simulate_workflow(engine, settings, moment, seed))
    typer.echo("cases by status: " + ", ".join(f"{k} {v}" for k, v in counts.items()))


def register(app: typer.Typer) -> None:
    """Add `evaluate`, `calendar` and `workflow` to the `citygrid` command."""
    app.command("evaluate")(evaluate)
    app.add_typer(calendar_app, name="calendar")
    app.add_typer(workflow_app, name="workflow")
