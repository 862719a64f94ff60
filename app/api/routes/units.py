"""Responsible units 责任单位 / 专业部门."""

from typing import Literal

from fastapi import APIRouter

from app.api.auth import OptionalUser
from app.api.deps import SessionDep
from app.api.openapi import problems
from app.api.paging import PageDep
from app.schemas.units import Unit, UnitList
from app.services.catalog import reads as service

router = APIRouter(prefix="/api/v1/units", tags=["units 责任单位"])


@router.get(
    "",
    response_model=UnitList,
    response_model_exclude_unset=True,  # contacts are absent, not null, for the public
    responses=problems(),
    summary="责任单位列表 / list units",
)
def read_units(
    session: SessionDep,
    page: PageDep,
    user: OptionalUser,
    kind: Literal["department", "subdistrict_office", "contractor", "command_centre"] | None = None,
):
    rows, matched = service.list_units(
        session, kind=kind, limit=page.limit, offset=page.offset, staff=user is not None
    )
    return {"numberMatched": matched, "numberReturned": len(rows), "items": rows}


@router.get(
    "/{code}",
    response_model=Unit,
    response_model_exclude_unset=True,
    responses=problems(404),
    summary="责任单位详情 / one unit",
)
def read_unit(session: SessionDep, code: str, user: OptionalUser):
    return service.get_unit(session, code, staff=user is not None)
