"""Request and response models of the case workflow (案件流转): actions, clock, log, tasks."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, HttpUrl

from app.schemas.common import Counted, Number, Timestamp


class TransitionBody(BaseModel):
    """One workflow action on a case."""

    action: str = Field(
        ...,
        description="如 request_verification, confirm, file, dispatch, accept, "
        "handle, request_check, close, rework, return, "
        "request_extension, approve_extension, request_shelving, "
        "approve_shelving, resume …",
    )
    note: str | None = Field(None, max_length=4000)
    photo_urls: list[HttpUrl] = Field(default_factory=list, max_length=20)
    unit_code: str | None = Field(
        None, max_length=32, description="派遣到的单位 / unit to dispatch to"
    )
    hours: float | None = Field(None, gt=0, le=10_000, description="延期小时数 / extension hours")
    criterion: str | None = Field(None, max_length=200, description="立案条件 / filing criterion")


class AllowedAction(BaseModel):
    action: str
    name: str
    role: str | None


class CaseUnit(BaseModel):
    id: int | None
    code: str | None
    name: str | None


class CaseTimeLimit(BaseModel):
    value: float
    unit: str
    text: str
    criterion: str | None
    extension_hours: Number | None


class Clock(BaseModel):
    """Time used of a limit; the light is green, yellow or red."""

    limit_seconds: int
    used_seconds: int
    remaining_seconds: int
    used_percent: float
    overdue: bool
    light: str
    frozen: bool | None = Field(None, description="the case clock: shelved or closed")


class Stage(BaseModel):
    """Time used of the current stage's own limit (verification, check, …)."""

    status: str
    due_at: Timestamp
    limit: str | None
    limit_seconds: int | None = None
    used_seconds: int | None = None
    remaining_seconds: int | None = None
    used_percent: float | None = None
    overdue: bool | None = None
    light: str | None = None
    frozen: bool | None = None


class PendingRequest(BaseModel):
    kind: str = Field(..., description="extension / shelving … awaiting approval")
    hours: Number | None


class Workflow(BaseModel):
    """A case's workflow view: status, what may be done next, limit, deadline and clocks."""

    event_id: int
    status: str
    status_name: str
    allowed_actions: list[AllowedAction]
    unit: CaseUnit
    time_limit: CaseTimeLimit | None
    clock_started_at: Timestamp | None
    deadline_at: Timestamp | None
    clock: Clock | None
    stage: Stage | None
    pending_request: PendingRequest | None
    shelved_at: Timestamp | None
    rework_count: int


class LogEntry(BaseModel):
    """One step of a case."""

    id: int
    at: Timestamp
    actor: str | None
    action: str
    from_status: str | None
    to_status: str | None
    note: str | None
    data: Any = Field(..., description="the action's details, as stored")


class CaseLog(BaseModel):
    event_id: int
    count: int
    items: list[LogEntry]


class Task(BaseModel):
    """A case waiting on someone, with its due time and light."""

    event_id: int
    status: str
    source: str
    class_kind: str
    class_code: str
    class_name: str
    grid_code: str | None
    supervisor: str | None
    unit_code: str | None
    unit_name: str | None
    location_text: str | None
    description: str | None
    reported_at: Timestamp
    deadline_at: Timestamp | None
    pending_request: str | None
    pending_hours: Number | None
    task: str
    task_en: str
    due_at: Timestamp | None
    light: str | None
    used_percent: float | None
    remaining_seconds: int | None


class TaskList(Counted):
    role: str
    items: list[Task]
