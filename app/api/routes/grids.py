"""Grid units 单元网格: list, locate, read, history, validation, and versioned edits.

Every edit needs the planner role (规划人员) and takes ``?dry_run=true`` (the planner map's
preview: the verdict and what would move, nothing stored). The edit log records the signed-in
user, with the body's optional ``actor`` (on whose behalf) in brackets.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from app.api.audit import audit_object
from app.api.auth import acting_as, require
from app.api.deps import SessionDep, SettingsDep
from app.api.geojson import (
    GeoJSONResponse,
    feature,
    feature_collection,
    features_from_rows,
    parse_bbox,
)
from app.api.openapi import problems
from app.api.paging import PageDep
from app.schemas.grids import (
    CreateBody,
    GridEditBody,
    GridEditResult,
    GridFeature,
    GridHistory,
    GridPage,
    MergeBody,
    RenumberBody,
    ReshapeBody,
    RetireBody,
    SplitBody,
    ValidationReport,
)
from app.schemas.values import Moment
from app.services.accounts.users import User
from app.services.grids import edits, topology
from app.services.grids import lookup as service

router = APIRouter(prefix="/api/v1/grids", tags=["grids 网格"])


@router.get(
    "",
    response_class=GeoJSONResponse,
    response_model=GridPage,
    responses=problems(),
    summary="网格列表 / list grids",
)
def read_grids(
    request: Request,
    session: SessionDep,
    page: PageDep,
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat (WGS84)"),
    community: str | None = Query(None, description="区/街道/社区编码 (6/9/12 digits)"),
    at: Moment | None = Query(None, description="时点：返回当时有效的网格版本 / grid map as at"),
):
    rows, matched = service.list_grids(
        session,
        bbox=parse_bbox(bbox),
        area_code=community,
        at=at,
        limit=page.limit,
        offset=page.offset,
    )
    features = features_from_rows(rows, "code")
    return GeoJSONResponse(feature_collection(request, features, matched, page.limit, page.offset))


@router.get(
    "/locate",
    response_class=GeoJSONResponse,
    response_model=GridFeature,
    responses=problems(404),
    summary="按坐标定位网格 / grid at a point",
)
def locate_grid(
    session: SessionDep,
    lon: float = Query(..., ge=-180, le=180, description="经度 WGS84"),
    lat: float = Query(..., ge=-90, le=90, description="纬度 WGS84"),
    at: Moment | None = Query(None),
):
    row = service.locate_grid(session, lon, lat, at)
    geometry = row.pop("geometry")
    return GeoJSONResponse(feature(geometry, row, row["code"]))


@router.get(
    "/validation",
    response_class=GeoJSONResponse,
    response_model=ValidationReport,
    responses=problems(),
    summary="网格拓扑检查 / every topology violation",
)
def read_grid_validation(
    session: SessionDep,
    settings: SettingsDep,
    community: str | None = Query(None, description="区/街道/社区编码 (6/9/12 digits)"),
    severity: str | None = Query(None, pattern="^(error|warning)$"),
):
    if community:
        service.check_area_code(community)
    report = topology.validation_report(session, settings, area_code=community, severity=severity)
    features = [feature(v.pop("geometry"), v) for v in report.pop("violations")]
    return GeoJSONResponse({"type": "FeatureCollection", **report, "features": features})


@router.get(
    "/{code}",
    response_class=GeoJSONResponse,
    response_model=GridFeature,
    responses=problems(404),
    summary="网格详情 / one grid",
)
def read_grid(session: SessionDep, code: str, at: Moment | None = Query(None)):
    row = service.get_grid(session, code, at)
    geometry = row.pop("geometry")
    return GeoJSONResponse(feature(geometry, row, row["code"]))


@router.get(
    "/{code}/history",
    response_class=GeoJSONResponse,
    response_model=GridHistory,
    responses=problems(404),
    summary="网格版本历史 / every version of a grid",
)
def read_grid_history(session: SessionDep, code: str):
    found = edits.history(session, code)
    versions = features_from_rows(found.pop("versions"), "id")
    return GeoJSONResponse(
        {"type": "FeatureCollection", "code": code, **found, "features": versions}
    )


# -- edits ------------------------------------------------------------------------------------

DryRun = Query(
    False, description="只预览，不保存 / preview only: verdict and moves, nothing stored"
)
Planner = Annotated[User, require("planner")]
# clipped_m2 / mapping are there only for the edits that have them: exclude_unset keeps it so.
EDIT: dict[str, Any] = {
    "response_model": GridEditResult,
    "response_model_exclude_unset": True,
    "responses": problems(401, 403, 404),
}


def _options(user: User, body: GridEditBody, dry_run: bool) -> edits.EditOptions:
    """The edit log records the signed-in user, and on whose behalf when the body says so."""
    return edits.EditOptions(acting_as(user, body.actor), note=body.note, dry_run=dry_run)


def _edited(result: dict) -> dict:
    """The edit result with its new grid versions as a FeatureCollection."""
    audit_object(
        edit_id=result.get("edit_id"), retired=result["retired"], started=result["started"]
    )
    features = features_from_rows(result["grids"], "code")
    result["grids"] = {"type": "FeatureCollection", "features": features}
    return result


@router.post("", **EDIT, summary="新建网格（按所画范围）/ create a grid from a drawn polygon")
def create_grid(
    session: SessionDep,
    settings: SettingsDep,
    user: Planner,
    body: CreateBody,
    dry_run: bool = DryRun,
):
    shape = edits.parse_geometry(body.geometry)
    options = _options(user, body, dry_run)
    return _edited(edits.create(session, settings, shape, options, community=body.community))


@router.post("/merge", **EDIT, summary="合并相邻网格 / merge adjacent grids")
def merge_grids(
    session: SessionDep,
    settings: SettingsDep,
    user: Planner,
    body: MergeBody,
    dry_run: bool = DryRun,
):
    return _edited(edits.merge(session, settings, body.codes, _options(user, body, dry_run)))


@router.post("/retire", **EDIT, summary="撤销网格 / retire grids")
def retire_grids(
    session: SessionDep,
    settings: SettingsDep,
    user: Planner,
    body: RetireBody,
    dry_run: bool = DryRun,
):
    return _edited(edits.retire(session, settings, body.codes, _options(user, body, dry_run)))


@router.post("/renumber", **EDIT, summary="社区网格重新编号 / renumber a community")
def renumber_grids(
    session: SessionDep,
    settings: SettingsDep,
    user: Planner,
    body: RenumberBody,
    dry_run: bool = DryRun,
):
    return _edited(edits.renumber(session, settings, body.community, _options(user, body, dry_run)))


@router.post("/{code}/reshape", **EDIT, summary="调整网格边界 / reshape a grid")
def reshape_grid(
    session: SessionDep,
    settings: SettingsDep,
    user: Planner,
    code: str,
    body: ReshapeBody,
    dry_run: bool = DryRun,
):
    shape = edits.parse_geometry(body.geometry)
    options = _options(user, body, dry_run)
    return _edited(
        edits.reshape(
            session, settings, code, shape, options, adjust_neighbours=body.adjust_neighbours
        )
    )


@router.post("/{code}/split", **EDIT, summary="拆分网格 / split a grid along a line")
def split_grid(
    session: SessionDep,
    settings: SettingsDep,
    user: Planner,
    code: str,
    body: SplitBody,
    dry_run: bool = DryRun,
):
    line = edits.parse_geometry(body.line, "line")
    return _edited(edits.split(session, settings, code, line, _options(user, body, dry_run)))
