"""Grid topology service: the validation report and the translation of refused changes.

The rules are enforced by the database (migration 0006) on every commit; this module asks it
for the full list of violations, with the deployment's tolerances (``Settings.grid_*``), and
turns a refusal into a :class:`TopologyError` (422 problem+json listing the violations).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.db.grids import topology as repo
from app.errors import DomainError
from app.settings import Settings
from gis.grids import TopologyRules, describe

# The names of the database settings and of TopologyRules' fields, and the Settings field
# each comes from.
PARAMS = {
    "grid_overlap_max_m2": "overlap_max_m2",
    "grid_gap_max_m2": "gap_max_m2",
    "grid_gap_min_width_m": "gap_min_width_m",
    "grid_outside_max_m2": "outside_max_m2",
    "grid_outside_max_ratio": "outside_max_ratio",
    "grid_sliver_min_width_m": "sliver_min_width_m",
    "grid_area_min_m2": "area_min_m2",
    "grid_area_max_m2": "area_max_m2",
}
# The name the trigger gives its refusal (RAISE … USING CONSTRAINT).
DB_CONSTRAINT = "grid_topology"


class TopologyError(DomainError):
    """A change refused because it breaks the grid topology rules; lists the violations."""

    status = 422
    type_slug = "grid-topology"
    title_zh = "违反网格拓扑规则，未做任何修改"
    title_en = "Grid topology rules broken, nothing changed"


def rules(settings: Settings) -> TopologyRules:
    """The deployment's tolerances and area band as :class:`gis.grids.topology.TopologyRules`."""
    return TopologyRules(**{field: getattr(settings, name) for name, field in PARAMS.items()})


def use_settings(session: Session, settings: Settings) -> None:
    """Make this transaction's database checks use the deployment's tolerances."""
    repo.apply_params(session, {name: getattr(settings, name) for name in PARAMS})


def check(session: Session, settings: Settings, communities: list[str]) -> list[dict]:
    """Every violation in ``communities`` as dicts with bilingual messages."""
    use_settings(session, settings)
    return [with_messages(v) for v in repo.violations(session, communities)]


def validation_report(
    session: Session,
    settings: Settings,
    *,
    area_code: str | None = None,
    severity: str | None = None,
) -> dict:
    """Every violation in every gridded community (of ``area_code``), and counts by rule."""
    try:
        communities = repo.gridded_communities(session, area_code)
        found = check(session, settings, communities)
    finally:
        session.rollback()  # read-only; the settings above were transaction-local
    if severity:
        found = [v for v in found if v["severity"] == severity]
    counts = Counter(f"{v['severity']}:{v['rule']}" for v in found)
    return {
        "communities_checked": len(communities),
        "errors": sum(v["severity"] == "error" for v in found),
        "warnings": sum(v["severity"] == "warning" for v in found),
        "by_rule": dict(sorted(counts.items())),
        "violations": found,
    }


def with_messages(violation: dict) -> dict:
    """A violation row plus ``message_zh`` / ``message_en``."""
    codes = list(violation.get("codes") or [])
    args = (violation["rule"], codes, violation.get("area_m2"), violation.get("community_code"))
    return {
        **violation,
        "codes": codes,
        "message_zh": describe(*args, lang="zh"),
        "message_en": describe(*args, lang="en"),
    }


def refused(violations: list[dict], preview: dict | None = None) -> TopologyError:
    """The 422 for a change whose result breaks the rules."""
    errors = [v for v in violations if v["severity"] == "error"]
    first_zh = "；".join(v["message_zh"] for v in errors[:3])
    first_en = "; ".join(v["message_en"] for v in errors[:3])
    more = f" (+{len(errors) - 3})" if len(errors) > 3 else ""
    return TopologyError(
        f"{len(errors)} 处违反网格拓扑规则：{first_zh}{more}",
        f"{len(errors)} grid topology violation(s): {first_en}{more}",
        violations=errors,
        **({"preview": preview} if preview else {}),
    )


def from_database(exc: DBAPIError) -> TopologyError | None:
    """The trigger's refusal at COMMIT as a TopologyError (None for any other driver error)."""
    diag = getattr(exc.orig, "diag", None)
    if diag is None or getattr(diag, "constraint_name", None) != DB_CONSTRAINT:
        return None
    primary = diag.message_primary or ""
    return TopologyError(
        f"数据库拒绝了修改：{primary}", f"the database refused the change: {primary}", violations=[]
    )
