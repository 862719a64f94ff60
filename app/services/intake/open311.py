"""Open311 GeoReport v2: the deployment's classes as services, its cases as service requests.

A second intake channel beside ``/api/v1/events``: a POSTed request lands as an ordinary case
through :meth:`app.services.intake.reports.ReportQueue.create_event`, and every case from every
channel reads back as a service request (they are all the city's cases).
Spec: https://wiki.open311.org/GeoReport_v2
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import anyio
from pydantic import ValidationError
from sqlalchemy import Engine

from app import states
from app.db.catalog import classes as class_repo
from app.db.intake import events as events_repo
from app.db.intake import open311 as repo
from app.errors import InvalidInputError, NotFoundError, UnknownClassError
from app.schemas.events import EventCreate
from app.schemas.values import within_postgres
from app.services.intake.reports import ReportQueue
from app.settings import Settings

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-21T00:00:00Z"  # when this endpoint's behaviour last changed
FORMATS = ("application/json", "text/xml")
CONTACT = "城市管理指挥中心，12319 城管服务热线 / city-management command centre, hotline 12319"
KEY_SERVICE = (
    "暂不需要 API 密钥，随账户功能提供 / no API key is needed yet; keys come with accounts"
)
MAX_REQUESTS = 1000  # the spec's ceiling on one GET requests answer
_BIGINT_MAX = 2**63 - 1  # larger ids cannot exist, and would overflow the bound parameter
WINDOW = timedelta(days=90)  # the spec's default and widest start_date..end_date span
PREFIX = {"event": "SJ", "component": "BJ"}
KIND_OF = {v: k for k, v in PREFIX.items()}
KIND_NAME = {"event": ("事件", "event"), "component": ("部件", "component")}
_SERVICE_CODE = re.compile(r"^(SJ|BJ)([0-9]{4,5})$")
# EventCreate field → the Open311 argument a client sent, so errors name what it knows.
_ARGUMENT = {
    "lon": "long",
    "lat": "lat",
    "location_text": "address_string",
    "photo_urls": "media_url",
    "reporter": "first_name/last_name",
    "component_identifier": "attribute[component_identifier]",
}
_CONTACT = ("email", "phone", "first_name", "last_name", "device_id", "account_id")


def discovery(endpoint_url: str) -> dict:
    """The Service Discovery document for the one production endpoint at ``endpoint_url``."""
    return {
        "changeset": CHANGESET,
        "contact": CONTACT,
        "key_service": KEY_SERVICE,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url,
                "changeset": CHANGESET,
                "type": "production",
                "formats": list(FORMATS),
            }
        ],
    }


def service_code(kind: str, code: str) -> str:
    """``SJ0102`` / ``BJ0101``: the practice prefixes keep codes unique across kinds."""
    return PREFIX[kind] + code


def list_services(engine: Engine, settings: Settings, lang: str) -> list[dict]:
    """Every class of the deployment's scheme as a GeoReport service."""
    with engine.connect() as conn:
        rows = class_repo.list_classes(conn, settings.class_scheme)
    return [_service(row, settings.class_scheme, lang) for row in rows]


def _service(row: dict, scheme: str, lang: str) -> dict:
    kind_zh, kind_en = KIND_NAME[row["kind"]]
    name_en = row["name_en"] or row["name"]
    if lang == "en":
        description = (
            f"{kind_en} class {row['code']} ({name_en}) in {row['major_name']}, scheme {scheme}"
        )
    else:
        description = (
            f"{kind_zh}类 {row['major_name']} › {row['name']}（{scheme} 分类代码 {row['code']}）"
        )
    keywords = dict.fromkeys(
        k for k in (kind_zh, row["major_name"], row["name"], row["name_en"], kind_en) if k
    )
    return {
        "service_code": service_code(row["kind"], row["code"]),
        "service_name": name_en if lang == "en" else row["name"],
        "description": description,
        # Only component classes take an attribute (the component identifier).
        "metadata": row["kind"] == "component",
        "type": "realtime",
        "keywords": ", ".join(keywords),
        "group": row["major_name"],
    }


