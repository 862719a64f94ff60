"""Paging parameters shared by list endpoints."""

from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel

from app.schemas.values import OFFSET_MAX


class Page(BaseModel):
    limit: int
    offset: int


def page(
    limit: int = Query(100, ge=1, le=5000, description="每页条数 / items per page"),
    offset: int = Query(0, ge=0, le=OFFSET_MAX, description="跳过条数 / items to skip"),
) -> Page:
    return Page(limit=limit, offset=offset)


PageDep = Annotated[Page, Depends(page)]
