"""Responsible units 责任单位 / 专业部门."""

from typing import Literal

from fastapi import APIRouter, Request

from app.api.deps import SessionDep
from app.api.openapi import problems
from app.api.paging import PageDep
from app.db.catalog import reads as repo
from app.schemas.units import Unit, UnitList
from app.services.catalog import reads as service

router = APIRouter(prefix="/api/v1/units", tags=["units 责任单位"])


@router.get("", response_model=UnitList, responses=problems(), summary="责任单位列表 / list units")
def read_units(
    request: Request,
    session: SessionDep,
    page: PageDep,
    kind: Literal["department", "subdistrict_office", "contractor", "command_centre"] | None = None,
):
    rows, matched = repo.list_units(session, kind=kind, limit=page.limit, offset=page.offset)
    return {"numberMatched": matched, "numberReturned": len(rows), "items": rows}


@router.get(
    "/{code}", response_model=Unit, responses=problems(404), summary="责任单位详情 / one unit"
)
def read_unit(session: SessionDep, code: str):
    return service.get_unit(session, code)
