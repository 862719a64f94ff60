"""Grid units 单元网格: list, locate, read."""

from datetime import datetime

from fastapi import APIRouter, Query, Request

from app.api.deps import SessionDep
from app.api.geojson import (
    GeoJSONResponse, feature, feature_collection, features_from_rows, parse_bbox,
)
from app.api.paging import PageDep
from app.services import grids as service

router = APIRouter(prefix="/api/v1/grids", tags=["grids 网格"])


@router.get("", response_class=GeoJSONResponse, summary="网格列表 / list grids")
def read_grids(
    request: Request,
    session: SessionDep,
    page: PageDep,
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat (WGS84)"),
    community: str | None = Query(None, description="区/街道/社区编码 (6/9/12 digits)"),
    at: datetime | None = Query(None, description="时点：返回当时有效的网格版本 / grid map as at"),
):
    rows, matched = service.list_grids(
        session, bbox=parse_bbox(bbox), area_code=community, at=at,
        limit=page.limit, offset=page.offset,
    )
    features = features_from_rows(rows, "code")
    return GeoJSONResponse(feature_collection(request, features, matched, page.limit, page.offset))


@router.get("/locate", response_class=GeoJSONResponse, summary="按坐标定位网格 / grid at a point")
def locate_grid(
    session: SessionDep,
    lon: float = Query(..., ge=-180, le=180, description="经度 WGS84"),
    lat: float = Query(..., ge=-90, le=90, description="纬度 WGS84"),
    at: datetime | None = Query(None),
):
    row = service.locate_grid(session, lon, lat, at)
    geometry = row.pop("geometry")
    return GeoJSONResponse(feature(geometry, row, row["code"]))


@router.get("/{code}", response_class=GeoJSONResponse, summary="网格详情 / one grid")
def read_grid(session: SessionDep, code: str, at: datetime | None = Query(None)):
    row = service.get_grid(session, code, at)
    geometry = row.pop("geometry")
    return GeoJSONResponse(feature(geometry, row, row["code"]))