def get_service_definition(engine: Engine, settings: Settings, code: str, lang: str) -> dict:
    """The attributes a service takes; 404 for a code this deployment does not publish."""
    row = _class_of(engine, settings, code)
    if row is None:
        raise NotFoundError(f"没有服务代码 {code}", f"service_code {code} not found")
    attributes = []
    if row["kind"] == "component":
        attributes.append(_identifier_attribute(row["code"], lang))
    return {"service_code": service_code(row["kind"], row["code"]), "attributes": attributes}


def _identifier_attribute(code: str, lang: str) -> dict:
    """The optional 部件标识码: admin code (6) + class code + sequence (6) digits."""
    digits, last = 12 + len(code), 6 + len(code)
    texts = {
        "zh": (
            f"{digits} 位数字，第 7–{last} 位为分类代码 {code}",
            "部件标识码（可选）：所报告的具体部件",
        ),
        "en": (
            f"{digits} digits; digits 7-{last} are the class code {code}",
            "Component identifier (optional): the exact component reported",
        ),
    }
    datatype_description, description = texts["en" if lang == "en" else "zh"]
    return {
        "variable": True,
        "code": "component_identifier",
        "datatype": "string",
        "required": False,
        "datatype_description": datatype_description,
        "order": 1,
        "description": description,
    }


def _parse_code(code: str | None) -> tuple[str, str] | None:
    """``SJ0102`` → ("event", "0102"); None when it is not a code this API publishes."""
    match = _SERVICE_CODE.match((code or "").strip().upper())
    return (KIND_OF[match[1]], match[2]) if match else None


def _class_of(engine: Engine, settings: Settings, code: str | None) -> dict | None:
    key = _parse_code(code)
    if key is None:
        return None
    with engine.connect() as conn:
        return class_repo.get_classes(conn, settings.class_scheme, {key}).get(key)


async def create_request(
    engine: Engine, reports: ReportQueue, settings: Settings, fields: Mapping[str, Any]
) -> dict:
    """Store a POSTed service request as a case; the spec's response item with its token."""
    # api_key is accepted and ignored: key checks (403 in the spec) arrive with accounts.
    fields = _flatten(fields)
    code = _text(fields, "service_code")
    if code is None:
        raise InvalidInputError("缺少 service_code", "service_code was not provided")
    row = await anyio.to_thread.run_sync(_class_of, engine, settings, code)
    if row is None:
        raise UnknownClassError(
            f"没有服务代码 {code}，可用代码见 services",
            f"service_code {code} not found; see services for valid codes",
        )
    report = _report(fields, row, *_location(fields))
    event, _ = await reports.create_event(report, reported_by=None, public_token=True)
    return {
        "service_request_id": str(event["id"]),
        "token": event["public_token"],
        "service_notice": event["service_notice"],
        "account_id": _text(fields, "account_id"),
    }


def _flatten(fields: Mapping[str, Any]) -> dict[str, Any]:
    """JSON bodies may nest ``attribute: {code: value}``; forms send ``attribute[code]``."""
    flat = dict(fields)
    nested = flat.pop("attribute", None)
    if isinstance(nested, Mapping):
        for key, value in nested.items():
            flat.setdefault(f"attribute[{key}]", value)
    return flat


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None or isinstance(value, Mapping):
        return None
    return str(value).strip() or None


