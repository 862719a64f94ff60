"""Case workflow 案件流转: transitions, the case clock and the log."""

from __future__ import annotations

from fastapi import APIRouter

from app.api.auth import CurrentUser, require
from app.api.deps import EngineDep, SettingsDep
from app.api.openapi import problems
from app.schemas.transitions import CaseLog, TransitionBody, Workflow
from app.services.intake.events import get_event
from app.services.workflow import transitions as service

router = APIRouter(prefix="/api/v1/events", tags=["workflow 案件流转"])


# Everyone on the case's path may act; which action needs which role is the workflow's rule.
WORKFLOW_ROLES = ("supervisor", "acceptor", "shift_leader", "dispatcher", "handler")


@router.post(
    "/{event_id}/transitions",
    response_model=Workflow,
    response_model_exclude_unset=True,
    responses=problems(401, 403, 404, 409),
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


# exclude_unset: a stage without a clock of its own has only status, due_at and limit.
@router.get(
    "/{event_id}/workflow",
    response_model=Workflow,
    response_model_exclude_unset=True,
    responses=problems(401, 404),
    summary="流转状态与时限 / status, deadline and clock",
)
def read_workflow(event_id: int, engine: EngineDep, settings: SettingsDep, user: CurrentUser):
    get_event(engine, event_id, user)  # 404 for a case this user may not see
    return service.get_workflow(engine, settings, event_id)


@router.get(
    "/{event_id}/log",
    response_model=CaseLog,
    responses=problems(401, 404),
    summary="流转日志 / the case log",
)
def read_log(event_id: int, engine: EngineDep, user: CurrentUser):
    get_event(engine, event_id, user)
    rows = service.get_log(engine, event_id)
    return {"event_id": event_id, "count": len(rows), "items": rows}
