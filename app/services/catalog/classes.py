"""Classification service: the standards' tables loaded as data, and a city's own classes.

Cities extend the schemes (local extension majors such as 21 扩展部件, extra minors under a
standard major) through ``POST /api/v1/classes`` or ``citygrid classes import FILE``. Both run
:func:`check_classes`: code format of the scheme, the major exists or is created with a
name, no clash with a stored class. A class identical to a stored one is skipped, so
importing the same file twice changes nothing.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from sqlalchemy import Connection, Engine

from app import PROJECT_ROOT
from app.db.catalog import classes as repo
from app.errors import ConflictError, ImportRejected, InvalidInputError, NotFoundError, RowProblem
from gis.io import SourceError, read_table

CLASS_DIR = PROJECT_ROOT / "data" / "classification"
# Point-like classes are the default; these are drawn as lines or areas in a census.
LINE_CLASSES = {
    "2013": {"0211", "0216", "0408", "0604", "0606"},
    # guardrails, noise barriers, railings, flood walls and the exposed pipelines
    "2026": {"01056", "01057", "01061", "01070", "01071", "02017", "02022", "02024", "04008"},
}
AREA_CLASSES = {
    "2013": {"0201", "0405", "0602", "0302"},
    "2026": {"02001", "03003", "04013", "04014"},  # parking lots, septic tanks, green, woodland
}


def read_standard_table(scheme: str, path: Path | None = None) -> list[dict]:
    """Rows of ``classification_<scheme>.csv`` shaped for the classification table."""
    path = path or CLASS_DIR / f"classification_{scheme}.csv"
    rows = []
    with open(path, encoding="utf-8") as f:
        for rec in csv.DictReader(f):
            code = rec["minor_code"].strip()
            geometry_type = None
            if rec["kind"] == "component":
                geometry_type = (
                    "LineString"
                    if code in LINE_CLASSES[scheme]
                    else "Polygon"
                    if code in AREA_CLASSES[scheme]
                    else "Point"
                )
            rows.append(
                {
                    "scheme": scheme,
                    "kind": rec["kind"].strip(),
                    "code": code,
                    "major_code": rec["major_code"].strip(),
                    "major_name": rec["major_name_zh"].strip(),
                    "name": rec["minor_name_zh"].strip(),
                    "name_en": rec["name_en"].strip() or None,
                    "geometry_type": geometry_type,
                    "is_custom": False,
                    "source": rec["source"].strip(),
                }
            )
    return rows


def load_standard_classes(engine: Engine) -> dict[str, int]:
    """Load both schemes' tables (idempotent); returns rows per scheme."""
    counts = {}
    with engine.begin() as conn:
        for scheme in ("2013", "2026"):
            counts[scheme] = repo.upsert_classes(conn, read_standard_table(scheme))
    return counts


# -- a city's own classes ---------------------------------------------------------------------

CLASS_DIGITS = {"2013": 4, "2026": 5}
KINDS = ("component", "event")
# What a class expects a component to be drawn as; the API also speaks point/line/polygon.
GEOMETRY_TYPES = {
    "point": "Point",
    "line": "LineString",
    "linestring": "LineString",
    "polygon": "Polygon",
    "area": "Polygon",
}
GEOMETRY_NAMES = {"Point": "point", "LineString": "line", "Polygon": "polygon"}
# CSV headers of the standard tables are accepted as well as the API's field names.
CSV_ALIASES = {
    "minor_code": "code",
    "minor_name_zh": "name",
    "major_name_zh": "major_name",
    "name_zh": "name",
}
FIELDS = ("kind", "code", "major_code", "major_name", "name", "name_en", "geometry_type", "source")


def list_classes(
    engine: Engine,
    scheme: str,
    kind: str | None = None,
    custom: bool | None = None,
    major: str | None = None,
) -> list[dict]:
    """Classes of ``scheme`` with ``geometry`` (point/line/polygon) for component classes."""
    with engine.connect() as conn:
        rows = repo.list_classes(conn, scheme, kind)
    return [
        {**row, "geometry": GEOMETRY_NAMES.get(row["geometry_type"])}
        for row in rows
        if (custom is None or row["is_custom"] == custom)
        and (major is None or row["major_code"] == major)
    ]


def get_class(engine: Engine, scheme: str, code: str, kind: str | None = None) -> dict:
    """One class by code (both kinds may share a code: ``kind`` picks one)."""
    rows = [r for r in list_classes(engine, scheme, kind) if r["code"] == code]
    if not rows:
        raise NotFoundError(
            f"{scheme} 分类中没有代码 {code}", f"no class {code} in the {scheme} scheme"
        )
    if len(rows) > 1:
        raise InvalidInputError(
            f"代码 {code} 既是部件分类也是事件分类，请指定 kind",
            f"{code} is both a component and an event class; give kind",
        )
    return rows[0]


