"""Street components 部件: list (GeoJSON or CSV), create, change, retire, history, cases, summary."""

from typing import Annotated, Any, Literal
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from app.api.audit import audit_object
from app.api.auth import CurrentUser, acting_as, require
from app.api.deps import EngineDep, SettingsDep
from app.api.geojson import GeoJSONResponse, feature_collection, features_from_rows, parse_bbox
from app.api.openapi import problems, with_problems
from app.api.paging import PageDep
from app.errors import ForbiddenError, InvalidInputError
from app.schemas.components import (
    ComponentCases,
    ComponentFeature,
    ComponentHistory,
    ComponentIn,
    ComponentPage,
    ComponentPatch,
    ComponentSummary,
    Status,
)
from app.schemas.values import OFFSET_MAX
from app.services.accounts.users import User
from app.services.components import inventory as service
from app.services.components import reads
from app.services.grids.lookup import check_grid_code

router = APIRouter(prefix="/api/v1/components", tags=["components 部件"])
Format = Literal["geojson", "csv"]


# Planners keep the inventory (create, move, re-assign units, retire); supervisors on patrol,
# handling units and shift leaders report a component's condition (status only).
STEWARDS = ("planner",)
CONDITION_REPORTERS = ("planner", "supervisor", "handler", "shift_leader")
Steward = Annotated[User, require(*STEWARDS)]
ConditionReporter = Annotated[User, require(*CONDITION_REPORTERS)]


def behalf_header(
    x_actor: str | None = Header(
        None,
        alias="X-Actor",
        description="代为操作 / on whose behalf (the signed-in user is recorded too); "
        "percent-encode non-ASCII: %E5%BC%A0%E4%B8%89 = 张三",
    ),
) -> str | None:
    return unquote(x_actor) if x_actor else None


Behalf = Annotated[str | None, Depends(behalf_header)]


def component_filters(
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat (WGS84)"),
    grid: str | None = Query(None, description="网格编码 / grid code"),
    community: str | None = Query(None, pattern="^[0-9]{12}$", description="社区 / community"),
    street: int | None = Query(None, description="街道编号 / street id"),
    class_code: str | None = Query(None, alias="class", pattern="^[0-9]{4,5}$"),
    status: Status | None = None,
    owner: str | None = Query(None, description="权属单位代码 / owner unit code"),
    maintainer: str | None = Query(None, description="养护单位代码 / maintainer unit code"),
    include_retired: bool = Query(False, description="含已注销部件 / also retired components"),
) -> dict[str, Any]:
    """The list filters as one dict (shared by the list, CSV and summary endpoints)."""
    return {
        "bbox": parse_bbox(bbox),
        "grid": check_grid_code(grid) if grid else None,
        "community": community,
        "street": street,
        "class_code": class_code,
        "status": status,
        "owner": owner,
        "maintainer": maintainer,
        # retired components stay in the inventory as records; lists show them on request
        "active_only": not include_retired and status != "retired",
    }


FiltersDep = Annotated[dict, Depends(component_filters)]
# format=csv (or Accept: text/csv) answers the same rows as CSV, UTF-8 with a BOM.
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}}}
}


def _wants_csv(request: Request, format_: Format | None) -> bool:
    return format_ == "csv" or (format_ is None and "text/csv" in request.headers.get("accept", ""))


