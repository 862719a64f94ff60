"""Streets: named centerlines made of segments, with grade and length in metres."""

from typing import Literal

from fastapi import APIRouter, Query, Request

from app.api.deps import SessionDep
from app.api.geojson import GeoJSONResponse, feature_collection, features_from_rows, parse_bbox
from app.api.openapi import problems
from app.api.paging import PageDep
from app.db.catalog import reads as repo
from app.schemas.streets import StreetFeature, StreetPage
from app.services.catalog import reads as service

router = APIRouter(prefix="/api/v1/streets", tags=["streets 街道"])


@router.get(
    "",
    response_class=GeoJSONResponse,
    response_model=StreetPage,
    responses=problems(),
    summary="街道列表 / list streets",
)
def read_streets(
    request: Request,
    session: SessionDep,
    page: PageDep,
    name: str | None = Query(None, description="名称包含 / name contains"),
    grade: Literal["严管街", "控制街", "标准街"] | None = None,
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat (WGS84)"),
):
    rows, matched = repo.list_streets(
        session, name=name, grade=grade, bbox=parse_bbox(bbox), limit=page.limit, offset=page.offset
    )
    features = features_from_rows(rows, "id")
    return GeoJSONResponse(feature_collection(request, features, matched, page.limit, page.offset))


@router.get(
    "/{street_id}",
    response_class=GeoJSONResponse,
    response_model=StreetFeature,
    responses=problems(404),
    summary="街道详情 / one street",
)
def read_street(session: SessionDep, street_id: int):
    return GeoJSONResponse(features_from_rows([service.get_street(session, street_id)], "id")[0])
