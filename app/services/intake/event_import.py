"""Bulk event import (hotline exports, history): validate, assign exactly as the API does,
and write with COPY in one transaction.

The API gathers assignment facts with one SQL query per request (`app.db.intake.assignment`); the
import gathers the same facts for a whole file in memory (`app.services.intake.bulk_assignment`) and
hands every row to the same `decide()` the API uses. tests/test_assignment_parity.py checks
both paths agree, field by field.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Connection, Engine
from tqdm import tqdm

from app.db.intake import event_import as repo
from app.errors import ImportRejected, RowProblem
from app.services.intake.assignment import assignment_json
from app.services.intake.bulk_assignment import (
    decide_row,
    gather_bulk_facts,
    point_of_row,
    unit_book,
)
from app.services.intake.event_files import check_rows, read_events
from app.settings import Settings

CHUNK = 10_000
ANALYZE_AFTER = 50_000


@dataclass
class EventImportOptions:
    """How to read an events file; ``columns`` maps our field names to the file's."""

    columns: dict[str, str] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)
    lon_column: str | None = None
    lat_column: str | None = None
    skip_invalid: bool = False
    rejects_path: Path | None = None


@dataclass
class EventImportReport:
    source: str
    rows_read: int
    rows_written: int
    rows_rejected: int
    rows_already_imported: int
    seconds: float
    rejects_path: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)


def import_events(
    engine: Engine,
    settings: Settings,
    path: Path,
    options: EventImportOptions | None = None,
    progress: bool = False,
) -> EventImportReport:
    """Import an events file (CSV, GeoJSON, NDJSON); all-or-nothing unless ``skip_invalid``."""
    options = options or EventImportOptions()
    frame, problems = read_events(path, options.columns, options.lon_column, options.lat_column)
    return import_event_frame(engine, settings, frame, options, progress, path.name, problems)


def import_event_frame(
    engine: Engine,
    settings: Settings,
    frame: pd.DataFrame,
    options: EventImportOptions | None = None,
    progress: bool = False,
    source: str = "<frame>",
    problems: list[RowProblem] | None = None,
) -> EventImportReport:
    """Import events already read into a frame (``row``, ``lon``, ``lat`` and field columns)."""
    options = options or EventImportOptions()
    started = time.perf_counter()
    timings: dict[str, float] = {}
    problems = list(problems or [])
    now = datetime.now(UTC)
    with engine.begin() as conn:
        rows, more, classes = check_rows(conn, settings, _with_defaults(frame, options), now)
        problems += more
        t = time.perf_counter()
        timings["validate_s"] = t - started
        already = repo.existing_keys(conn, rows["idempotency_key"].dropna().tolist())
        # The import stores the file's reporter as reported_by, so its keys are scoped by it.
        skip = np.zeros(len(rows), dtype=bool)
        if already:  # (a first import of a file skips this walk over its rows)
            skip = np.array(
                [
                    (key, None if pd.isna(by) else by) in already
                    for key, by in zip(rows["idempotency_key"], rows["reporter"], strict=True)
                ],
                dtype=bool,
            )
        rows = rows[~skip & ~rows["row"].isin({p.row for p in problems})].reset_index(drop=True)
        facts, more = gather_bulk_facts(conn, settings, rows, classes)
        problems += more
        timings["assign_s"] = time.perf_counter() - t
        rejected_rows = {p.row for p in problems}
        if problems and not options.skip_invalid:
            raise ImportRejected(problems=sorted(problems, key=_order), source=source)
        keep = ~rows["row"].isin(rejected_rows).to_numpy()
        t = time.perf_counter()
        written = _write(conn, settings, rows, facts, keep, source, progress)
        timings["write_s"] = time.perf_counter() - t
    if written >= ANALYZE_AFTER:
        # Fresh statistics at once: the intake's prepared plans and the hotspot queries were
        # 8x slower on a table that had just doubled until autovacuum caught up.
        with engine.begin() as conn:
            repo.analyze(conn)
    rejects = _write_rejects(options.rejects_path, frame, problems) if problems else None
    return EventImportReport(
        source,
        len(frame),
        written,
        len(rejected_rows),
        int(skip.sum()),
        time.perf_counter() - started,
        rejects,
        timings,
    )


def _order(p: RowProblem) -> tuple[int, str]:
    return (p.row or 0, p.reason)


