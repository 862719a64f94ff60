"""Repository: versioned grid edits (end versions, start versions, codes, re-assignment, log).

Every statement runs in the caller's transaction; the service commits or rolls back. Shapes
travel as WKB; new versions start and old ones end at ``now()``, the transaction's time, so
one edit is one instant in the grid map's history.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import geopandas as gpd
import shapely
from shapely.geometry.base import BaseGeometry
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.db.grids.versions import SELECT as GRID_SELECT
from app.states import is_open, is_terminal

SRID = 4326


def lock_community(session: Session, community: str) -> None:
    """Serialise edits of one community (the same lock the topology trigger takes)."""
    session.execute(text("SELECT citygrid_lock_community(:c)"), {"c": community})


def community_shape(session: Session, code: str) -> BaseGeometry | None:
    """The community's polygon (EPSG:4326), or None when there is no such community."""
    wkb = session.execute(
        text("SELECT ST_AsBinary(geom) FROM admin_area WHERE code = :c AND level = 'community'"),
        {"c": code},
    ).scalar()
    return None if wkb is None else shapely.from_wkb(bytes(wkb))


def community_under(session: Session, shape: BaseGeometry) -> str | None:
    """The community holding most of ``shape`` (None when it meets none)."""
    return session.execute(
        text("""
        SELECT code FROM admin_area
        WHERE level = 'community' AND ST_Intersects(geom, ST_GeomFromWKB(:g, 4326))
        ORDER BY ST_Area(ST_Intersection(geom, ST_GeomFromWKB(:g, 4326))) DESC, code LIMIT 1
    """),
        {"g": shapely.to_wkb(shape)},
    ).scalar()


def current_community_of(session: Session, codes: Sequence[str]) -> dict[str, str]:
    """Community of each of ``codes`` that names a current grid."""
    rows = session.execute(
        text("SELECT code, community_code FROM grid WHERE valid_to IS NULL AND code = ANY(:codes)"),
        {"codes": list(codes)},
    )
    return dict(rows.all())


def current_grids(session: Session, community: str) -> gpd.GeoDataFrame:
    """The community's current grids: id, code, attributes, version and shape."""
    rows = (
        session.execute(
            text("""
        SELECT id, code, community_code, name, unit_id, supervisor, version,
               ST_AsBinary(geom) AS wkb
        FROM grid WHERE community_code = :c AND valid_to IS NULL ORDER BY code
    """),
            {"c": community},
        )
        .mappings()
        .all()
    )
    frame = {
        k: [r[k] for r in rows]
        for k in ("id", "code", "community_code", "name", "unit_id", "supervisor", "version")
    }
    geoms = [shapely.from_wkb(bytes(r["wkb"])) for r in rows]
    return gpd.GeoDataFrame(frame, geometry=geoms, crs=SRID)


def last_sequence(session: Session, community: str) -> int:
    """Highest sequence the community ever used: in any grid version or the retired codes."""
    return int(
        session.execute(
            text("""
        SELECT COALESCE(max(right(code, 3)::int), 0) FROM (
            SELECT code FROM grid WHERE community_code = :c
            UNION ALL SELECT code FROM grid_code_retired WHERE community_code = :c) used
    """),
            {"c": community},
        ).scalar_one()
    )


def last_versions(session: Session, codes: Sequence[str]) -> dict[str, int]:
    """Highest version number each of ``codes`` ever had."""
    rows = session.execute(
        text("SELECT code, max(version) FROM grid WHERE code = ANY(:codes) GROUP BY code"),
        {"codes": list(codes)},
    )
    return dict(rows.all())


def insert_edit(
    session: Session, kind: str, community: str, actor: str | None, note: str | None
) -> int:
    """Open the edit's log row; returns its id."""
    return int(
        session.execute(
            text(
                "INSERT INTO grid_edit (kind, community_code, actor, note) VALUES (:k, :c, :a, :n) "
                "RETURNING id"
            ),
            {"k": kind, "c": community, "a": actor, "n": note},
        ).scalar_one()
    )


def finish_edit(
    session: Session, edit_id: int, retired: Sequence[str], started: Sequence[str], summary: str
) -> None:
    """Record which codes ended and started and the edit's summary (JSON text)."""
    session.execute(
        text(
            "UPDATE grid_edit SET retired_codes = :r, started_codes = :s, "
            "summary = CAST(:j AS jsonb) WHERE id = :id"
        ),
        {"r": list(retired), "s": list(started), "j": summary, "id": edit_id},
    )


def end_versions(session: Session, ids: Sequence[int]) -> None:
    """End the given current versions now."""
    session.execute(
        text("UPDATE grid SET valid_to = now() WHERE id = ANY(:ids) AND valid_to IS NULL"),
        {"ids": list(ids)},
    )


