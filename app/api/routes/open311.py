"""Open311 GeoReport v2 (https://wiki.open311.org/GeoReport_v2) in JSON and XML.

Errors on these paths use the spec's shape — ``[{code, description}]`` or
``<errors><error>…`` in the requested format — not problem+json, because Open311 clients parse
only that. :class:`Open311Route` renders them, so ``app.api.problems`` stays the single
renderer everywhere else.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from app.api.audit import audit_object
from app.api.deps import EngineDep, LanguageDep, ReportsDep, SettingsDep
from app.api.openapi import open311_errors
from app.api.problems import describe, with_retry_after
from app.api.ratelimit import limit_public_writes
from app.errors import DomainError, InvalidInputError, NotFoundError
from app.schemas.open311 import (
    CreatedRequests,
    Discovery,
    RequestTokens,
    ServiceDefinition,
    ServiceRequests,
    Services,
)
from app.services.intake import open311 as service

XML_MEDIA_TYPE = "text/xml; charset=utf-8"
JSON_MEDIA_TYPE = "application/json"
# List elements of the spec's XML and the name of each item inside them.
_ITEM = {
    "services": "service",
    "service_requests": "request",
    "endpoints": "endpoint",
    "formats": "format",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
}
# Characters XML 1.0 cannot carry at all; dropped so a stray one cannot break a document.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, child in value.items():
            _fill(ET.SubElement(element, key), child)
    elif isinstance(value, list):
        for child in value:
            _fill(ET.SubElement(element, _ITEM[element.tag]), child)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _NOT_XML.sub("", str(value))


def render(fmt: str, root: str, payload: Any, status: int = 200, **kw: Any) -> Response:
    """``payload`` as JSON, or as XML under ``<root>`` with the spec's element names."""
    if fmt == "xml":
        element = ET.Element(root)
        _fill(element, payload)
        # The spec asks for the declaration with encoding="UTF-8" before the root element.
        body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(
            element, "utf-8", xml_declaration=False
        )
        return Response(body, status, media_type=XML_MEDIA_TYPE, **kw)
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status, media_type=JSON_MEDIA_TYPE, **kw)


def error_response(request: Request, status: int, description: str, **kw: Any) -> Response:
    """The spec's error list, in the format the path asks for (JSON unless ``.xml``)."""
    fmt = "xml" if request.url.path.endswith(".xml") else "json"
    return render(fmt, "errors", [{"code": status, "description": description}], status, **kw)


def _error(request: Request, exc: Exception) -> Response:
    """The app's one error mapping, in the spec's terms: request errors (unknown
    service_code, bad input, outside the area) are 400; 404, 409 and 429 keep their meaning."""
    found = describe(request, exc)
    status = 400 if found.status == 422 else found.status
    return with_retry_after(error_response(request, status, found.detail), found)


class Open311Route(APIRoute):
    """A route whose errors come out in the GeoReport v2 error format."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except (DomainError, RequestValidationError, StarletteHTTPException, DBAPIError) as exc:
                return _error(request, exc)

        return handle


router = APIRouter(prefix="/open311", tags=["open311 GeoReport v2"], route_class=Open311Route)


def response_format(fmt: Annotated[str, Path(description="json or xml")]) -> str:
    """The format named by the path's extension; anything else is an unknown resource."""
    if fmt not in ("json", "xml"):
        raise NotFoundError(
            f"不支持的格式 .{fmt}（可用 .json、.xml）",
            f"format .{fmt} is not supported; use .json or .xml",
        )
    return fmt


FormatDep = Annotated[str, Depends(response_format)]


async def intake_fields(request: Request) -> dict[str, Any]:
    """POST arguments: form-encoded per the spec, or a JSON object."""
    if request.headers.get("content-type", "").split(";")[0].strip() == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise InvalidInputError("请求体应为 JSON 对象", "the body must be a JSON object")
        return body
    fields: dict[str, list[str]] = {}
    for key, value in (await request.form()).multi_items():
        if isinstance(value, str):  # GeoReport v2 takes media as media_url, not uploads
            fields.setdefault(key, []).append(value)
    return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}


_POST_FIELDS = (
    "api_key",
    "service_code",
    "lat",
    "long",
    "address_string",
    "email",
    "device_id",
    "account_id",
    "first_name",
    "last_name",
    "phone",
    "description",
    "media_url",
    "attribute[component_identifier]",
)
_POST_SCHEMA = {
    "type": "object",
    "required": ["service_code", "lat", "long"],
    "properties": {f: {"type": "string"} for f in _POST_FIELDS},
}
# Handlers render JSON or XML themselves (render()): the models document the JSON answer.
XML = {200: {"content": {"text/xml": {"schema": {"type": "string"}}}}}


