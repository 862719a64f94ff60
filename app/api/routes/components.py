"""Street components 部件 (read side; the inventory issue adds writes)."""

from typing import Literal

from fastapi import APIRouter, Query, Request

from app.api.deps import SessionDep
from app.api.geojson import GeoJSONResponse, feature_collection, features_from_rows, parse_bbox
from app.api.paging import PageDep
from app.db import catalog as repo
from app.services import catalog as service
from app.services.grids import check_grid_code

router = APIRouter(prefix="/api/v1/components", tags=["components 部件"])
Status = Literal["in_service", "damaged", "missing", "occupied", "retired"]


@router.get("", response_class=GeoJSONResponse, summary="部件列表 / list components")
def read_components(
    request: Request,
    session: SessionDep,
    page: PageDep,
    bbox: str | None = Query(None, description="minLon,minLat,maxLon,maxLat (WGS84)"),
    grid: str | None = Query(None, description="网格编码 / grid code"),
    class_code: str | None = Query(None, alias="class", pattern="^[0-9]{4,5}$"),
    status: Status | None = None,
):
    rows, matched = repo.list_components(
        session, bbox=parse_bbox(bbox), grid=check_grid_code(grid) if grid else None,
        class_code=class_code, status=status, limit=page.limit, offset=page.offset,
    )
    features = features_from_rows(rows, "identifier")
    return GeoJSONResponse(feature_collection(request, features, matched, page.limit, page.offset))


@router.get("/{identifier}", response_class=GeoJSONResponse, summary="部件详情 / one component")
def read_component(session: SessionDep, identifier: str):
    row = service.get_component(session, identifier)
    return GeoJSONResponse(features_from_rows([row], "identifier")[0])