def insert_version(
    session: Session,
    *,
    code: str,
    community: str,
    shape: BaseGeometry,
    version: int,
    name: str | None,
    unit_id: int | None,
    supervisor: str | None,
) -> dict:
    """Start a version of grid ``code`` now; returns id, code, version and area."""
    row = (
        session.execute(
            text("""
        INSERT INTO grid (code, community_code, name, geom, unit_id, supervisor, version,
                          valid_from)
        VALUES (:code, :c, :name, ST_Multi(ST_GeomFromWKB(:g, 4326)), :unit, :sup, :v, now())
        RETURNING id, code, version, round(area_m2::numeric, 1)::float AS area_m2
    """),
            {
                "code": code,
                "c": community,
                "name": name,
                "g": shapely.to_wkb(shape),
                "unit": unit_id,
                "sup": supervisor,
                "v": version,
            },
        )
        .mappings()
        .one()
    )
    return dict(row)


def retire_codes(session: Session, codes: Sequence[str], community: str, edit_id: int) -> None:
    """Record codes that no longer name a grid (a code retired again keeps its first date)."""
    session.execute(
        text("""
        INSERT INTO grid_code_retired (code, community_code, edit_id)
        SELECT c, :m, :e FROM unnest(CAST(:codes AS text[])) c
        ON CONFLICT (code) DO NOTHING
    """),
        {"codes": list(codes), "m": community, "e": edit_id},
    )


def record_renumbering(session: Session, edit_id: int, mapping: Mapping[str, str]) -> None:
    session.execute(
        text("""
        INSERT INTO grid_renumbering (edit_id, old_code, new_code)
        SELECT :e, o, n FROM unnest(CAST(:old AS text[]), CAST(:new AS text[])) AS m(o, n)
    """),
        {"e": edit_id, "old": list(mapping), "new": list(mapping.values())},
    )


# Open cases in changed grids (or in no grid, inside a new one) go to the current grid
# covering their point: smallest code on shared boundaries, as everywhere else.
REASSIGN_EVENTS = f"""
WITH found AS (
    SELECT e.id, e.grid_code AS from_code, g.id AS grid_id, g.code AS to_code, g.community_code
    FROM event e
    LEFT JOIN LATERAL (
        SELECT id, code, community_code FROM grid
        WHERE valid_to IS NULL AND ST_Covers(grid.geom, e.geom) ORDER BY code LIMIT 1) g ON true
    WHERE {is_open("e.status")}
      AND (e.grid_code = ANY(:old)
           OR (e.grid_code IS NULL AND EXISTS (
               SELECT 1 FROM grid n WHERE n.valid_to IS NULL AND n.code = ANY(:new)
                                      AND ST_Covers(n.geom, e.geom))))
)
UPDATE event e
SET grid_id = f.grid_id, grid_code = f.to_code,
    community_code = COALESCE(f.community_code, e.community_code),
    subdistrict_code = COALESCE(left(f.to_code, 9), e.subdistrict_code),
    district_code = COALESCE(left(f.to_code, 6), e.district_code), updated_at = now()
FROM found f WHERE e.id = f.id
RETURNING e.id, f.from_code, f.to_code, e.status
"""

REASSIGN_COMPONENTS = """
WITH found AS (
    SELECT c.id, c.grid_code AS from_code, g.code AS to_code
    FROM component c
    LEFT JOIN LATERAL (
        SELECT code FROM grid
        WHERE valid_to IS NULL AND ST_Covers(grid.geom, ST_PointOnSurface(c.geom))
        ORDER BY code LIMIT 1) g ON true
    WHERE c.status <> 'retired'
      AND (c.grid_code = ANY(:old)
           OR (c.grid_code IS NULL AND EXISTS (
               SELECT 1 FROM grid n WHERE n.valid_to IS NULL AND n.code = ANY(:new)
                                      AND ST_Covers(n.geom, ST_PointOnSurface(c.geom)))))
)
UPDATE component c SET grid_code = f.to_code, updated_at = now()
FROM found f WHERE c.id = f.id
RETURNING c.id, c.identifier, f.from_code, f.to_code
"""


def reassign_events(session: Session, old: Sequence[str], new: Sequence[str]) -> list[dict]:
    """Move open cases of the changed grids to the grid now covering them."""
    rows = session.execute(text(REASSIGN_EVENTS), {"old": list(old), "new": list(new)})
    return sorted((dict(r) for r in rows.mappings()), key=lambda r: r["id"])


def reassign_components(session: Session, old: Sequence[str], new: Sequence[str]) -> list[dict]:
    """Move components of the changed grids to the grid now covering them."""
    rows = session.execute(text(REASSIGN_COMPONENTS), {"old": list(old), "new": list(new)})
    return sorted((dict(r) for r in rows.mappings()), key=lambda r: r["id"])