def _location(fields: Mapping[str, Any]) -> tuple[float, float]:
    """(lon, lat) from ``long``/``lat``. The spec allows an address instead; assignment to a
    grid needs a point, so CityGrid requires one."""
    lat, lon = _text(fields, "lat"), _text(fields, "long")
    if lat is None or lon is None:
        raise InvalidInputError(
            "需要 lat 和 long（WGS84 经纬度）：案件按位置分配到单元网格，不能仅凭地址定位",
            "lat and long (WGS84) are required: cases are assigned to a grid by their point, "
            "and an address_string or address_id alone cannot be located",
        )
    try:
        lat_f, lon_f = float(lat), float(lon)
    except ValueError:
        lat_f = lon_f = math.nan
    if not (
        math.isfinite(lat_f)
        and math.isfinite(lon_f)
        and -90 <= lat_f <= 90
        and -180 <= lon_f <= 180
    ):
        raise InvalidInputError(
            f"lat/long 无效：{lat!r}, {lon!r}；应为 WGS84 十进制度数",
            f"invalid lat/long {lat!r}, {lon!r}: expected WGS84 decimal degrees "
            "(lat -90..90, long -180..180)",
        )
    return lon_f, lat_f


def _report(fields: Mapping[str, Any], row: dict, lon: float, lat: float) -> EventCreate:
    name = " ".join(p for p in (_text(fields, "first_name"), _text(fields, "last_name")) if p)
    contact = {k: v for k in _CONTACT if (v := _text(fields, k)) is not None}
    media = fields.get("media_url")
    media_urls = [m for m in (media if isinstance(media, list) else [media]) if m]
    component = _text(fields, "attribute[component_identifier]")
    try:
        return EventCreate(
            class_kind=row["kind"],
            class_code=row["code"],
            lon=lon,
            lat=lat,
            location_text=_text(fields, "address_string"),
            description=_text(fields, "description"),
            source="public_app",
            reporter=name or _text(fields, "email"),
            reporter_contact=contact or None,
            photo_urls=media_urls,
            component_identifier=component if row["kind"] == "component" else None,
        )
    except ValidationError as exc:
        where = "; ".join(
            f"{_ARGUMENT.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else 'request'}: {e['msg']}"
            for e in exc.errors()
        )
        raise InvalidInputError(f"请求参数无效：{where}", f"invalid request: {where}") from None


def find_requests(
    engine: Engine,
    settings: Settings,
    lang: str,
    *,
    service_request_id: str | None = None,
    service_code: str | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    status: str | None = None,
    now: datetime | None = None,
) -> list[dict]:
    """GET requests: the spec's filters over the public channels' cases, at most 1000,
    newest first."""
    if service_request_id:  # the spec: a list of ids overrides every other argument
        filters: dict[str, Any] = {"ids": _ids(service_request_id)}
    else:
        start, end = _window(start_date, end_date, now or datetime.now(UTC))
        filters = {"start": start, "end": end, "status": _status(status)}
        if service_code:  # the spec allows a comma-separated list
            keys = [_parse_code(code.strip()) for code in service_code.split(",")]
            if None in keys or len(keys) > 100:
                raise InvalidInputError(
                    f"service_code 无效：{service_code}", f"invalid service_code {service_code}"
                )
            filters.update(scheme=settings.class_scheme, classes=keys)
    sources = settings.open311_public_sources
    with engine.connect() as conn:
        rows = repo.find_requests(conn, **filters, sources=sources, limit=MAX_REQUESTS)
    return [_request(row, lang) for row in rows]


def _ids(value: str) -> list[int]:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not all(p.isdigit() and int(p) <= _BIGINT_MAX for p in parts) or len(parts) > MAX_REQUESTS:
        raise InvalidInputError(
            f"service_request_id 应为逗号分隔的编号（至多 {MAX_REQUESTS} 个）：{value}",
            f"service_request_id must be comma-separated ids (at most {MAX_REQUESTS}): {value}",
        )
    return [int(p) for p in parts]