def _csv_response(body, name: str) -> StreamingResponse:
    return StreamingResponse(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get(
    "",
    response_class=GeoJSONResponse,
    response_model=ComponentPage,
    responses=with_problems(CSV),
    summary="部件列表 / list components",
)
def read_components(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    filters: FiltersDep,
    format_: Format | None = Query(None, alias="format", description="geojson | csv"),
    limit: int | None = Query(
        None, ge=1, le=10_000_000, description="每页条数（GeoJSON 默认 100；CSV 默认全部）"
    ),
    offset: int = Query(0, ge=0, le=OFFSET_MAX),
):
    if _wants_csv(request, format_):
        return _csv_response(reads.components_csv(engine, filters, limit, offset), "components.csv")
    limit = limit or 100
    if limit > settings.page_size_max:
        raise InvalidInputError(
            f"GeoJSON 每页最多 {settings.page_size_max} 条；全部导出请用 CSV",
            f"at most {settings.page_size_max} per GeoJSON page; use format=csv for everything",
        )
    rows, matched = reads.list_components(engine, filters, limit, offset)
    features = features_from_rows(rows, "identifier")
    return GeoJSONResponse(feature_collection(request, features, matched, limit, offset))


@router.get(
    "/summary",
    response_model=ComponentSummary,
    responses=with_problems(CSV),
    summary="部件统计 / counts per class per grid, community or street",
)
def read_summary(
    request: Request,
    engine: EngineDep,
    settings: SettingsDep,
    filters: FiltersDep,
    by: Literal["grid", "community", "subdistrict", "district", "street"] = "grid",
    format_: Format | None = Query(None, alias="format"),
    limit: int | None = Query(None, ge=1, description="rows per page (default: all)"),
    offset: int = Query(0, ge=0, le=OFFSET_MAX),
):
    result = reads.summary(engine, settings, by, filters, limit, offset)
    if _wants_csv(request, format_):
        return _csv_response(iter([reads.summary_csv(result)]), f"components_by_{by}.csv")
    return JSONResponse(result)  # plain values already: skip the (slow) generic encoder


@router.post(
    "",
    status_code=201,
    response_class=GeoJSONResponse,
    response_model=ComponentFeature,
    responses=with_problems(
        {
            200: {
                "description": "同一来源已导入过 / replay: the source was imported before",
                "model": ComponentFeature,
            }
        },
        401,
        403,
        409,
    ),
    summary="新增部件 / add a component (identifier generated)",
)
def create_component(
    body: ComponentIn,
    engine: EngineDep,
    settings: SettingsDep,
    user: Steward,
    behalf: Behalf,
):
    who = acting_as(user, body.actor or behalf)
    row, created = service.create_component(engine, settings, body.model_dump(), who)
    audit_object(identifier=row["identifier"])
    headers = {"Location": f"/api/v1/components/{row['identifier']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return GeoJSONResponse(
        features_from_rows([row], "identifier")[0],
        status_code=201 if created else 200,
        headers=headers,
    )


@router.get(
    "/{identifier}",
    response_class=GeoJSONResponse,
    response_model=ComponentFeature,
    responses=problems(404),
    summary="部件详情 / one component",
)
def read_component(engine: EngineDep, identifier: str):
    row = reads.get_component(engine, identifier)
    return GeoJSONResponse(features_from_rows([row], "identifier")[0])


@router.patch(
    "/{identifier}",
    response_class=GeoJSONResponse,
    response_model=ComponentFeature,
    responses=problems(401, 403, 404, 409),
    summary="修改部件（状态、权属/养护单位、属性、位置）/ change a component",
)
def update_component(
    identifier: str,
    body: ComponentPatch,
    engine: EngineDep,
    settings: SettingsDep,
    user: ConditionReporter,
    behalf: Behalf,
):
    changes = body.model_dump(exclude_unset=True)
    who = acting_as(user, changes.pop("actor", None) or behalf)
    inventory = set(changes) - {"status", "note", "event_id"} or changes.get("status") == "retired"
    if inventory and not user.has(*STEWARDS, "admin"):
        raise ForbiddenError(
            "只有规划人员可以修改部件的位置、单位、属性或注销部件",
            "only planners move, re-assign, edit or retire components",
            required_roles=list(STEWARDS),
        )
    row = service.update_component(engine, settings, identifier, changes, who)
    return GeoJSONResponse(features_from_rows([row], "identifier")[0])


@router.delete(
    "/{identifier}",
    response_class=GeoJSONResponse,
    response_model=ComponentFeature,
    responses=problems(401, 403, 404, 409),
    summary="注销部件（保留历史，标识码不再使用）/ retire a component",
)
def retire_component(
    identifier: str,
    engine: EngineDep,
    user: Steward,
    behalf: Behalf,
    note: str | None = None,
    event_id: int | None = None,
):
    row = service.retire_component(engine, identifier, acting_as(user, behalf), note, event_id)
    return GeoJSONResponse(features_from_rows([row], "identifier")[0])


@router.get(
    "/{identifier}/history",
    response_model=ComponentHistory,
    responses=problems(404),
    summary="部件变更历史 / a component's history",
)
def read_history(identifier: str, engine: EngineDep):
    items = reads.component_history(engine, identifier)
    return {"identifier": identifier, "count": len(items), "items": items}


@router.get(
    "/{identifier}/cases",
    response_model=ComponentCases,
    responses=problems(401, 404),
    summary="部件相关案件 / cases about a component",
)
def read_cases(identifier: str, engine: EngineDep, page: PageDep, _: CurrentUser):
    # Case descriptions are free text about people and places: staff only.
    items, matched = reads.component_cases(engine, identifier, page.limit, page.offset)
    return {
        "identifier": identifier,
        "numberMatched": matched,
        "numberReturned": len(items),
        "items": items,
    }
