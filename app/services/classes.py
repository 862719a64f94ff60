"""Classification service: the standards' tables loaded as data."""

from __future__ import annotations

import csv
from pathlib import Path

from sqlalchemy import Engine

from app import PROJECT_ROOT
from app.db import classes as repo

CLASS_DIR = PROJECT_ROOT / "data" / "classification"
# Point-like classes are the default; these are drawn as lines or areas in a census.
LINE_CLASSES = {"2013": {"0211", "0216", "0408", "0604", "0606"}, "2026": set()}
AREA_CLASSES = {"2013": {"0201", "0405", "0602", "0302"}, "2026": set()}


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
                    "LineString" if code in LINE_CLASSES[scheme]
                    else "Polygon" if code in AREA_CLASSES[scheme] else "Point"
                )
            rows.append(
                {
                    "scheme": scheme, "kind": rec["kind"].strip(), "code": code,
                    "major_code": rec["major_code"].strip(), "major_name": rec["major_name_zh"].strip(),
                    "name": rec["minor_name_zh"].strip(), "name_en": rec["name_en"].strip() or None,
                    "geometry_type": geometry_type, "is_custom": False, "source": rec["source"].strip(),
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
