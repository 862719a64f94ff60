"""Events: one case as its reader may see it, and assignment previews (nothing stored).

Reports are stored by :mod:`app.services.intake.reports`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine

from app.db.intake import events as repo
from app.db.pool import IntakeDatabase
from app.errors import InvalidInputError, NotFoundError
from app.schemas.events import LocatedClassRef
from app.services.accounts.users import User
from app.services.intake.assignment import PointRequest, assign_points
from app.settings import Settings


def point_of(ref: LocatedClassRef, at: datetime) -> PointRequest:
    """The point to assign for a located class reference, as of ``at``."""
    assert ref.lon is not None and ref.lat is not None
    return PointRequest(
        lon=ref.lon,
        lat=ref.lat,
        kind=ref.class_kind or "event",
        code=ref.class_code,
        at=at,
        component_identifier=ref.component_identifier,
    )


def get_event(engine: Engine, event_id: int, user: User | None = None) -> dict:
    """One case by id, or 404 — also for a handler asking about another unit's case."""
    with engine.connect() as conn:
        event = repo.get_event(conn, event_id)
    if event is None or (user is not None and not can_see(user, event)):
        raise NotFoundError(f"没有编号为 {event_id} 的案件", f"no case with id {event_id}")
    return event


def can_see(user: User, event: dict) -> bool:
    """Handlers see their own unit's cases; every other role sees all cases."""
    if set(user.roles) - {"handler"}:
        return True
    return event.get("unit_code") is not None and event["unit_code"] == user.unit_code


async def preview_assignments(
    db: IntakeDatabase,
    settings: Settings,
    refs: Sequence[LocatedClassRef],
    at: datetime | None,
    signed_in: bool = True,
) -> list[dict]:
    """Assign points without storing anything: up to ``preview_max_points`` for an account,
    ``preview_public_max_points`` for an anonymous caller (a big preview takes seconds of
    the database that reports need)."""
    most = settings.preview_max_points if signed_in else settings.preview_public_max_points
    if len(refs) > most:
        hint = "" if signed_in else "（登录后可更多）"
        raise InvalidInputError(
            f"一次最多 {most} 个点{hint}",
            f"at most {most} points per request" + ("" if signed_in else " (more when signed in)"),
        )
    at = at or datetime.now(UTC)
    results = await assign_points(db, settings, [point_of(r, at) for r in refs])
    out: list[dict] = []
    for i, (ref, assignment) in enumerate(zip(refs, results, strict=True)):
        if assignment is None:
            out.append(
                {
                    "index": i,
                    "lon": ref.lon,
                    "lat": ref.lat,
                    "inside": False,
                    "reason": "超出管理区域",
                    "reason_en": "outside the managed area",
                }
            )
        else:
            out.append(
                {
                    "index": i,
                    "lon": ref.lon,
                    "lat": ref.lat,
                    "inside": True,
                    "assignment": assignment,
                }
            )
    return out
