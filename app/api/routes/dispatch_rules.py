"""Dispatch rules 派遣规则: class × area → responsible unit."""

from typing import Literal

from fastapi import APIRouter, Query, Response

from app.api.audit import audit_object
from app.api.auth import require
from app.api.deps import EngineDep, SettingsDep
from app.api.openapi import problems
from app.api.paging import PageDep
from app.schemas.dispatch_rules import Coverage, Rule, RuleCreate, RuleList, RuleUpdate
from app.services.intake import dispatch_rules as service

router = APIRouter(prefix="/api/v1/dispatch-rules", tags=["dispatch rules 派遣规则"])


@router.get("", response_model=RuleList, responses=problems(), summary="派遣规则列表 / list rules")
def read_rules(
    engine: EngineDep,
    settings: SettingsDep,
    page: PageDep,
    class_code: str | None = Query(None, alias="class", pattern="^[0-9]{4,5}$"),
    area: str | None = Query(None, pattern="^[0-9]{6,15}$"),
):
    rows, total = service.list_rules(engine, settings, class_code, area, page.limit, page.offset)
    return {"numberMatched": total, "numberReturned": len(rows), "items": rows}


@router.get(
    "/coverage",
    response_model=Coverage,
    responses=problems(),
    summary="落到属地兜底的分类 / classes falling through to the fallback",
)
def read_coverage(
    engine: EngineDep,
    settings: SettingsDep,
    kind: Literal["event", "component"] | None = None,
    level: Literal["district", "subdistrict", "community", "grid"] = "community",
    within: str | None = Query(
        None, pattern="^[0-9]{6,15}$", description="只看此区域内 / only inside this area"
    ),
):
    areas = service.coverage(engine, settings, kind, level, within)
    return {"level": level, "areas": areas}


# Rules are the command centre's configuration: dispatchers and shift leaders keep them.
EDITORS = require("dispatcher", "shift_leader")


@router.post(
    "",
    status_code=201,
    response_model=Rule,
    responses=problems(401, 403, 409),
    summary="新增派遣规则 / add a rule",
    dependencies=[EDITORS],
)
def create_rule(body: RuleCreate, engine: EngineDep, settings: SettingsDep, response: Response):
    rule = service.create_rule(
        engine,
        settings,
        body.class_kind or "event",
        body.class_code,
        body.area_code,
        body.unit_code,
        body.note,
    )
    response.headers["Location"] = f"/api/v1/dispatch-rules/{rule['id']}"
    audit_object(rule_id=rule["id"])
    return rule


@router.get(
    "/{rule_id}", response_model=Rule, responses=problems(404), summary="派遣规则详情 / one rule"
)
def read_rule(rule_id: int, engine: EngineDep):
    return service.get_rule(engine, rule_id)


@router.patch(
    "/{rule_id}",
    response_model=Rule,
    responses=problems(401, 403, 404),
    summary="修改派遣规则 / change a rule",
    dependencies=[EDITORS],
)
def update_rule(rule_id: int, body: RuleUpdate, engine: EngineDep):
    return service.update_rule(
        engine, rule_id, body.unit_code, body.note, "note" in body.model_fields_set
    )


@router.delete(
    "/{rule_id}",
    status_code=204,
    response_class=Response,
    responses=problems(401, 403, 404),
    summary="删除派遣规则 / delete a rule",
    dependencies=[EDITORS],
)
def delete_rule(rule_id: int, engine: EngineDep) -> Response:
    service.delete_rule(engine, rule_id)
    return Response(status_code=204)