def rename_in_place(session: Session, mapping: Mapping[str, str]) -> tuple[list[dict], list[dict]]:
    """Renumbering: open cases and components follow their grid's new code (same shape)."""
    params = {"old": list(mapping), "new": list(mapping.values())}
    events = (
        session.execute(
            text(f"""
        WITH m AS (SELECT o, n FROM unnest(CAST(:old AS text[]), CAST(:new AS text[])) AS m(o, n))
        UPDATE event e SET grid_code = m.n, updated_at = now(),
            grid_id = (SELECT id FROM grid WHERE code = m.n AND valid_to IS NULL)
        FROM m WHERE e.grid_code = m.o AND {is_open("e.status")}
        RETURNING e.id, m.o AS from_code, m.n AS to_code, e.status
    """),
            params,
        )
        .mappings()
        .all()
    )
    components = (
        session.execute(
            text("""
        WITH m AS (SELECT o, n FROM unnest(CAST(:old AS text[]), CAST(:new AS text[])) AS m(o, n))
        UPDATE component c SET grid_code = m.n, updated_at = now()
        FROM m WHERE c.grid_code = m.o AND c.status <> 'retired'
        RETURNING c.id, c.identifier, m.o AS from_code, m.n AS to_code
    """),
            params,
        )
        .mappings()
        .all()
    )
    key = lambda r: r["id"]  # noqa: E731
    return sorted(map(dict, events), key=key), sorted(map(dict, components), key=key)


def closed_cases_in(session: Session, codes: Sequence[str]) -> int:
    """How many finished cases point at ``codes`` (they keep the version they had)."""
    sql = f"SELECT count(*) FROM event WHERE grid_code = ANY(:codes) AND {is_terminal('status')}"
    return int(session.execute(text(sql), {"codes": list(codes)}).scalar_one())


def log_case_moves(
    session: Session, moves: Sequence[dict], edit_id: int, actor: str | None
) -> None:
    """One case-log line per moved case: the grid changed under it (网格调整)."""
    moved = [m for m in moves if m["from_code"] != m["to_code"]]
    if not moved:
        return
    session.execute(
        text("""
        INSERT INTO case_log (event_id, actor, action, note, data)
        SELECT id, :actor, 'regrid', '网格调整 / grid changed: ' || COALESCE(f, '-') || ' → '
               || COALESCE(t, '-'), jsonb_build_object('grid_edit', :edit, 'from', f, 'to', t)
        FROM unnest(CAST(:ids AS bigint[]), CAST(:froms AS text[]), CAST(:tos AS text[]))
             AS m(id, f, t)
    """),
        {
            "actor": actor,
            "edit": edit_id,
            "ids": [m["id"] for m in moved],
            "froms": [m["from_code"] for m in moved],
            "tos": [m["to_code"] for m in moved],
        },
    )


def grid_features(session: Session, ids: Sequence[int]) -> list[dict]:
    """The given grid versions as rows with a GeoJSON ``geometry`` (the grids list's shape)."""
    if not ids:
        return []
    rows = session.execute(
        text(GRID_SELECT + " WHERE g.id = ANY(:ids) ORDER BY g.code"), {"ids": list(ids)}
    ).mappings()
    return [dict(r) for r in rows]


def history(session: Session, code: str) -> dict:
    """Every version of ``code``, the edits that touched it, renumberings and retirement."""
    versions = (
        session.execute(
            text(GRID_SELECT + " WHERE g.code = :code ORDER BY g.valid_from"), {"code": code}
        )
        .mappings()
        .all()
    )
    edits = (
        session.execute(
            text("""
        SELECT id, kind, at, actor, note, retired_codes, started_codes, summary
        FROM grid_edit WHERE :code = ANY(retired_codes) OR :code = ANY(started_codes)
        ORDER BY at, id
    """),
            {"code": code},
        )
        .mappings()
        .all()
    )
    renumbered = (
        session.execute(
            text("""
        SELECT r.edit_id, e.at, r.old_code, r.new_code FROM grid_renumbering r
        JOIN grid_edit e ON e.id = r.edit_id
        WHERE r.old_code = :code OR r.new_code = :code ORDER BY e.at
    """),
            {"code": code},
        )
        .mappings()
        .all()
    )
    retired = (
        session.execute(
            text("SELECT retired_at, edit_id FROM grid_code_retired WHERE code = :code"),
            {"code": code},
        )
        .mappings()
        .first()
    )
    return {
        "versions": [dict(v) for v in versions],
        "edits": [dict(e) for e in edits],
        "renumbered": [dict(r) for r in renumbered],
        "retired": dict(retired) if retired else None,
    }
