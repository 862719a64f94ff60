"""Read services for areas, streets, units, components and classes."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.db.catalog import classes as class_repo
from app.db.catalog import reads as repo
from app.errors import NotFoundError
from app.services.grids.lookup import check_area_code


def get_area(session: Session, code: str) -> dict:
    row = repo.get_area(session, check_area_code(code))
    if row is None:
        raise NotFoundError(f"没有编码为 {code} 的行政区域", f"no area with code {code}")
    return row


def get_street(session: Session, street_id: int) -> dict:
    row = repo.get_street(session, street_id)
    if row is None:
        raise NotFoundError(f"没有编号为 {street_id} 的街道", f"no street with id {street_id}")
    return row


# A unit's contact person and phone are for staff; the public sees which unit is responsible.
STAFF_ONLY = ("contact", "phone")


def _shown(row: dict, staff: bool) -> dict:
    return row if staff else {k: v for k, v in row.items() if k not in STAFF_ONLY}


def list_units(
    session: Session, *, kind: str | None, limit: int, offset: int, staff: bool
) -> tuple[list[dict], int]:
    """A page of units; contacts only for ``staff`` (a signed-in account)."""
    rows, matched = repo.list_units(session, kind=kind, limit=limit, offset=offset)
    return [_shown(r, staff) for r in rows], matched


def get_unit(session: Session, code: str, staff: bool = True) -> dict:
    row = repo.get_unit(session, code)
    if row is None:
        raise NotFoundError(
            f"没有编码为 {code} 的责任单位", f"no responsible unit with code {code}"
        )
    return _shown(row, staff)


def get_component(session: Session, identifier: str) -> dict:
    row = repo.get_component(session, identifier)
    if row is None:
        raise NotFoundError(f"没有标识码为 {identifier} 的部件", f"no component {identifier}")
    return row


def list_classes(session: Session, scheme: str, kind: str | None) -> list[dict]:
    return class_repo.list_classes(session.connection(), scheme, kind)
