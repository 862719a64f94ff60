"""Event intake: validate, assign, store and log reported cases, several at a time.

Every statement has a fixed cost: a round trip, the executor's start, a commit. A report is
two statements (its facts, then one INSERT that writes the case and its log line and reads
the case back), and at a busy moment that fixed part was most of the database's work. So
reports wait in a queue for one of a few *lanes*. A free lane takes every report waiting
(up to ``MAX_BATCH``), gathers their facts in one query and stores them in one INSERT;
reports arriving meanwhile wait for the next free lane. Nothing waits for a batch to fill:
when the system is idle a report finds a free lane at once and goes alone.

Each report still gets its own answer: its own 422 (outside the area, unknown class, no
such component or one of another class), its own replay or 409 for an idempotency key, and when the batch INSERT
fails on one bad row, each report is stored alone so that only that one fails.

Reports in one batch do not see each other as possible duplicates, just as two concurrent
reports never did (each statement sees the cases committed before it started).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import orjson
from sqlalchemy.exc import DBAPIError, OperationalError

from app.db.intake import events as repo
from app.db.pool import IntakeConnection, IntakeDatabase
from app.errors import (
    ConflictError,
    DomainError,
    OutsideCoverageError,
    UnavailableError,
)
from app.schemas.events import EventCreate
from app.services.intake.assignment import (
    assignment_json,
    component_refusal,
    decide_point,
    gather_facts,
    unknown_classes,
)
from app.services.intake.events import point_of
from app.settings import Settings

# Two lanes: one lane's statements run while the other's reports are decided. (1 to 6 lanes
# and batches capped at 3 to 50 measured alike at 10 clients; the cap bounds a burst's wait.)
LANES = 2
MAX_BATCH = 50
CLOSE_SECONDS = 10


def fingerprint(request: EventCreate) -> str:
    """A hash of what was asked, so a reused idempotency key with other content is caught."""
    body = request.model_dump(mode="json", exclude={"idempotency_key"})
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass(eq=False)
class _Report:
    request: EventCreate
    reported_by: str | None  # the signed-in account; None for an anonymous Open311 request
    public_token: bool
    received_at: datetime
    answer: asyncio.Future[tuple[dict, bool]]
    row: dict = field(default_factory=dict)  # the case to insert, once assigned

    def settle(self, result: tuple[dict, bool] | BaseException) -> None:
        if self.answer.done():  # its request was cancelled meanwhile
            return
        if isinstance(result, BaseException):
            self.answer.set_exception(result)
        else:
            self.answer.set_result(result)


class ReportQueue:
    """Stores reported cases with their assignment; create, use and close it on the loop."""

    def __init__(self, db: IntakeDatabase, settings: Settings, lanes: int = LANES) -> None:
        self.db = db
        self.settings = settings
        self.largest_batch = 0  # for the curious (and the tests): batching at work
        self._closed = False
        self._waiting: asyncio.Queue[_Report | None] = asyncio.Queue()
        self._lanes = [
            asyncio.create_task(self._lane(), name=f"report-lane-{n}") for n in range(lanes)
        ]

    async def create_event(
        self, request: EventCreate, reported_by: str | None = None, public_token: bool = False
    ) -> tuple[dict, bool]:
        """Store a case reported by the account ``reported_by`` with its assignment; returns
        (case, created). A replayed key returns the original case with created=False and
        stores nothing."""
        if self._closed:
            raise _shutting_down()
        answer = asyncio.get_running_loop().create_future()
        report = _Report(request, reported_by, public_token, datetime.now(UTC), answer)
        self._waiting.put_nowait(report)
        return await answer

    async def close(self) -> None:
        """Store what is waiting, then stop the lanes (cut short after ``CLOSE_SECONDS``:
        the reports not stored by then are answered 503)."""
        self._closed = True
        for _ in self._lanes:
            self._waiting.put_nowait(None)  # one stop sign per lane, behind the reports
        _, late = await asyncio.wait(self._lanes, timeout=CLOSE_SECONDS)
        for lane in late:
            lane.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*late)
        while not self._waiting.empty():
            if report := self._waiting.get_nowait():
                report.settle(_shutting_down())

    async def _lane(self) -> None:
        while (first := await self._waiting.get()) is not None:
            batch = [first]
            stop = False
            while len(batch) < MAX_BATCH and not self._waiting.empty():
                report = self._waiting.get_nowait()
                if report is None:
                    stop = True
                    break
                batch.append(report)
            self.largest_batch = max(self.largest_batch, len(batch))
            try:
                await self._store(batch)
            except asyncio.CancelledError:  # cut short by close()
                for report in batch:
                    report.settle(_shutting_down())
                raise
            if stop:
                return

    async def _store(self, batch: list[_Report]) -> None:
        """Answer every report of ``batch``, whatever happens."""
        try:
            async with self.db.connection() as conn:
                assigned = await self._assign(conn, batch)
                if assigned:
                    await self._insert(conn, assigned)
        except Exception as exc:  # the lane must outlive any failure; the reports get it
            for report in batch:
                report.settle(exc)

    async def _assign(self, conn: IntakeConnection, batch: list[_Report]) -> list[_Report]:
        """Decide each report's assignment and build its row; the ones that cannot be
        stored are answered here. Returns the others."""
        settings = self.settings
        points = [point_of(r.request, r.received_at) for r in batch]
        facts = await gather_facts(conn, settings, points)
        assigned = []
        for report, point, f in zip(batch, points, facts, strict=True):
            request = report.request
            if f["class"] is None:
                report.settle(unknown_classes(settings.class_scheme, [(point.kind, point.code)]))
            elif (assignment := decide_point(settings, point, f)) is None:
                report.settle(_outside(request))
            elif refusal := component_refusal(settings.class_scheme, point, f):
                report.settle(refusal)
            else:
                assignment["request_fingerprint"] = fingerprint(request)
                report.row = _row(settings, report, assignment)
                assigned.append(report)
        return assigned

    async def _insert(self, conn: IntakeConnection, assigned: list[_Report]) -> None:
        try:
            events = await repo.insert_reported_events(conn, [r.row for r in assigned])
        except DBAPIError as exc:
            if isinstance(exc, OperationalError) or len(assigned) == 1:
                raise
            # One statement, so nothing was stored: each alone, and only a bad one fails.
            for report in assigned:
                try:
                    await self._insert(conn, [report])
                except Exception as one:
                    report.settle(one)
            return
        replays = []
        for report, event in zip(assigned, events, strict=True):
            if event is None:
                replays.append(report)
            else:
                report.settle((event, True))
        for report in replays:  # their keys are taken, and those cases committed
            try:
                report.settle((await _replay(conn, report), False))
            except DomainError as exc:
                report.settle(exc)


def _shutting_down() -> UnavailableError:
    return UnavailableError(
        "系统正在停止，本次上报可能未保存：请稍后用同一幂等键重试",
        "the service is shutting down and the report may not be stored: "
        "retry shortly with the same idempotency key",
    )


def _outside(request: EventCreate) -> OutsideCoverageError:
    return OutsideCoverageError(
        f"位置 ({request.lon}, {request.lat}) 不在任何单元网格内（超出管理区域），未保存",
        f"location ({request.lon}, {request.lat}) is outside the managed area; nothing was stored",
        lon=request.lon,
        lat=request.lat,
    )


async def _replay(conn: IntakeConnection, report: _Report) -> dict:
    key = report.row["idempotency_key"]
    event = await repo.get_event_by_idempotency_key(conn, key, report.reported_by)
    assert event is not None  # keys are never deleted
    if (event["assignment"] or {}).get("request_fingerprint") != fingerprint(report.request):
        raise ConflictError(
            f"幂等键 {key} 已用于另一内容不同的上报（案件 #{event['id']}）",
            f"idempotency key {key} was already used for a different report (case #{event['id']})",
            existing_id=event["id"],
        )
    return event


def _row(settings: Settings, report: _Report, a: dict) -> dict:
    r, now = report.request, report.received_at
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
        "reported_by": report.reported_by,
        "reporter_contact": orjson.dumps(r.reporter_contact).decode()
        if r.reporter_contact
        else None,
        "photo_urls": orjson.dumps([str(u) for u in r.photo_urls]).decode()
        if r.photo_urls
        else None,
        "idempotency_key": r.idempotency_key,
        "public_token": str(uuid.uuid4()) if report.public_token else None,
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
        "deadline_at": None,  # the workflow sets it at dispatch (派遣), not intake
    }