def _with_defaults(frame: pd.DataFrame, options: EventImportOptions) -> pd.DataFrame:
    frame = frame.copy()
    for column, value in options.defaults.items():
        if column not in frame:
            frame[column] = value
        else:
            frame[column] = frame[column].where(frame[column].notna(), value)
    return frame


# -- assignment -------------------------------------------------------------------------------


def _write(
    conn: Connection,
    settings: Settings,
    rows: pd.DataFrame,
    facts: list[dict],
    keep: np.ndarray,
    source: str,
    progress: bool,
) -> int:
    """COPY the kept rows; ids are reserved first so duplicates can name rows of this file."""
    kept = np.flatnonzero(keep)
    if not len(kept):
        return 0
    ids = repo.reserve_event_ids(conn, len(kept))
    position_id = dict(zip(kept.tolist(), ids, strict=True))
    units, centre = unit_book(conn)
    bar = tqdm(total=len(kept), unit="event", desc="writing events", disable=not progress)
    written = 0
    # Two cores at work: while PostgreSQL takes in one chunk (COPY, index and key upkeep),
    # this process decides and encodes the next. Only the copier thread touches ``conn``
    # meanwhile; one transaction throughout, so a failing chunk still rolls back the file.
    with ThreadPoolExecutor(1, thread_name_prefix="copy") as copier:
        pending = None
        for lo in range(0, len(kept), CHUNK):
            positions = kept[lo : lo + CHUNK]
            chunk = rows.iloc[positions]
            events = list(
                _event_rows(
                    settings,
                    chunk,
                    [facts[p] for p in positions],
                    ids[lo : lo + CHUNK],
                    position_id,
                    units,
                    centre,
                )
            )
            logs = repo.csv_buffer(
                (e[0], e[8], "import", "reported", f"{source} row {r}")
                for e, r in zip(events, chunk["row"], strict=True)
            )
            buffers = (repo.csv_buffer(events), logs, len(chunk))
            if pending is not None:
                written += _copied(pending, bar)
            pending = copier.submit(_copy_chunk, conn, *buffers)
        if pending is not None:
            written += _copied(pending, bar)
    bar.close()
    return written


def _copy_chunk(conn: Connection, events, logs, n: int) -> tuple[int, int]:
    copied = repo.copy_csv(conn, "event", repo.EVENT_COPY_COLUMNS, events)
    repo.copy_csv(conn, "case_log", ("event_id", "actor", "action", "to_status", "note"), logs)
    return copied, n


def _copied(pending, bar) -> int:
    copied, n = pending.result()
    bar.update(n)
    return copied


def _event_rows(settings, chunk, facts, ids, position_id, units, centre) -> Iterator[tuple]:
    for row, f, event_id in zip(chunk.itertuples(index=False), facts, ids, strict=True):
        point = point_of_row(row)
        a = decide_row(settings, point, f, units, centre, position_id)
        photos = row.photo_urls.split(";") if isinstance(row.photo_urls, str) else None  # or NaN
        comp = a.get("component") or {}
        yield (
            event_id,
            settings.class_scheme,
            row.class_kind,
            row.class_code,
            f"SRID=4326;POINT({float(row.lon)!r} {float(row.lat)!r})",
            row.location_text,
            row.description,
            row.source,
            row.reporter,
            "{" + ",".join(json.dumps(p.strip()) for p in photos) + "}" if photos else None,
            row.idempotency_key,
            row.observed_at.isoformat(),
            point.at.isoformat(),
            f["grid_id"],
            f["grid_code"],
            f["community_code"],
            f["subdistrict_code"],
            f["district_code"],
            a["street"].get("id"),
            a["street"].get("distance_m"),
            comp.get("id"),
            comp.get("distance_m"),
            a["unit"].get("id"),
            assignment_json(a),
            None,  # deadline_at: the workflow sets it at dispatch (派遣), not intake
            "reported",
            row.reporter,
        )


def _write_rejects(
    path: Path | None, frame: pd.DataFrame, problems: list[RowProblem]
) -> Path | None:
    if path is None:
        return None
    reasons = pd.DataFrame(
        [{"row": p.row, "column": p.column, "reason": p.reason} for p in problems]
    )
    if any(p.reason_zh for p in problems):  # the problems the API also answers in Chinese
        reasons["reason_zh"] = [p.reason_zh for p in problems]
    merged = reasons.merge(frame, on="row", how="left")
    merged.to_csv(path, index=False)
    return path
