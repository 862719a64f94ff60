"""Assignment: where an event lies, which street and component it concerns, who must act.

The database gathers the facts (`app.db.intake.assignment`); this module decides, in the order the
rules are written down, and explains each decision in a sentence (Chinese and English).
Unit precedence, first match wins: the component's maintainer, then its owner; the most
specific dispatch rule for (class, area); the grid's own unit; the sub-district office
(属地兜底); the command centre when a sub-district has no office.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import anyio
import orjson

from app.db.intake import assignment as repo
from app.db.pool import IntakeConnection, IntakeDatabase
from app.errors import ComponentClassError, DomainError, UnknownClassError, UnknownComponentError
from app.services.workflow.limits import intake_deadline
from app.settings import Settings

AREA_LEVEL = {
    6: ("区", "district"),
    9: ("街道", "sub-district"),
    12: ("社区", "community"),
    15: ("网格", "grid"),
}
# A report is decided on the event loop; a bigger preview (~20 µs a point) in a worker thread,
# so the loop keeps answering meanwhile.
DECIDE_ON_LOOP = 50
# PostgreSQL runs a statement on one core: a big preview is split over two connections.
SPLIT_FROM = 200
SPLIT_PARTS = 2


@dataclass(frozen=True)
class PointRequest:
    """One point to assign: where, what class, optionally which component, and when."""

    lon: float
    lat: float
    kind: str
    code: str
    at: datetime
    component_identifier: str | None = None


def _why(zh: str, en: str) -> dict[str, str]:
    return {"reason": zh, "reason_en": en}


def _fmt_m(value: float) -> str:
    return f"{value:.1f}"


async def assign_points(
    db: IntakeDatabase, settings: Settings, points: Sequence[PointRequest]
) -> list[dict | None]:
    """Assignments for ``points`` in order; None where the point is outside every grid.
    Raises UnknownClassError naming every class the scheme does not have."""
    size = max(1, len(points) if len(points) < SPLIT_FROM else -(-len(points) // SPLIT_PARTS))

    async def part(chunk: Sequence[PointRequest]) -> list[dict]:
        async with db.connection() as conn:
            return await gather_facts(conn, settings, chunk)

    parts = await asyncio.gather(*(part(points[i : i + size]) for i in range(0, len(points), size)))
    facts = [f for p in parts for f in p]
    missing = {(p.kind, p.code) for p, f in zip(points, facts, strict=True) if f["class"] is None}
    if missing:
        raise unknown_classes(settings.class_scheme, missing)
    refused = [
        (i, e)
        for i, (p, f) in enumerate(zip(points, facts, strict=True))
        if (e := component_refusal(settings.class_scheme, p, f)) is not None
    ]
    if refused:
        raise refused_points(refused)
    if len(points) > DECIDE_ON_LOOP:
        return await anyio.to_thread.run_sync(_decide_all, settings, points, facts)
    return _decide_all(settings, points, facts)


async def gather_facts(
    conn: IntakeConnection,
    settings: Settings,
    points: Sequence[PointRequest],
) -> list[dict]:
    """The facts behind each point's assignment, in order (one query for all)."""
    return await repo.gather_facts(
        conn,
        scheme=settings.class_scheme,
        lon=[p.lon for p in points],
        lat=[p.lat for p in points],
        kind=[p.kind for p in points],
        code=[p.code for p in points],
        ident=[p.component_identifier for p in points],
        at=[p.at for p in points],
        street_m=settings.street_max_distance_m,
        component_m=settings.component_radius_m,
        dup_m=settings.duplicate_radius_m,
        window_s=settings.duplicate_window_days * 86400,
    )


def decide_point(settings: Settings, point: PointRequest, f: dict) -> dict | None:
    """The assignment of one point from its facts; None outside every grid. Its class must
    exist (``f["class"]``)."""
    return decide(settings, point, f, f["class"], _units(f), f["centre"]) if f["grid_id"] else None


def _decide_all(
    settings: Settings, points: Sequence[PointRequest], facts: list[dict]
) -> list[dict | None]:
    return [decide_point(settings, p, f) for p, f in zip(points, facts, strict=True)]


def _units(f: dict) -> dict[int, dict]:
    return {int(k): v for k, v in (f["units"] or {}).items()}  # JSON keys are strings


def unknown_classes(scheme: str, keys: Iterable[tuple[str, str]]) -> UnknownClassError:
    """422 naming each (kind, code) the class scheme does not have."""
    missing = sorted(keys)
    names = ", ".join(f"{k} {c}" for k, c in missing)
    return UnknownClassError(
        f"分类方案 {scheme} 中没有这些分类：{names}",
        f"unknown class(es) in scheme {scheme}: {names}",
        unknown=[{"kind": k, "code": c} for k, c in missing],
    )


