"""Run the Alembic migrations programmatically (CLI, `make run` and the test fixtures)."""

from __future__ import annotations

from alembic import command
from alembic.config import Config

from app import PROJECT_ROOT
from app.db.session import normalise_url


def _config(url: str) -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    # '%' must be doubled for configparser (passwords may contain it).
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at ``url`` up to ``revision``."""
    command.upgrade(_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the schema at ``url`` down to ``revision``."""
    command.downgrade(_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database at ``url`` is at, or None when unmigrated."""
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy import create_engine

    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
