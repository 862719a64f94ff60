"""Event intake: validate, assign, store and log a reported case."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Engine

from app.db import events as repo
from app.db.intake import IntakeConnection, IntakeDatabase
from app.errors import (
    ConflictError,
    InvalidInputError,
    NotFoundError,
    OutsideCoverageError,
)
from app.schemas.events import EventCreate, LocatedClassRef
from app.services.assignment import PointRequest, assign_points, assignment_json
from app.services.users import User
from app.settings import Settings


def _check_component_found(ref: LocatedClassRef, assignment: dict) -> None:
    if ref.component_identifier and (assignment.get("component") or {}).get("id") is None:
        raise InvalidInputError(
            f"部件标识码 {ref.component_identifier} 不存在",
            f"no component {ref.component_identifier}",
        )


def _point(ref: LocatedClassRef, at: datetime) -> PointRequest:
    assert ref.lon is not None and ref.lat is not None
    return PointRequest(
        lon=ref.lon,
        lat=ref.lat,
        kind=ref.class_kind or "event",
        code=ref.class_code,
        at=at,
        component_identifier=ref.component_identifier,
    )


def _outside(ref: LocatedClassRef) -> OutsideCoverageError:
    return OutsideCoverageError(
        f"位置 ({ref.lon}, {ref.lat}) 不在任何单元网格内（超出管理区域），未保存",
        f"location ({ref.lon}, {ref.lat}) is outside the managed area; nothing was stored",
        lon=ref.lon,
        lat=ref.lat,
    )


def fingerprint(request: EventCreate) -> str:
    """A hash of what was asked, so a reused idempotency key with other content is caught."""
    body = request.model_dump(mode="json", exclude={"idempotency_key"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


async def create_event(
    db: IntakeDatabase, settings: Settings, request: EventCreate, public_token: bool = False
) -> tuple[dict, bool]:
    """Store a case with its assignment; returns (case, created). A replayed key returns the
    original case with created=False and stores nothing.

    Two statements: the facts (a read), then one INSERT that writes the case and its log
    line and reads the case back, atomic by itself. A transaction around both would add two
    round trips and no guarantee: under READ COMMITTED each statement sees its own snapshot.
    """
    print_ = fingerprint(request)
    now = datetime.now(UTC)
    async with db.connection() as conn:
        assignment = (await assign_points(conn, settings, [_point(request, now)]))[0]
        if assignment is None:
            raise _outside(request)
        _check_component_found(request, assignment)
        assignment["request_fingerprint"] = print_
        # A retry is rare: its key is not looked up first (a round trip on every report) but
        # met by the insert's ON CONFLICT, which waits for a concurrent twin to commit.
        event = await repo.insert_reported_event(
            conn, _row(settings, request, assignment, now, public_token), f"source={request.source}"
        )
        if event is None:  # the key is taken, and its case committed
            return await _replay(conn, request.idempotency_key or "", print_), False
    return event, True


async def _replay(conn: IntakeConnection, key: str, print_: str) -> dict:
    event = await repo.get_event_by_idempotency_key(conn, key)
    assert event is not None  # keys are never deleted
    if (event["assignment"] or {}).get("request_fingerprint") != print_:
        raise ConflictError(
            f"幂等键 {key} 已用于另一内容不同的上报（案件 #{event['id']}）",
            f"idempotency key {key} was already used for a different report (case #{event['id']})",
            existing_id=event["id"],
        )
    return event


def _row(settings: Settings, r: EventCreate, a: dict, now: datetime, public_token: bool) -> dict:
    unit, street, comp = a["unit"], a["street"], a.get("component") or {}
    return {
        "scheme": settings.class_scheme,
        "class_kind": r.class_kind,
        "class_code": r.class_code,
        "lon": r.lon,
        "lat": r.lat,
        "location_text": r.location_text,
        "description": r.description,
        "source": r.source,
        "reporter": r.reporter,
        "reporter_contact": json.dumps(r.reporter_contact, ensure_ascii=False)
        if r.reporter_contact
        else None,
        "photo_urls": [str(u) for u in r.photo_urls] or None,
        "idempotency_key": r.idempotency_key,
        "public_token": str(uuid.uuid4()) if public_token else None,
        "observed_at": r.observed_at or now,
        "reported_at": now,
        "grid_id": a["grid"]["id"],
        "grid_code": a["grid"]["code"],
        "community_code": a["community"]["code"],
        "subdistrict_code": a["subdistrict"]["code"],
        "district_code": a["district"]["code"],
        "street_id": street.get("id"),
        "street_distance_m": street.get("distance_m"),
        "component_id": comp.get("id"),
        "component_distance_m": comp.get("distance_m"),
        "unit_id": unit.get("id"),
        "assignment": assignment_json(a),
        "deadline_at": a["deadline"]["at"],
    }


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
    db: IntakeDatabase, settings: Settings, refs: Sequence[LocatedClassRef], at: datetime | None
) -> list[dict]:
    """Assign up to ``preview_max_points`` points without storing anything."""
    if len(refs) > settings.preview_max_points:
        raise InvalidInputError(
            f"一次最多 {settings.preview_max_points} 个点",
            f"at most {settings.preview_max_points} points per request",
        )
    at = at or datetime.now(UTC)
    async with db.connection() as conn:
        results = await assign_points(conn, settings, [_point(r, at) for r in refs])
    out = []
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
