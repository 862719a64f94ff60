"""Repository: what the health check reads (one round trip)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

HEALTH = text(
    "SELECT postgis_lib_version() AS postgis, "
    "(SELECT version_num FROM alembic_version LIMIT 1) AS schema_revision, "
    "(SELECT count(*) FROM grid WHERE valid_to IS NULL) AS grids"
)


def database_facts(session: Session) -> dict:
    """PostGIS version, schema revision and the number of current grids."""
    return dict(session.execute(HEALTH).mappings().one())
