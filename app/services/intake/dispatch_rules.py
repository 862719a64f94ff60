"""Dispatch rules: which unit takes a class of case in an area."""

from __future__ import annotations

from sqlalchemy import Engine

from app.db.catalog import classes as class_repo
from app.db.intake import dispatch_rules as repo
from app.errors import ConflictError, InvalidInputError, NotFoundError, UnknownClassError
from app.settings import Settings

LEVELS = {"district": 6, "subdistrict": 9, "community": 12, "grid": 15}


def _unit_id(conn, code: str) -> int:
    unit_id = repo.unit_id(conn, code)
    if unit_id is None:
        raise InvalidInputError(f"责任单位 {code} 不存在", f"unknown responsible unit {code}")
    return unit_id


def create_rule(
    engine: Engine,
    settings: Settings,
    kind: str,
    code: str,
    area_code: str,
    unit_code: str,
    note: str | None,
) -> dict:
    """Add a rule; 422 for an unknown class, area or unit, 409 if (class, area) has one."""
    with engine.begin() as conn:
        if not class_repo.get_classes(conn, settings.class_scheme, {(kind, code)}):
            raise UnknownClassError(
                f"分类方案 {settings.class_scheme} 中没有 {kind} {code}",
                f"unknown class {kind} {code} in scheme {settings.class_scheme}",
            )
        if not repo.area_exists(conn, area_code):
            raise InvalidInputError(
                f"区域或网格 {area_code} 不存在", f"no area or current grid with code {area_code}"
            )
        rule_id = repo.insert_rule(
            conn,
            {
                "scheme": settings.class_scheme,
                "class_kind": kind,
                "class_code": code,
                "area_code": area_code,
                "unit_id": _unit_id(conn, unit_code),
                "note": note,
            },
        )
        if rule_id is None:
            raise ConflictError(
                f"{kind} {code} 在 {area_code} 已有派遣规则",
                f"a rule for {kind} {code} in {area_code} already exists",
            )
        return repo.get_rule(conn, rule_id)  # type: ignore[return-value]


def get_rule(engine: Engine, rule_id: int) -> dict:
    with engine.connect() as conn:
        rule = repo.get_rule(conn, rule_id)
    if rule is None:
        raise NotFoundError(f"没有编号为 {rule_id} 的派遣规则", f"no dispatch rule {rule_id}")
    return rule


def update_rule(
    engine: Engine, rule_id: int, unit_code: str | None, note: str | None, set_note: bool
) -> dict:
    with engine.begin() as conn:
        unit_id = _unit_id(conn, unit_code) if unit_code else None
        if not repo.update_rule(conn, rule_id, unit_id, note, set_note):
            raise NotFoundError(f"没有编号为 {rule_id} 的派遣规则", f"no dispatch rule {rule_id}")
        return repo.get_rule(conn, rule_id)  # type: ignore[return-value]


def delete_rule(engine: Engine, rule_id: int) -> None:
    with engine.begin() as conn:
        if not repo.delete_rule(conn, rule_id):
            raise NotFoundError(f"没有编号为 {rule_id} 的派遣规则", f"no dispatch rule {rule_id}")


def list_rules(
    engine: Engine,
    settings: Settings,
    class_code: str | None,
    area_code: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict], int]:
    with engine.connect() as conn:
        return repo.list_rules(conn, settings.class_scheme, class_code, area_code, limit, offset)


def coverage(
    engine: Engine, settings: Settings, kind: str | None, level: str, within: str | None
) -> list[dict]:
    """Per area of ``level``: the classes that some of its grids would hand to the fallback."""
    with engine.connect() as conn:
        rows = repo.coverage_gaps(conn, settings.class_scheme, kind, LEVELS[level], within or "")
    areas: dict[str, dict] = {}
    for row in rows:
        area = areas.setdefault(
            row["area_code"],
            {"area_code": row["area_code"], "area_name": row["area_name"], "classes": []},
        )
        area["classes"].append(
            {
                k: row[k]
                for k in ("class_kind", "class_code", "class_name", "class_name_en", "grids")
            }
        )
    return list(areas.values())
