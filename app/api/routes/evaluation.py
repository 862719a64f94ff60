"""Performance evaluation 绩效评价 (GB/T 30428.4): areas, units and posts for a period."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse

from app.api.auth import OptionalUser, ensure_signed_in
from app.api.deps import EngineDep, SettingsDep
from app.api.openapi import with_problems
from app.schemas.evaluation import Evaluation
from app.schemas.values import Day
from app.services.workflow import evaluation as service

router = APIRouter(prefix="/api/v1/evaluation", tags=["evaluation 绩效评价"])
EVALUATION_READERS = ("analyst", "shift_leader")


# format=csv / md answer the same table as text.
TEXT = {"schema": {"type": "string"}}


@router.get(
    "",
    response_model=Evaluation,
    responses=with_problems(
        {200: {"content": {"text/csv": TEXT, "text/markdown": TEXT}}}, 401, 403
    ),
    summary="绩效评价 / indicators, composite score and grade",
)
def read_evaluation(
    engine: EngineDep,
    settings: SettingsDep,
    user: OptionalUser,
    level: Literal["area", "unit", "post"],
    from_: Annotated[Day, Query(alias="from", description="开始（含）/ start, inclusive")],
    to: Annotated[Day, Query(description="结束：日期含当天，时刻不含 / end")],
    area_level: Literal["district", "subdistrict", "community", "grid"] = "subdistrict",
    post: Literal["supervisor", "acceptor", "shift_leader", "dispatcher"] = "supervisor",
    within: str | None = Query(None, pattern="^[0-9]{6,15}$"),
    format: Literal["json", "csv", "md"] = "json",
):
    if level not in settings.public_evaluation_levels:
        # Units' and named staff's grades are for the command centre, not the public.
        ensure_signed_in(user, EVALUATION_READERS)
    result = service.evaluate(
        engine, settings, level, from_, to, area_level=area_level, post=post, within=within
    )
    if format == "csv":
        return PlainTextResponse(service.to_csv(result), media_type="text/csv; charset=utf-8")
    if format == "md":
        return PlainTextResponse(
            service.to_markdown(result), media_type="text/markdown; charset=utf-8"
        )
    return result
