"""Load the synthetic demo district so a fresh `make run` shows a living system."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from app.db.grids import versions as grid_repo
from app.db.intake import events as event_repo
from app.errors import InvalidInputError
from app.services.catalog.imports import ImportOptions, import_frame
from app.services.demo.simulation import simulate_workflow
from app.services.intake.event_import import import_event_frame
from app.settings import Settings

# Layer order follows the foreign keys: areas, then units (offices belong to sub-districts),
# then grids (point at units), streets, and components (point at units and streets).
LAYER_OPTIONS = {
    "areas": ImportOptions(),
    "units": ImportOptions(columns={"area_code": "subdistrict_code"}),
    # Grids exist from before the year of demo events, so each event finds its grid version.
    "grids": ImportOptions(defaults={"valid_from": "2025-01-01T00:00:00+08:00"}),
    "streets": ImportOptions(),
    "components": ImportOptions(),
}


def load_demo(
    engine: Engine,
    settings: Settings,
    source: Path,
    *,
    force: bool = False,
    progress: bool = False,
    now: datetime | None = None,
) -> dict[str, int]:
    """Import the demo folder unless the database already has grids, then run its cases
    through the workflow up to ``now``; returns rows per layer and cases per final status.

    The committed year of cases is moved forward by whole weeks (weekly rhythms survive) so
    that it ends at ``now`` (default: the real now): a newcomer sees open, due and overdue
    cases, not a year that ended long ago. Tests pass a fixed ``now`` for stable results.
    """
    from gis.demo import read_district

    if settings.class_scheme != "2013":
        raise InvalidInputError(
            "示范数据使用 2013 分类方案（16 位部件标识码）；当前部署为 2026 方案",
            "the demo district uses the 2013 class scheme; this deployment is set to 2026",
        )
    with engine.connect() as conn:
        if event_repo.count_grids(conn) and not force:
            return {}
    district = read_district(source)
    counts = {}
    for layer, options in LAYER_OPTIONS.items():
        frame = getattr(district, layer)
        report = import_frame(
            engine, settings, layer, frame, options, progress=progress, source=f"{source}/{layer}"
        )
        counts[layer] = report.rows_written
    now = now or datetime.now(UTC)
    period_end = pd.Timestamp(
        district.metadata["period"]["end"], tz=settings.timezone
    ) + pd.Timedelta(days=1)
    shift = pd.Timedelta(weeks=max(0, (now - period_end).days // 7))
    imported = import_event_frame(
        engine,
        settings,
        _event_table(district.events, shift),
        progress=progress,
        source=f"{source}/events",
    )
    counts["events"] = imported.rows_written
    outcome = simulate_workflow(engine, settings, until=now)
    counts.update({f"cases {status}": n for status, n in sorted(outcome.items())})
    return counts


def _event_table(events, shift: pd.Timedelta = pd.Timedelta(0)) -> pd.DataFrame:
    """The generator's events as an import table: the year of cases, reported when observed."""
    table = pd.DataFrame(events.drop(columns="geometry"))
    table["observed_at"] = (table["observed_at"] + shift).map(lambda t: t.isoformat())
    table["reported_at"] = table["observed_at"]
    table["lon"], table["lat"] = events.geometry.x.to_numpy(), events.geometry.y.to_numpy()
    table.insert(0, "row", range(1, len(table) + 1))
    return table


DEMO_ACCOUNTS = (  # username, roles, display name (None: the busiest grid supervisor's name)
    ("demo-admin", ["admin"], "演示管理员"),
    ("demo-planner", ["planner"], "演示规划员"),
    ("demo-analyst", ["analyst"], "演示分析员"),
    ("demo-dispatcher", ["dispatcher"], "演示派遣员"),
    ("demo-supervisor", ["supervisor"], None),
)


def create_demo_accounts(engine: Engine, settings: Settings) -> Path:
    """Accounts to try the demo's pages with, sharing one random password; returns the file
    (in ``settings.home``, readable by its owner only) that lists them."""
    import secrets

    from app.services.accounts.users import create_user

    password = secrets.token_urlsafe(9)
    with engine.connect() as conn:
        supervisor = grid_repo.busiest_supervisor(conn)
    lines = [f"# demo accounts (password for all: {password})"]
    for username, roles, name in DEMO_ACCOUNTS:
        create_user(engine, username, password, roles, name or supervisor)
        lines.append(f"{username}\t{','.join(roles)}\t{name or supervisor}")
    path = settings.home / "demo_accounts.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path
