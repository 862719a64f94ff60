"""Events 事件/案件: intake with spatial assignment, preview, read."""

from collections.abc import Callable, Coroutine

from fastapi import APIRouter, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from app.api.audit import audit_object
from app.api.auth import (
    CurrentUser,
    OptionalUser,
    authenticate,
    ensure_role,
    oauth2,
    require,
)
from app.api.deps import EngineDep, IntakeDep, ReportsDep, SettingsDep
from app.api.openapi import problems
from app.api.params import NUL, check_input, has_nul
from app.api.ratelimit import client_address, count
from app.api.responses import FastJSONResponse, model_response
from app.errors import InvalidInputError
from app.schemas.events import AssignRequest, AssignResults, EventCreate, EventOut
from app.services.intake import events as service

router = APIRouter(prefix="/api/v1/events", tags=["events 案件"])


# Who files cases: supervisors on patrol, acceptors (hotline, video, higher-level orders) and
# the command centre's shift leaders and dispatchers.
REPORTERS = ("supervisor", "acceptor", "shift_leader", "dispatcher")
KEY_MAX = 128


class ReportRoute(APIRoute):
    """The intake route, declared like any other (its body, header, roles and response are
    what the OpenAPI document shows) but answered by a handler that takes those steps itself:
    sign-in and role, the JSON body as EventCreate, the Idempotency-Key header. FastAPI's
    general resolution of the route's eight dependencies was a third of a report's server
    time (~0.5 ms). Errors are the same exceptions, mapped in the one place as everywhere.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[None, None, Response]]:
        async def handle(request: Request) -> Response:
            # This handler skips the app's dependencies; it checks the body as it reads it.
            await check_input(request, body=False)
            user = ensure_role(await authenticate(request, await oauth2(request)), REPORTERS)
            body = await _json_body(request)
            key = request.headers.get("idempotency-key")
            if key is not None and len(key) > KEY_MAX:
                raise RequestValidationError(
                    [
                        {
                            "type": "string_too_long",
                            "loc": ("header", "idempotency-key"),
                            "msg": f"String should have at most {KEY_MAX} characters",
                            "input": key,
                        }
                    ]
                )
            return await create_event(body, user, request.app.state.reports, key)

        return handle


async def _json_body(request: Request) -> EventCreate:
    """The body as EventCreate, or 422 worded as FastAPI words it."""
    raw = await request.body()
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not raw:
        error = {"type": "missing", "msg": "Field required", "input": None}
    elif has_nul(raw):
        error = {"type": "string_nul", "msg": NUL, "input": None}
    elif media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        error = {
            "type": "model_attributes_type",
            "input": None,
            "msg": "Input should be a JSON object (Content-Type: application/json)",
        }
    else:
        try:
            return EventCreate.model_validate_json(raw)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from None
    raise RequestValidationError([{**error, "loc": ("body",)}])


async def create_event(
    body: EventCreate,
    user: CurrentUser,
    reports: ReportsDep,
    idempotency_key: str | None = Header(None, max_length=KEY_MAX),
):
    if idempotency_key:
        if body.idempotency_key and body.idempotency_key != idempotency_key:
            raise InvalidInputError(
                "请求头与请求体中的幂等键不一致",
                "Idempotency-Key header and body idempotency_key differ",
            )
        body.idempotency_key = idempotency_key
    # The case log and evaluation name the signed-in account; ``reporter`` stays free text.
    event, created = await reports.create_event(body, reported_by=user.username)
    audit_object(event_id=event["id"])
    headers = {"Location": f"/api/v1/events/{event['id']}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return model_response(EventOut, event, status_code=201 if created else 200, headers=headers)


router.add_api_route(
    "",
    create_event,
    methods=["POST"],
    status_code=201,
    # The handler returns a Response (model_response): the model documents the answer and
    # FastAPI validates nothing per request.
    response_model=EventOut,
    responses={
        200: {"description": "幂等重放 / replay of an earlier report", "model": EventOut},
        **problems(401, 403, 409),
    },
    summary="上报事件 / report an event",
    dependencies=[require(*REPORTERS)],
    route_class_override=ReportRoute,
)


@router.post(
    "/assign",
    response_model=AssignResults,
    responses=problems(429),
    summary="预览分派（不保存）/ assign points without storing",
)
async def assign_events(
    request: Request,
    body: AssignRequest,
    intake: IntakeDep,
    settings: SettingsDep,
    engine: EngineDep,
    user: OptionalUser,
):
    if user is None:
        limit = settings.preview_public_rate_per_minute
        await run_in_threadpool(count, engine, "preview", client_address(request), limit)
    results = await service.preview_assignments(
        intake, settings, body.points, body.at, signed_in=user is not None
    )
    return FastJSONResponse({"count": len(results), "results": results})


@router.get(
    "/{event_id}",
    response_model=EventOut,
    responses=problems(401, 404),
    summary="案件详情 / one case",
)
def read_event(event_id: int, engine: EngineDep, user: CurrentUser):
    return service.get_event(engine, event_id, user)
