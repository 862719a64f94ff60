"""CLI command groups beyond the core ones in `app.cli`: each module here defines
``register(app: typer.Typer) -> None`` and is picked up automatically."""