KIND_WORDS = {"component": ("部件", "component", "BJ"), "event": ("事件", "event", "SJ")}


def component_refusal(scheme: str, point: PointRequest, f: dict) -> DomainError | None:
    """Why a report naming a component (部件标识码) cannot be taken; None when it names none,
    or a registered component of the report's own class. The one rule for the intake,
    Open311, the preview and the bulk importer; ``f`` needs the component and ``class`` facts.

    An *event* report naming a component is refused too: event and component classes are
    separate lists, so the component is always "of another class", and taking it would hand
    the event to the component's maintainer instead of the event's own unit.
    """
    ident = point.component_identifier
    if ident is None:
        return None
    if f["component_id"] is None:
        return UnknownComponentError(
            f"部件标识码 {ident} 未登记（没有这个部件），未保存：请核对标识码，或不填标识码按位置上报",
            f"no component with identifier {ident} is registered; nothing was stored: "
            "check the identifier, or leave it out to report by location",
            identifier=ident,
        )
    theirs = (f["component_scheme"], "component", f["component_class_code"])
    if theirs == (scheme, point.kind, point.code):
        return None
    cls = f["class"]
    zh_kind, en_kind, prefix = KIND_WORDS[point.kind]
    other = "" if theirs[0] == scheme else f"，{theirs[0]} 方案"
    other_en = "" if theirs[0] == scheme else f", scheme {theirs[0]}"
    comp_en = f["component_class_name_en"] or f["component_class_name"]
    return ComponentClassError(
        f"部件标识码 {ident} 是部件「{f['component_class_name']}」（BJ{theirs[2]}{other}），"
        f"不是所报的{zh_kind}「{cls['name']}」（{prefix}{point.code}），未保存："
        f"请按部件「{f['component_class_name']}」上报，或核对标识码",
        f"component {ident} is a {comp_en} (BJ{theirs[2]}{other_en}), but the report's class "
        f"is {en_kind} {cls['name_en'] or cls['name']} ({prefix}{point.code}); nothing was "
        f"stored: report it as {comp_en} (BJ{theirs[2]}) or check the identifier",
        identifier=ident,
        component_class={"scheme": theirs[0], "kind": "component", "code": theirs[2]},
        reported_class={"scheme": scheme, "kind": point.kind, "code": point.code},
    )


def refused_points(refused: Sequence[tuple[int, DomainError]]) -> DomainError:
    """One 422 for a preview naming every refused point by its index (like unknown classes)."""
    return type(refused[0][1])(
        "；".join(f"points[{i}]：{e.message_zh}" for i, e in refused),
        "; ".join(f"points[{i}]: {e.message_en}" for i, e in refused),
        points=[{"index": i, "type": e.type_slug, **e.extra} for i, e in refused],
    )


def decide(
    settings: Settings,
    point: PointRequest,
    f: dict,
    cls: dict,
    units: dict[int, dict],
    centre: dict | None,
) -> dict:
    """The assignment object for one point from its gathered facts."""
    return {
        "grid": {
            "id": f["grid_id"],
            "code": f["grid_code"],
            "version": f["grid_version"],
            **_why(
                f"位于单元网格 {f['grid_code']}（第 {f['grid_version']} 版）",
                f"inside grid {f['grid_code']} (version {f['grid_version']})",
            ),
        },
        "community": {"code": f["community_code"], "name": f["community_name"]},
        "subdistrict": {"code": f["subdistrict_code"], "name": f["subdistrict_name"]},
        "district": {"code": f["district_code"], "name": f["district_name"]},
        "street": _street(settings, f),
        "component": _component(settings, point, f, cls),
        "unit": _unit(f, cls, units, centre),
        "deadline": _deadline(settings, point, cls),
        "duplicates": _duplicates(settings, f),
    }


def _street(settings: Settings, f: dict) -> dict:
    limit = _fmt_m(settings.street_max_distance_m)
    if f["street_id"] is None:
        return {"id": None, **_why(f"{limit} 米内无街道", f"no street within {limit} m")}
    d = _fmt_m(f["street_distance_m"])
    return {
        "id": f["street_id"],
        "segment_id": f["segment_id"],
        "name": f["street_name"],
        "grade": f["street_grade"],
        "distance_m": round(f["street_distance_m"], 1),
        **_why(
            f"最近街道 {f['street_name']}，距 {d} 米", f"nearest street {f['street_name']}, {d} m"
        ),
    }


