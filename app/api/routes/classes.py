"""Component and event classes of the deployment's scheme, and a city's own classes."""

from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from app.api.audit import audit_object
from app.api.auth import require
from app.api.deps import EngineDep, SettingsDep
from app.services.catalog import classes as service

router = APIRouter(prefix="/api/v1/classes", tags=["classes 分类"])
Kind = Literal["component", "event"]


class ClassIn(BaseModel):
    """A city's own class (本地扩展分类) in the deployment's scheme."""

    code: str = Field(
        ..., pattern=r"^\d{4,5}$", description="4 digits (2013) or 5 (2026)", examples=["2140"]
    )
    kind: Kind = "component"
    name: str = Field(..., min_length=1, description="中文名称 / Chinese name")
    name_en: str | None = None
    major_code: str | None = Field(
        None, pattern=r"^\d{2}$", description="optional: the first two digits of code"
    )
    major_name: str | None = Field(None, description="required when the major is new")
    geometry_type: Literal["point", "line", "polygon", "Point", "LineString", "Polygon"] | None = (
        Field(None, description="component classes: how the component is drawn (default point)")
    )
    source: str | None = None


@router.get("", summary="部件/事件分类 / classes")
def read_classes(
    engine: EngineDep,
    settings: SettingsDep,
    kind: Kind | None = None,
    custom: bool | None = None,
    major: str | None = None,
):
    rows = service.list_classes(engine, settings.class_scheme, kind, custom, major)
    return {"scheme": settings.class_scheme, "count": len(rows), "items": rows}


@router.post(
    "",
    status_code=201,
    summary="新增本地分类 / add a city class",
    dependencies=[require("planner")],
)
def create_class(body: ClassIn, response: Response, engine: EngineDep, settings: SettingsDep):
    row = service.create_class(engine, settings.class_scheme, body.model_dump())
    response.headers["Location"] = f"/api/v1/classes/{row['code']}?kind={row['kind']}"
    audit_object(class_kind=row["kind"], class_code=row["code"])
    return row


@router.get("/{code}", summary="分类详情 / one class")
def read_class(code: str, engine: EngineDep, settings: SettingsDep, kind: Kind | None = None):
    return service.get_class(engine, settings.class_scheme, code, kind)
