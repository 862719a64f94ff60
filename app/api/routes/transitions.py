"""Case workflow 案件流转: transitions, the case clock and the log."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field, HttpUrl

from app.api.auth import CurrentUser, require
from app.api.deps import EngineDep, SettingsDep
from app.services.intake.events import get_event
from app.services.workflow import transitions as service

router = APIRouter(prefix="/api/v1/events", tags=["workflow 案件流转"])


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


# Everyone on the case's path may act; which action needs which role is the workflow's rule.
WORKFLOW_ROLES = ("supervisor", "acceptor", "shift_leader", "dispatcher", "handler")


@router.post(
    "/{event_id}/transitions",
    summary="案件流转 / apply a workflow action",
    dependencies=[require(*WORKFLOW_ROLES)],
)
def create_transition(
    event_id: int, body: TransitionBody, engine: EngineDep, settings: SettingsDep, user: CurrentUser
):
    request = service.TransitionInput(
        action=body.action,
        note=body.note,
        photo_urls=tuple(str(u) for u in body.photo_urls),
        unit_code=body.unit_code,
        hours=body.hours,
        criterion=body.criterion,
    )
    return service.transition(
        engine, settings, event_id, request, service.actor_for(user, body.action)
    )


@router.get("/{event_id}/workflow", summary="流转状态与时限 / status, deadline and clock")
def read_workflow(event_id: int, engine: EngineDep, settings: SettingsDep, user: CurrentUser):
    get_event(engine, event_id, user)  # 404 for a case this user may not see
    return service.get_workflow(engine, settings, event_id)


@router.get("/{event_id}/log", summary="流转日志 / the case log")
def read_log(event_id: int, engine: EngineDep, user: CurrentUser):
    get_event(engine, event_id, user)
    rows = service.get_log(engine, event_id)
    return {"event_id": event_id, "count": len(rows), "items": rows}
