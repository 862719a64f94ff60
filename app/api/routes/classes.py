"""Component and event classes of the deployment's scheme."""

from typing import Literal

from fastapi import APIRouter

from app.api.deps import SessionDep, SettingsDep
from app.services import catalog as service

router = APIRouter(prefix="/api/v1/classes", tags=["classes 分类"])


@router.get("", summary="部件/事件分类 / classes")
def read_classes(
    session: SessionDep, settings: SettingsDep, kind: Literal["component", "event"] | None = None
):
    rows = service.list_classes(session, settings.class_scheme, kind)
    return {"scheme": settings.class_scheme, "count": len(rows), "items": rows}
