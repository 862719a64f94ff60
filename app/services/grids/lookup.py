"""Grid service: find grids by area, code or location."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from app.db.grids import versions as repo
from app.errors import InvalidInputError, NotFoundError, OutsideCoverageError

GRID_CODE = re.compile(r"^[0-9]{15}$")
AREA_CODE = re.compile(r"^([0-9]{6}|[0-9]{9}|[0-9]{12})$")


def check_grid_code(code: str) -> str:
    """A 15-digit grid code (county 6 + street 3 + community 3 + sequence 3), or 422."""
    if not GRID_CODE.match(code):
        raise InvalidInputError(
            f"网格编码应为 15 位数字（区县 6 + 街道 3 + 社区 3 + 序号 3）：{code!r}",
            f"a grid code is 15 digits (county 6 + street 3 + community 3 + sequence 3): {code!r}",
        )
    return code


def check_area_code(code: str) -> str:
    """A district (6), sub-district (9) or community (12) code, or 422."""
    if not AREA_CODE.match(code):
        raise InvalidInputError(
            f"区域编码应为 6（区）、9（街道）或 12（社区）位数字：{code!r}",
            f"an area code is 6 (district), 9 (sub-district) or 12 (community) digits: {code!r}",
        )
    return code


def list_grids(
    session: Session, *, bbox, area_code: str | None, at: datetime | None, limit: int, offset: int
) -> tuple[list[dict], int]:
    """Grids valid at ``at`` (default now) in a bbox and/or area."""
    if area_code:
        check_area_code(area_code)
    return repo.list_grids(
        session, bbox=bbox, area_code=area_code, at=at, limit=limit, offset=offset
    )


def get_grid(session: Session, code: str, at: datetime | None = None) -> dict:
    """One grid by code, or 404."""
    row = repo.get_grid(session, check_grid_code(code), at)
    if row is None:
        raise NotFoundError(f"没有编码为 {code} 的网格", f"no grid with code {code}")
    return row


def locate_grid(session: Session, lon: float, lat: float, at: datetime | None = None) -> dict:
    """The grid covering (lon, lat) in WGS84, or 422 outside the managed area."""
    row = repo.locate_grid(session, lon, lat, at)
    if row is None:
        raise OutsideCoverageError(
            f"位置 ({lon}, {lat}) 不在任何单元网格内（超出管理区域）",
            f"location ({lon}, {lat}) is outside every grid (outside the managed area)",
            lon=lon,
            lat=lat,
        )
    return row