def _status(value: str | None) -> Literal["open", "closed"] | None:
    wanted = {p.strip().lower() for p in (value or "").split(",") if p.strip()}
    if not wanted <= {"open", "closed"}:
        raise InvalidInputError(
            f"status 只能是 open 或 closed：{value}",
            f"status must be open and/or closed, comma-separated: {value}",
        )
    if len(wanted) == 1:
        return "open" if "open" in wanted else "closed"
    return None


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        # An unencoded "+08:00" in a query string arrives as " 08:00".
        when = datetime.fromisoformat(re.sub(r" (\d\d:?\d\d)$", r"+\1", value.strip()))
        within_postgres(when)
    except ValueError:
        when = None
    # The spec's w3 format always carries a zone; guessing one would shift a day's cases.
    if when is None or when.tzinfo is None:
        raise InvalidInputError(
            f"{name} 应为带时区（不超过 ±15:59）的 ISO 8601 时间，如 2026-11-21T00:00:00+08:00：{value}",
            f"{name} must be ISO 8601 with a zone (at most ±15:59), e.g. 2026-11-21T00:00:00Z: "
            f"{value}",
        )
    return when


def _window(
    start_date: str | None, end_date: str | None, now: datetime
) -> tuple[datetime, datetime | None]:
    """The requested_datetime range: never wider than the spec's 90 days."""
    start, end = _when(start_date, "start_date"), _when(end_date, "end_date")
    if start and end:
        if end < start or end - start > WINDOW:
            raise InvalidInputError(
                "end_date 须晚于 start_date，且跨度不超过 90 天",
                "end_date must follow start_date and the range may not span more than 90 days",
            )
        return start, end
    if start:
        return start, start + WINDOW
    if end:
        return end - WINDOW, end
    return now - WINDOW, None


def _iso(value: datetime | None) -> str | None:
    return value.replace(microsecond=0).isoformat() if value else None


def _request(row: dict, lang: str) -> dict:
    closed = row["status"] in states.TERMINAL
    state = states.STATES[row["status"]]
    # The spec: for a closed request, updated_datetime is when it was closed.
    updated = row["closed_at"] if closed and row["closed_at"] else row["updated_at"]
    return {
        "service_request_id": str(row["id"]),
        "status": "closed" if closed else "open",
        "status_notes": state.public_en if lang == "en" else state.public_zh,
        "service_name": (row["class_name_en"] or row["class_name"])
        if lang == "en"
        else row["class_name"],
        "service_code": service_code(row["class_kind"], row["class_code"]),
        # Free text and photos are not published: people type phone numbers and names into
        # them. The spec's fields stay, empty; position, class and progress are the record.
        "description": None,
        "agency_responsible": row["unit_name"],
        "service_notice": row["service_notice"],
        "requested_datetime": _iso(row["reported_at"]),
        "updated_datetime": _iso(updated),
        # The handling deadline exists once the workflow dispatched the case (派遣); before
        # that the field is absent, as GeoReport v2 allows, rather than an invented date.
        **({"expected_datetime": _iso(row["deadline_at"])} if row["deadline_at"] else {}),
        "address": None,
        "address_id": None,
        "zipcode": None,
        "lat": row["lat"],
        "long": row["lon"],
        "media_url": None,
    }


def get_request(engine: Engine, settings: Settings, request_id: str, lang: str) -> list[dict]:
    """GET request: a one-item list (as the spec has it), or 404 — also for a case of a
    channel Open311 does not publish (its existence is not revealed either)."""
    event = None
    if request_id.isdigit() and int(request_id) <= _BIGINT_MAX:
        with engine.connect() as conn:
            event = events_repo.get_event(conn, int(request_id))
    if event is None or event["source"] not in settings.open311_public_sources:
        raise NotFoundError(
            f"没有编号为 {request_id} 的服务请求", f"service_request_id {request_id} not found"
        )
    return [_request(event, lang)]


def get_token(engine: Engine, token: str) -> list[dict]:
    """The service request a token (returned by POST) stands for, or 404."""
    with engine.connect() as conn:
        event = events_repo.get_event_by_public_token(conn, token)
    if event is None:
        raise NotFoundError(f"没有令牌 {token}", f"token {token} not found")
    return [{"service_request_id": str(event["id"]), "token": token}]