def _component(settings: Settings, point: PointRequest, f: dict, cls: dict) -> dict | None:
    if point.kind != "component":  # an event naming a component is refused beforehand
        return None
    if f["component_id"] is None:
        r = _fmt_m(settings.component_radius_m)
        return {
            "id": None,
            **_why(
                f"{r} 米内无同类部件（{cls['name']}）",
                f"no {cls['name_en'] or cls['name']} within {r} m",
            ),
        }
    d = _fmt_m(f["component_distance_m"])
    base = {
        "id": f["component_id"],
        "identifier": f["component_identifier"],
        "class_code": f["component_class_code"],
        "status": f["component_status"],
        "distance_m": round(f["component_distance_m"], 1),
    }
    if f["component_matched_by"] == "identifier":
        return {
            **base,
            **_why(
                f"按上报的部件标识码 {f['component_identifier']}（距 {d} 米）",
                f"by the reported identifier {f['component_identifier']} ({d} m away)",
            ),
        }
    return {
        **base,
        **_why(
            f"最近的{cls['name']} {f['component_identifier']}，距 {d} 米",
            f"nearest {cls['name_en'] or cls['name']} {f['component_identifier']}, {d} m",
        ),
    }


def _unit(f: dict, cls: dict, units: dict[int, dict], centre: dict | None) -> dict:
    def out(unit: dict | None, rule: str, zh: str, en: str, **extra) -> dict:
        fields = {k: unit[k] for k in ("id", "code", "name", "kind")} if unit else {"id": None}
        return {**fields, "rule": rule, **extra, **_why(zh, en)}

    comp = f["component_identifier"]
    for key, rule, zh_role, en_role in (
        ("maintainer_unit_id", "component_maintainer", "养护单位", "maintainer"),
        ("owner_unit_id", "component_owner", "权属单位", "owner"),
    ):
        if f[key] is not None:
            u = units[f[key]]
            return out(
                u,
                rule,
                f"部件 {comp} 的{zh_role} → {u['name']}",
                f"{en_role} of component {comp} → {u['name']}",
            )
    if f["rule_id"] is not None:
        u = units[f["rule_unit_id"]]
        zh_level, en_level = AREA_LEVEL[len(f["rule_area_code"])]
        return out(
            u,
            "dispatch_rule",
            f"规则 {f['rule_id']}：{cls['name']} 在{zh_level} {f['rule_area_code']} → {u['name']}",
            f"rule {f['rule_id']}: {cls['name']} in {en_level} {f['rule_area_code']} → {u['name']}",
            rule_id=f["rule_id"],
        )
    if f["grid_unit_id"] is not None:
        u = units[f["grid_unit_id"]]
        return out(
            u,
            "grid_unit",
            f"网格 {f['grid_code']} 的责任单位 → {u['name']}",
            f"responsible unit of grid {f['grid_code']} → {u['name']}",
        )
    if f["office_unit_id"] is not None:
        u = units[f["office_unit_id"]]
        return out(
            u,
            "fallback",
            f"属地兜底：{f['subdistrict_name']} → {u['name']}",
            f"territorial fallback (属地兜底): {f['subdistrict_name']} → {u['name']}",
        )
    if centre is not None:
        return out(
            centre,
            "command_centre",
            f"街道 {f['subdistrict_code']} 无办事处，由 {centre['name']} 兜底",
            f"sub-district {f['subdistrict_code']} has no office → {centre['name']}",
        )
    return out(
        None,
        "unowned",
        "无可派遣单位：请为该街道登记办事处",
        "no unit can take this case: register the sub-district's office",
    )


def _deadline(settings: Settings, point: PointRequest, cls: dict) -> dict:
    # The workflow's rule: the class's limit as the time-limit table has it, the handling
    # clock starting at dispatch (no deadline yet), the first stage's due time.
    return intake_deadline(settings, cls, point.at)


def _duplicates(settings: Settings, f: dict) -> dict:
    cases = f["duplicates"] or []
    r, w = _fmt_m(settings.duplicate_radius_m), f"{settings.duplicate_window_days:g}"
    if not cases:
        return {
            "cases": [],
            **_why(
                f"{r} 米、{w} 天内无同类未结案件",
                f"no open case of this class within {r} m and {w} days",
            ),
        }
    first = cases[0]
    return {
        "cases": cases,
        **_why(
            f"{r} 米、{w} 天内有 {len(cases)} 起同类未结案件，最近 #{first['id']}（{first['distance_m']} 米）",
            f"{len(cases)} open case(s) of this class within {r} m and {w} days; "
            f"nearest #{first['id']} ({first['distance_m']} m)",
        ),
    }


def assignment_json(assignment: dict) -> str:
    """The assignment as stored (jsonb): UTF-8, ISO 8601 times. orjson, because the bulk
    import encodes a million of these (json.dumps was a sixth of its time)."""
    return orjson.dumps(assignment, option=orjson.OPT_SERIALIZE_NUMPY, default=str).decode()
