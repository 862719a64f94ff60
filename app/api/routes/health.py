"""Liveness with a real database round trip."""

from fastapi import APIRouter
from sqlalchemy import text

from app.api.deps import SessionDep, SettingsDep
from app.api.openapi import problems
from app.schemas.health import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health, responses=problems(), summary="健康检查 / health")
def read_health(session: SessionDep, settings: SettingsDep):
    row = (
        session.execute(
            text(
                "SELECT postgis_lib_version() AS postgis, "
                "(SELECT version_num FROM alembic_version LIMIT 1) AS schema_revision, "
                "(SELECT count(*) FROM grid WHERE valid_to IS NULL) AS grids"
            )
        )
        .mappings()
        .one()
    )
    return {"status": "ok", "database": "ok", "class_scheme": settings.class_scheme, **row}
