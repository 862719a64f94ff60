"""What the OpenAPI document says about failures: the problem answers each route can give.

Every error leaves through ``app.api.problems`` as RFC 9457 ``application/problem+json``;
routes list the statuses they can answer with :func:`problems`, which points them all at one
``Problem`` schema. FastAPI's own 422 schema (``HTTPValidationError``) describes a body this
API never sends, so :func:`problems` always lists 422 and FastAPI leaves its default out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from app.api.problems import PROBLEM_MEDIA_TYPE, TYPE_BASE

REF = "#/components/schemas/{model}"


class ValidationIssue(BaseModel):
    """One refused request field, as FastAPI/pydantic name it."""

    loc: list[str | int] = Field(..., description="where: body/query/path/header, then the field")
    msg: str
    type: str


class Problem(BaseModel):
    """An error answer (RFC 9457 problem details), in Chinese unless ``?lang=en``.

    Besides the five standard members a problem may carry extensions; the ones listed here
    are the recurring ones, others (e.g. an import's ``problems``, a topology refusal's
    ``violations``) depend on the error, so the schema stays open.
    """

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "example": {
                "type": TYPE_BASE + "forbidden",
                "title": "无权执行此操作",
                "status": 403,
                "detail": "此操作需要以下角色之一：规划人员",
                "instance": "/api/v1/grids/merge",
                "required_roles": ["planner"],
            }
        },
    )

    type: str = Field(..., description="URI naming the kind of problem / 问题类型")
    title: str = Field(..., description="short, same for every problem of this type")
    status: int = Field(..., description="the HTTP status code")
    detail: str = Field(..., description="what went wrong this time / 具体原因")
    instance: str = Field(..., description="the request path")
    errors: list[ValidationIssue] | None = Field(
        None, description="422 request validation: every refused field"
    )
    required_roles: list[str] | None = Field(None, description="403: roles that would do")
    retry_after: int | None = Field(None, description="429: seconds to wait")


# One line per status: what the status means on this API (bilingual, like the summaries).
DESCRIPTIONS = {
    400: "请求无效 / bad request",
    401: "未登录或令牌无效 / not signed in, or the token is invalid or expired",
    403: "无权执行此操作：角色不符，或页面写请求缺 CSRF 令牌 / "
    "the account lacks a required role (or a cookie-authenticated write lacks X-CSRF-Token)",
    404: "未找到 / no such resource",
    409: "与当前状态冲突 / conflicts with the current state",
    422: "输入无效：参数校验或业务规则 / invalid input: request validation or a domain rule",
    429: "请求过于频繁 / too many requests: retry after retry_after seconds",
    503: "数据库或服务暂不可用 / the database or service is unavailable; retry shortly",
}
# Every route validates its input and reaches the database.
ALWAYS = (422, 503)


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry listing the problem answers ``statuses`` (plus 422 and 503)."""
    content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": REF.format(model="Problem")}}}
    return {
        status: {"description": DESCRIPTIONS[status], "content": content}
        for status in sorted({*statuses, *ALWAYS})
    }


def with_problems(responses: Mapping[int | str, dict[str, Any]], *statuses: int) -> dict:
    """``responses`` (e.g. a 200's other media types) plus :func:`problems` of ``statuses``."""
    return {**responses, **problems(*statuses)}


FASTAPI_422 = "#/components/schemas/HTTPValidationError"


def _replace_default_422(document: dict[str, Any]) -> None:
    """FastAPI's own 422 (a route that does not list one, e.g. a page) becomes the problem
    this API really sends; Open311 paths answer 400 instead and lose it."""
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            answer = operation.get("responses", {}).get("422", {})
            schema = answer.get("content", {}).get("application/json", {}).get("schema", {})
            if schema.get("$ref") != FASTAPI_422:
                continue
            if path.startswith("/open311/"):
                del operation["responses"]["422"]
            else:
                operation["responses"]["422"] = problems(422)[422]


class Open311Error(BaseModel):
    """One error of an Open311 answer: GeoReport v2 clients parse only this shape."""

    code: int = Field(..., description="the HTTP status code")
    description: str


OPEN311_DESCRIPTIONS = {
    400: "请求无效（参数、分类或位置）/ bad request: arguments, service_code or location",
    404: "未找到（请求、令牌或格式）/ no such request, token or format",
    429: "提交过于频繁 / too many submissions",
    503: "数据库不可用 / database unavailable",
}


def open311_errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` entry of an Open311 route: the spec's error list, JSON or XML
    (``.xml`` paths), for ``statuses`` plus 400 (what 422 becomes there), 404 (an unknown
    format) and 503."""
    content = {
        "application/json": {
            "schema": {"type": "array", "items": {"$ref": REF.format(model="Open311Error")}}
        },
        "text/xml": {"schema": {"type": "string", "description": "<errors><error>…"}},
    }
    return {
        status: {"description": OPEN311_DESCRIPTIONS[status], "content": content}
        for status in sorted({*statuses, 400, 404, 503})
    }


# Models only referred to from ``responses=`` content (a second media type of a 200): FastAPI
# publishes the schemas of response models only, so install_openapi adds these.
_REFERRED: dict[str, type[BaseModel]] = {}


def schema_ref(model: type[BaseModel]) -> dict[str, str]:
    """``{"$ref": …}`` to ``model``'s schema, which the document will publish."""
    _REFERRED[model.__name__] = model
    return {"$ref": REF.format(model=model.__name__)}


def install_openapi(app: FastAPI) -> None:
    """Publish the ``Problem`` schema the routes' error answers refer to."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        document = build()  # cached by FastAPI: adding the schemas again changes nothing
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        _replace_default_422(document)
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        models: list[type[BaseModel]] = [Problem, Open311Error, *_REFERRED.values()]
        for model in models:
            schema = model.model_json_schema(ref_template=REF)
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        return document

    app.openapi = openapi  # type: ignore[method-assign]
