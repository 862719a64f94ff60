"""Migrations run up and down cleanly on an empty database, and match the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from geoalchemy2 import alembic_helpers
from sqlalchemy import create_engine, inspect

from app.db.migrate import current, downgrade, upgrade
from app.db.models import metadata
from tests.conftest import create_database, drop_database

TABLES = {
    "admin_area",
    "responsible_unit",
    "grid",
    "street",
    "street_segment",
    "classification",
    "component",
    "event",
    "case_log",
    "dispatch_rule",
}


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_up_down_up_on_empty_database(server_url):
    name = "citygrid_migration_roundtrip"
    url = create_database(server_url, name)
    try:
        upgrade(url)
        assert current(url) == "0011"  # the newest migration
        assert _tables(url) >= TABLES
        downgrade(url, "base")
        assert current(url) is None
        assert not TABLES & _tables(url)
        upgrade(url)
        assert _tables(url) >= TABLES
    finally:
        drop_database(server_url, name)


def test_models_match_migrations(db_url):
    engine = create_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_object": alembic_helpers.include_object, "compare_type": True}
        )
        assert compare_metadata(context, metadata) == []
    engine.dispose()
