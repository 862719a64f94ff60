"""Repository: the grid topology rules as the database checks them (migration 0006)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import text
from sqlalchemy.orm import Session


def apply_params(session: Session, params: Mapping[str, float]) -> None:
    """Tolerances for this transaction (``citygrid.grid_*``), read by the check and trigger."""
    for name, value in params.items():
        session.execute(
            text("SELECT set_config(:name, :value, true)"),
            {"name": f"citygrid.{name}", "value": repr(float(value))},
        )


def gridded_communities(session: Session, prefix: str | None = None) -> list[str]:
    """Communities having current grids (whose code starts with ``prefix``), in code order."""
    sql = "SELECT DISTINCT community_code FROM grid WHERE valid_to IS NULL"
    params: dict = {}
    if prefix:
        sql += " AND community_code LIKE :prefix || '%'"
        params["prefix"] = prefix
    return list(session.execute(text(sql + " ORDER BY 1"), params).scalars())


VIOLATIONS = """
SELECT t.rule, t.severity, t.community_code, t.codes, t.area_m2, t.width_m,
       ST_AsGeoJSON(t.geom, 7)::json AS geometry
FROM unnest(CAST(:communities AS text[])) AS c(code)
CROSS JOIN LATERAL citygrid_grid_topology(c.code) t
ORDER BY t.community_code, t.severity, t.rule, t.codes
"""


def violations(session: Session, communities: Sequence[str]) -> list[dict]:
    """Every violation (errors and warnings) in ``communities``, offending shape as GeoJSON."""
    if not communities:
        return []
    rows = session.execute(text(VIOLATIONS), {"communities": list(communities)}).mappings()
    return [dict(r) for r in rows]


def coverage(session: Session, communities: Sequence[str]) -> dict[str, dict]:
    """The recorded coverage state of ``communities`` (complete since when, uncovered m²)."""
    rows = session.execute(
        text(
            "SELECT community_code, complete_since, uncovered_m2, checked_at FROM grid_coverage "
            "WHERE community_code = ANY(:codes)"
        ),
        {"codes": list(communities)},
    ).mappings()
    return {r["community_code"]: dict(r) for r in rows}
