"""Events 事件/案件: intake with spatial assignment, preview, read."""

from fastapi import APIRouter, Header

from app.api.auth import CurrentUser, require
from app.api.deps import EngineDep, IntakeDep, SettingsDep
from app.api.responses import FastJSONResponse, model_response
from app.errors import InvalidInputError
from app.schemas.events import AssignRequest, EventCreate, EventOut
from app.services import events as service

router = APIRouter(prefix="/api/v1/events", tags=["events 案件"])


# Who files cases: supervisors on patrol, acceptors (hotline, video, higher-level orders) and
# the command centre's shift leaders and dispatchers.
REPORTERS = ("supervisor", "acceptor", "shift_leader", "dispatcher")


@router.post(
    "",
    status_code=201,
    response_model=EventOut,
    summary="上报事件 / report an event",
    dependencies=[require(*REPORTERS)],
)
async def create_event(
    body: EventCreate,
    intake: IntakeDep,
    settings: SettingsDep,
    idempotency_key: str | None = Header(None, max_length=128),
):
    if idempotency_key:
        if body.idempotency_key and body.idempotency_key != idempotency_key:
            raise InvalidInputError(
                "请求头与请求体中的幂等键不一致",
                "Idempotency-Key header and body idempotency_key differ",
            )
        body.idempotency_key = idempotency_key
    event, created = await service.create_event(intake, settings, body)
    headers = {"Location": f"/api/v1/events/{event['id']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return model_response(EventOut, event, status_code=201 if created else 200, headers=headers)


@router.post("/assign", summary="预览分派（不保存）/ assign points without storing")
async def assign_events(body: AssignRequest, intake: IntakeDep, settings: SettingsDep):
    results = await service.preview_assignments(intake, settings, body.points, body.at)
    return FastJSONResponse({"count": len(results), "results": results})


@router.get("/{event_id}", response_model=EventOut, summary="案件详情 / one case")
def read_event(event_id: int, engine: EngineDep, user: CurrentUser):
    return service.get_event(engine, event_id, user)