def create_class(engine: Engine, scheme: str, values: dict) -> dict:
    """Add one city class after :func:`check_classes`; ConflictError when the code is taken."""
    with engine.begin() as conn:
        rows, problems, skipped = check_classes([values], scheme, _stored(conn, scheme))
        if skipped or any("already exists" in p.reason for p in problems):
            raise ConflictError(
                f"{scheme} 分类中已有代码 {values.get('code')}",
                f"class {values.get('code')} already exists in the {scheme} scheme",
                problems=[p.__dict__ for p in problems],
            )
        if problems:
            raise InvalidInputError(
                "; ".join(p.reason for p in problems), problems=[p.__dict__ for p in problems]
            )
        repo.upsert_classes(conn, rows)
    return get_class(engine, scheme, rows[0]["code"], rows[0]["kind"])


def import_classes(engine: Engine, scheme: str, path: Path) -> dict[str, int]:
    """Add the classes of a CSV file, all-or-nothing: (written, unchanged) counts."""
    try:
        table = read_table(Path(path))
    except SourceError as exc:
        raise ImportRejected([RowProblem(None, str(exc))], source=Path(path).name) from exc
    table = table.rename(
        columns=lambda c: CSV_ALIASES.get(str(c).strip().lower(), str(c).strip().lower())
    )
    records = [
        {k: (v.strip() or None) if isinstance(v, str) else v for k, v in rec.items()}
        for rec in table.to_dict("records")
    ]
    with engine.begin() as conn:
        rows, problems, skipped = check_classes(records, scheme, _stored(conn, scheme))
        if problems or not records:
            raise ImportRejected(
                problems or [RowProblem(None, "the file has no data rows")], source=Path(path).name
            )
        repo.upsert_classes(conn, rows)
    return {"written": len(rows), "unchanged": skipped}


def check_classes(
    records: list[dict], scheme: str, stored: dict[tuple[str, str], dict]
) -> tuple[list[dict], list[RowProblem], int]:
    """Rows ready to insert, the problems of ``records`` (rows 1-based), and how many are
    identical to stored classes (skipped).

    ``stored`` maps (kind, code) of ``scheme`` to the stored class rows.
    """
    digits = CLASS_DIGITS[scheme]
    majors = {(k, r["major_code"]): r["major_name"] for (k, _), r in stored.items()}
    problems: list[RowProblem] = []
    out: list[dict] = []
    skipped = 0
    seen: set[tuple[str, str]] = set()
    for row_no, rec in enumerate(records, start=1):

        def bad(reason: str, column: str | None = None, _row: int = row_no) -> None:
            problems.append(RowProblem(_row, reason, column))

        rec = {f: (str(rec[f]).strip() or None) if rec.get(f) is not None else None for f in FIELDS}
        kind, code = rec["kind"] or "component", rec["code"]
        if kind not in KINDS:
            bad(f"kind {kind!r} is not one of {', '.join(KINDS)}", "kind")
            continue
        if not code or not re.fullmatch(rf"\d{{{digits}}}", code):
            bad(
                f"code {code!r} must be {digits} digits in the {scheme} scheme "
                f"(major 2 + minor {digits - 2})",
                "code",
            )
            continue
        major = code[:2]
        if rec["major_code"] and rec["major_code"] != major:
            bad(
                f"major_code {rec['major_code']!r} differs from the first two digits of {code}",
                "major_code",
            )
        if not rec["name"]:
            bad("name (Chinese name) is required", "name")
        known_major = majors.get((kind, major))
        if known_major is None and not rec["major_name"]:
            bad(
                f"major {major} does not exist for {kind} classes: give major_name to create it",
                "major_name",
            )
        elif known_major is not None and rec["major_name"] and rec["major_name"] != known_major:
            bad(f"major {major} is {known_major!r}, not {rec['major_name']!r}", "major_name")
        geometry = _geometry_type(kind, rec["geometry_type"], bad)
        if (kind, code) in seen:
            bad(f"duplicate class {kind} {code} in the file", "code")
        seen.add((kind, code))
        row = {
            "scheme": scheme,
            "kind": kind,
            "code": code,
            "major_code": major,
            "major_name": rec["major_name"] or known_major,
            "name": rec["name"],
            "name_en": rec["name_en"],
            "geometry_type": geometry,
            "is_custom": True,
            "source": rec["source"] or "local",
        }
        old = stored.get((kind, code))
        if old is not None:
            same = all(old[k] == row[k] for k in ("major_name", "name", "name_en", "geometry_type"))
            if same:
                skipped += 1
            else:
                bad(
                    f"{kind} class {code} already exists as {old['name']!r} "
                    f"({'custom' if old['is_custom'] else 'standard'})",
                    "code",
                )
            continue
        majors.setdefault((kind, major), row["major_name"])
        out.append(row)
    return out, problems, skipped


def _geometry_type(kind: str, value: str | None, bad) -> str | None:
    if kind == "event":
        if value:
            bad("event classes have no geometry_type (events are points)", "geometry_type")
        return None
    geometry = GEOMETRY_TYPES.get((value or "point").lower())
    if geometry is None:
        bad(f"geometry_type {value!r} is not one of point, line, polygon", "geometry_type")
    return geometry


def _stored(conn: Connection, scheme: str) -> dict[tuple[str, str], dict]:
    return {(r["kind"], r["code"]): r for r in repo.list_classes(conn, scheme)}
