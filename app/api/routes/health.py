"""Liveness with a real database round trip."""

from fastapi import APIRouter

from app.api.deps import SessionDep, SettingsDep
from app.api.openapi import problems
from app.db.health import database_facts
from app.schemas.health import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses=problems(), summary="健康检查 / health")
def read_health(session: SessionDep, settings: SettingsDep):
    facts = database_facts(session)
    return {"status": "ok", "database": "ok", "class_scheme": settings.class_scheme, **facts}
