"""Load the synthetic demo district so a fresh `make run` shows a living system."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from app.db import events as event_repo
from app.errors import InvalidInputError
from app.services.imports import ImportOptions, import_frame
from app.settings import Settings

# Layer order follows the foreign keys: areas, then units (offices belong to sub-districts),
# then grids (point at units), streets, and components (point at units and streets).
LAYER_OPTIONS = {
    "areas": ImportOptions(),
    "units": ImportOptions(columns={"area_code": "subdistrict_code"}),
    "grids": ImportOptions(),
    "streets": ImportOptions(),
    "components": ImportOptions(),
}


def load_demo(engine: Engine, settings: Settings, source: Path, *, force: bool = False,
              progress: bool = False) -> dict[str, int]:
    """Import the demo folder unless the database already has grids; returns rows per layer."""
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
        report = import_frame(engine, settings, layer, frame, options, progress=progress,
                              source=f"{source}/{layer}")
        counts[layer] = report.rows_written
    events = district.events
    rows = (
        {**rec, "lon": geom.x, "lat": geom.y, "observed_at": rec["observed_at"].isoformat()}
        for rec, geom in zip(events.drop(columns="geometry").to_dict("records"),
                             events.geometry, strict=True)
    )
    with engine.begin() as conn:
        _, counts["events"] = event_repo.bulk_load_events(conn, settings.class_scheme, rows)
    return counts
