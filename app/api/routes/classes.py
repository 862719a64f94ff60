"""Component and event classes of the deployment's scheme, and a city's own classes."""

from fastapi import APIRouter, Response

from app.api.audit import audit_object
from app.api.auth import require
from app.api.deps import EngineDep, SettingsDep
from app.api.openapi import problems
from app.schemas.classes import ClassIn, ClassList, ClassOut, Kind
from app.services.catalog import classes as service

router = APIRouter(prefix="/api/v1/classes", tags=["classes 分类"])


@router.get("", response_model=ClassList, responses=problems(), summary="部件/事件分类 / classes")
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
    response_model=ClassOut,
    responses=problems(401, 403, 409),
    summary="新增本地分类 / add a city class",
    dependencies=[require("planner")],
)
def create_class(body: ClassIn, response: Response, engine: EngineDep, settings: SettingsDep):
    row = service.create_class(engine, settings.class_scheme, body.model_dump())
    response.headers["Location"] = f"/api/v1/classes/{row['code']}?kind={row['kind']}"
    audit_object(class_kind=row["kind"], class_code=row["code"])
    return row


@router.get(
    "/{code}", response_model=ClassOut, responses=problems(404), summary="分类详情 / one class"
)
def read_class(code: str, engine: EngineDep, settings: SettingsDep, kind: Kind | None = None):
    return service.get_class(engine, settings.class_scheme, code, kind)
