"""The API's assignment (SQL facts) and the importer's (bulk facts in Python), side by side.

Both paths end in the same ``decide()``, but gather their facts twice; :func:`compare` feeds
the same points through both and returns every point whose *whole* outcome differs: the
assignment object field by field (grid, areas, street and its distance, component with its
distance and how it was matched, unit with rule and reasons, deadline, duplicates with
their ids and distances), or the refusal of a component identifier (zh and en message).

A file's rows also flag each other as duplicates, which reports sent together never do
(README: reports of one batch are not each other's duplicates), so :func:`batches` splits a
sample into groups in which no two points of one class are near in space and time; each
group is then compared against the stored cases only, as the API sees them.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pandas as pd
from sqlalchemy import Engine

from app.db.pool import IntakeDatabase
from app.services.intake.assignment import (
    PointRequest,
    component_refusal,
    decide_point,
    gather_facts,
)
from app.services.intake.bulk_assignment import (
    decide_row,
    gather_bulk_facts,
    point_of_row,
    unit_book,
)
from app.services.intake.event_files import check_rows
from app.settings import Settings


def api_outcomes(settings: Settings, points: Sequence[PointRequest]) -> list[object]:
    """Per point, what the intake decides: a refusal ``(zh, en)``, None outside, else the
    assignment (the order of `app.services.intake.reports.ReportQueue`)."""

    async def run() -> list[dict]:
        assert settings.database_url is not None
        db = IntakeDatabase(settings.database_url)
        await db.open()
        try:
            async with db.connection() as conn:
                return await gather_facts(conn, settings, points)
        finally:
            await db.close()

    out: list[object] = []
    for p, f in zip(points, asyncio.run(run()), strict=True):
        assert f["class"] is not None, (p.kind, p.code)
        if (e := component_refusal(settings.class_scheme, p, f)) is not None:
            out.append((e.message_zh, e.message_en))
        else:
            out.append(decide_point(settings, p, f))
    return out


def bulk_outcomes(
    engine: Engine, settings: Settings, points: Sequence[PointRequest]
) -> list[object]:
    """Per point, what the bulk importer decides for the same points as one file."""
    frame = pd.DataFrame(
        {
            "row": range(1, len(points) + 1),
            "class_kind": [p.kind for p in points],
            "class_code": [p.code for p in points],
            "lon": [p.lon for p in points],
            "lat": [p.lat for p in points],
            "reported_at": [p.at.isoformat() for p in points],
            "component_identifier": [p.component_identifier for p in points],
        }
    )
    with engine.connect() as conn:
        rows, problems, classes = check_rows(conn, settings, frame, datetime.now(UTC))
        assert not problems, problems[:5]
        facts, problems = gather_bulk_facts(conn, settings, rows, classes)
        units, centre = unit_book(conn)
    refused = {
        p.row: (p.reason_zh, p.reason) for p in problems if p.column == "component_identifier"
    }
    out: list[object] = []
    for row, f in zip(rows.itertuples(index=False), facts, strict=True):
        if row.row in refused:
            out.append(refused[row.row])
        elif f["grid_id"] is None:
            out.append(None)
        else:
            assert all(d["ref"][0] == "id" for d in f["duplicates"]), "rows flag each other"
            out.append(decide_row(settings, point_of_row(row), f, units, centre, {}))
    return out


def batches(points: Sequence[PointRequest], settings: Settings) -> list[list[int]]:
    """Point positions in groups where no two points of one class lie within twice the
    duplicate radius and a day more than the window of each other (greedy, first fit)."""
    reach_m = 2 * settings.duplicate_radius_m
    window = timedelta(days=settings.duplicate_window_days + 1)
    groups: list[list[int]] = []
    for i, p in enumerate(points):
        for group in groups:
            if not any(_near(p, points[j], reach_m, window) for j in group):
                group.append(i)
                break
        else:
            groups.append([i])
    return groups


def _near(a: PointRequest, b: PointRequest, reach_m: float, window: timedelta) -> bool:
    if (a.kind, a.code) != (b.kind, b.code) or abs(a.at - b.at) > window:
        return False
    dx = (a.lon - b.lon) * 111_320.0 * math.cos(math.radians(a.lat))
    dy = (a.lat - b.lat) * 110_574.0
    return math.hypot(dx, dy) <= reach_m


def compare(engine: Engine, settings: Settings, points: Sequence[PointRequest]) -> dict:
    """Run ``points`` through both paths; returns counts of what was compared and the
    differences (index, API outcome, bulk outcome) under ``"differences"``."""
    api: list = [None] * len(points)
    bulk: list = [None] * len(points)
    groups = batches(points, settings)
    for group in groups:
        chunk = [points[i] for i in group]
        for i, a, b in zip(
            group,
            api_outcomes(settings, chunk),
            bulk_outcomes(engine, settings, chunk),
            strict=True,
        ):
            api[i], bulk[i] = a, b
    assigned = [a for a in api if isinstance(a, dict)]
    return {
        "points": len(points),
        "groups": len(groups),
        "outside": sum(a is None for a in api),
        "refused": sum(isinstance(a, tuple) for a in api),
        "with_street": sum(a["street"]["id"] is not None for a in assigned),
        "with_component": sum((a["component"] or {}).get("id") is not None for a in assigned),
        "by_identifier": sum(
            "identifier" in (a["component"] or {}).get("reason_en", "") for a in assigned
        ),
        "with_duplicates": sum(bool(a["duplicates"]["cases"]) for a in assigned),
        "rules": sorted({a["unit"]["rule"] for a in assigned}),
        "differences": [
            (i, a, b) for i, (a, b) in enumerate(zip(api, bulk, strict=True)) if a != b
        ],
    }


def explain(differences: list, limit: int = 5) -> str:
    """The first differences, field by field, for an assertion message."""
    lines = []
    for i, a, b in differences[:limit]:
        if isinstance(a, dict) and isinstance(b, dict):
            for key in a.keys() | b.keys():
                if a.get(key) != b.get(key):
                    lines.append(f"point {i} {key}: API {a.get(key)!r} != bulk {b.get(key)!r}")
        else:
            lines.append(f"point {i}: API {a!r} != bulk {b!r}")
    return "\n".join(lines)
