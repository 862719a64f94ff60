"""Maps 地图 (HTML, folium/Leaflet): supervisor, analyst hotspots, planner; plus Leaflet itself."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, HTMLResponse

from app.api.auth import require
from app.api.deps import EngineDep, LanguageDep, SettingsDep
from app.api.openapi import problems
from app.api.planner_editor import editor_settings
from app.api.routes.hotspots import FilterDep, event_filter
from app.api.templates import map_response
from app.schemas.values import Moment
from app.services.accounts.users import User
from app.services.hotspots import maps as service

router = APIRouter(prefix="/maps", tags=["maps 地图"])
Basemap = Literal["osm", "tianditu", "none"]
BASEMAP = Query(None, description="底图 / basemap: osm, tianditu (needs a key), none (plain)")


@router.get(
    "/supervisor",
    response_class=HTMLResponse,
    responses=problems(401, 403, 404),
    summary="监督员地图 / supervisor map",
)
def read_supervisor_map(
    viewer: Annotated[User, require("supervisor", *service.COMMAND_CENTRE)],
    engine: EngineDep,
    settings: SettingsDep,
    lang: LanguageDep,
    grid: str | None = Query(None, description="网格编码 / grid code"),
    supervisor: str | None = Query(None, description="监督员姓名 / supervisor name"),
    at: Moment | None = Query(None, description="时限计算时点 / time of the deadline lights"),
    basemap: Basemap | None = BASEMAP,
):
    page = service.supervisor_map_html(
        engine,
        settings,
        grid=grid,
        supervisor=supervisor,
        at=at,
        lang=lang,
        basemap=basemap,
        viewer=viewer,
    )
    return map_response(page)


@router.get(
    "/hotspots",
    response_class=HTMLResponse,
    responses=problems(),
    summary="热点分析地图 / analyst hotspot map",
)
def read_hotspot_map(
    engine: EngineDep,
    settings: SettingsDep,
    lang: LanguageDep,
    params: FilterDep,
    fdr: bool | None = None,
    top: int | None = Query(None, ge=0, le=100, description="突出显示的街道数 / top streets"),
    basemap: Basemap | None = BASEMAP,
):
    f = event_filter(engine, settings, params)
    page = service.hotspot_map_html(
        engine, settings, f, fdr=fdr, lang=lang, basemap=basemap, top=top
    )
    return map_response(page)


@router.get(
    "/planner",
    response_class=HTMLResponse,
    responses=problems(401, 403, 404),
    summary="网格规划地图 / planner map",
)
def read_planner_map(
    viewer: Annotated[User, require("planner", "analyst")],
    engine: EngineDep,
    settings: SettingsDep,
    lang: LanguageDep,
    area: str | None = Query(None, description="区/街道/社区编码 / area code"),
    basemap: Basemap | None = BASEMAP,
):
    page = service.planner_map_html(
        engine,
        settings,
        area=area,
        lang=lang,
        basemap=basemap,
        viewer=viewer,
        editor=editor_settings(viewer, lang),
    )
    return map_response(page)


@router.get("/assets/{name:path}", include_in_schema=False)
def read_map_asset(name: str):
    # Versioned library files: let browsers keep them for a day.
    return FileResponse(
        service.asset_file(name), headers={"Cache-Control": "public, max-age=86400"}
    )
