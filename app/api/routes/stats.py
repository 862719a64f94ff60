"""Statistics 统计: events by street and class for a period."""

from __future__ import annotations

from fastapi import APIRouter, Query

from app.api.deps import EngineDep, SettingsDep
from app.api.openapi import problems
from app.api.routes.hotspots import FilterDep, event_filter
from app.schemas.hotspots import StreetStatsOut
from app.services.hotspots import analysis as service

router = APIRouter(prefix="/api/v1/stats", tags=["statistics 统计"])


@router.get(
    "/streets",
    response_model=StreetStatsOut,
    responses=problems(),
    summary="按街道和分类统计 / events by street and class",
)
def read_street_stats(
    engine: EngineDep,
    settings: SettingsDep,
    params: FilterDep,
    limit: int = Query(100, ge=1, le=5000),
):
    f = event_filter(engine, settings, params)
    return {
        "filter": service.describe_filter(f),
        **service.street_class_stats(engine, settings, f, limit=limit),
    }
