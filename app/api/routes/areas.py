"""Administrative areas: district 区, sub-district 街道, community 社区."""

from typing import Literal

from fastapi import APIRouter, Query, Request

from app.api.deps import SessionDep
from app.api.geojson import GeoJSONResponse, feature_collection, features_from_rows, parse_bbox
from app.api.openapi import problems
from app.api.paging import PageDep
from app.db.catalog import reads as repo
from app.schemas.areas import AreaFeature, AreaPage
from app.services.catalog import reads as service
from app.services.grids.lookup import check_area_code

router = APIRouter(prefix="/api/v1/areas", tags=["areas 行政区域"])


@router.get(
    "",
    response_class=GeoJSONResponse,
    response_model=AreaPage,
    responses=problems(),
    summary="行政区域列表 / list areas",
)
def read_areas(
    request: Request,
    session: SessionDep,
    page: PageDep,
    level: Literal["district", "subdistrict", "community"] | None = None,
    parent: str | None = Query(None, description="上级区域编码 / parent area code"),
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat (WGS84)"),
):
    rows, matched = repo.list_areas(
        session,
        level=level,
        parent=check_area_code(parent) if parent else None,
        bbox=parse_bbox(bbox),
        limit=page.limit,
        offset=page.offset,
    )
    features = features_from_rows(rows, "code")
    return GeoJSONResponse(feature_collection(request, features, matched, page.limit, page.offset))


@router.get(
    "/{code}",
    response_class=GeoJSONResponse,
    response_model=AreaFeature,
    responses=problems(404),
    summary="区域详情 / one area",
)
def read_area(session: SessionDep, code: str):
    return GeoJSONResponse(features_from_rows([service.get_area(session, code)], "code")[0])
