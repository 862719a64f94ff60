"""Database URL resolution and engine creation (one engine per app or CLI command)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine, create_engine

from app.settings import Settings


def resolve_database_url(settings: Settings) -> str:
    """``DATABASE_URL`` when set (never starting a server), else the embedded cluster's URL."""
    if settings.database_url:
        return normalise_url(settings.database_url)
    from app.embedded import EmbeddedPostgres

    return EmbeddedPostgres(settings.home).start()


def normalise_url(url: str) -> str:
    """Accept libpq-style ``postgres://`` / ``postgresql://`` URLs and pick psycopg2."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine for ``url``; sessions use UTC so timestamps round-trip unchanged, no JIT."""
    return create_engine(
        normalise_url(url),
        # Connections are kept: a new one costs ~30-100 ms before its first spatial query
        # (PostGIS and PROJ load), so an overflow connection, opened for a burst and closed
        # after it, put that on a request's latency.
        pool_size=20,
        max_overflow=10,
        pool_pre_ping=True,
        # JIT compiles big plans for ~1.5 s before running them: ruinous for spatial queries
        # whose cost estimates are high but whose runs take milliseconds.
        connect_args={"options": "-c timezone=UTC -c jit=off"},
    )


def driver_cursor(conn: Connection) -> Any:
    """A psycopg2 cursor on ``conn``'s own connection, for COPY (SQLAlchemy has none)."""
    dbapi = conn.connection.driver_connection
    # None only after the pool invalidated the connection, when ``conn`` is unusable anyway.
    assert dbapi is not None
    return dbapi.cursor()