def answers(model: type, *errors: int, status: int = 200) -> dict[str, Any]:
    """The route arguments documenting ``model`` (JSON), its XML twin and the errors."""
    xml = {status: XML[200]}
    return {"response_model": model, "responses": {**xml, **open311_errors(*errors)}}


_POST_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            media: {"schema": _POST_SCHEMA}
            for media in ("application/x-www-form-urlencoded", "application/json")
        },
    }
}


@router.get("/discovery.{fmt}", **answers(Discovery), summary="服务发现 / service discovery")
@router.get("/v2/discovery.{fmt}", **answers(Discovery), summary="服务发现 / service discovery")
def read_discovery(request: Request, fmt: FormatDep):
    endpoint = str(request.base_url).rstrip("/") + router.prefix + "/v2"
    return render(fmt, "discovery", service.discovery(endpoint))


@router.get(
    "/v2/services.{fmt}", **answers(Services), summary="服务（部件/事件分类）列表 / services"
)
def read_services(fmt: FormatDep, engine: EngineDep, settings: SettingsDep, lang: LanguageDep):
    return render(fmt, "services", service.list_services(engine, settings, lang))


@router.get(
    "/v2/services/{service_code}.{fmt}",
    **answers(ServiceDefinition),
    summary="服务定义 / service definition",
)
def read_service_definition(
    service_code: str, fmt: FormatDep, engine: EngineDep, settings: SettingsDep, lang: LanguageDep
):
    definition = service.get_service_definition(engine, settings, service_code, lang)
    return render(fmt, "service_definition", definition)


@router.post(
    "/v2/requests.{fmt}",
    status_code=201,
    openapi_extra=_POST_BODY,
    **answers(CreatedRequests, 429, status=201),
    summary="提交服务请求（上报案件）/ post a service request",
)
async def create_request(
    _: Annotated[None, Depends(limit_public_writes)],
    fields: Annotated[dict, Depends(intake_fields)],
    fmt: FormatDep,
    engine: EngineDep,
    reports: ReportsDep,
    settings: SettingsDep,
):
    created = await service.create_request(engine, reports, settings, fields)
    audit_object(event_id=int(created["service_request_id"]))
    location = f"{router.prefix}/v2/requests/{created['service_request_id']}.{fmt}"
    return render(fmt, "service_requests", [created], 201, headers={"Location": location})


@router.get(
    "/v2/requests.{fmt}",
    **answers(ServiceRequests),
    summary="查询服务请求（公众渠道的案件）/ service requests",
)
def read_requests(
    fmt: FormatDep,
    engine: EngineDep,
    settings: SettingsDep,
    lang: LanguageDep,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
):
    requests = service.find_requests(
        engine,
        settings,
        lang,
        service_request_id=service_request_id,
        service_code=service_code,
        start_date=start_date,
        end_date=end_date,
        status=status,
    )
    return render(fmt, "service_requests", requests)


@router.get(
    "/v2/requests/{service_request_id}.{fmt}",
    **answers(ServiceRequests),
    summary="单个服务请求 / one request",
)
def read_request(
    service_request_id: str,
    fmt: FormatDep,
    engine: EngineDep,
    settings: SettingsDep,
    lang: LanguageDep,
):
    found = service.get_request(engine, settings, service_request_id, lang)
    return render(fmt, "service_requests", found)


@router.get(
    "/v2/tokens/{token}.{fmt}",
    **answers(RequestTokens),
    summary="令牌换取请求编号 / request id from a token",
)
def read_token(token: str, fmt: FormatDep, engine: EngineDep):
    return render(fmt, "service_requests", service.get_token(engine, token))


@router.api_route(
    "/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
)
def unknown_resource(request: Request, path: str):
    # Registered last: whatever no route above took is still answered in the spec's format.
    # A route above that knows the path but not the method makes this a 405, not a 404.
    allowed = sorted(
        {
            m
            for r in router.routes
            if isinstance(r, APIRoute) and r.matches(request.scope)[0] is Match.PARTIAL
            for m in r.methods or ()
        }
    )
    if allowed:
        return error_response(
            request,
            405,
            f"method {request.method} not allowed here",
            headers={"Allow": ", ".join(allowed)},
        )
    raise NotFoundError(f"没有资源 /open311/{path}", f"no resource /open311/{path}")
