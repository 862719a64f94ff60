"""Fixtures: a real, throwaway PostGIS built by the migrations.

One template database is migrated and seeded per test session; each test that writes gets
its own copy (``CREATE DATABASE … TEMPLATE``), so tests never see each other's rows and never
touch the development database. The server is ``TEST_DATABASE_URL`` when set, else the
embedded cluster started by the same launcher `make run` uses.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg2
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from app import PROJECT_ROOT
from app.db.migrate import upgrade
from app.db.session import make_engine, normalise_url
from app.settings import Settings

SHARED_DIR = Path(os.environ.get("CITYGRID_SHARED", PROJECT_ROOT.parent / "shared"))
_counter = itertools.count()
DEMO_NOW = datetime(2026, 11, 1, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def _server_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return normalise_url(url)
    from app.embedded import EmbeddedPostgres

    return EmbeddedPostgres(Settings().home).start()


def _admin(server_url: str):
    url = make_url(server_url)
    conn = psycopg2.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database or "postgres",
    )
    conn.autocommit = True
    return conn


def create_database(server_url: str, name: str, template: str | None = None) -> str:
    conn = _admin(server_url)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if template:
            # FILE_COPY copies the small template faster than the default WAL_LOG strategy.
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}" STRATEGY FILE_COPY')
        else:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, name: str) -> None:
    conn = _admin(server_url)
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture(scope="session")
def server_url() -> str:
    return _server_url()


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    """A migrated, class-seeded database used only as a template."""
    from app.services.catalog.classes import load_standard_classes
    from app.services.workflow.calendar import load_workflow_defaults

    name = f"citygrid_tpl_{os.getpid()}"
    url = create_database(server_url, name)
    upgrade(url)
    engine = make_engine(url)
    load_standard_classes(engine)
    load_workflow_defaults(engine, Settings(database_url=url))
    engine.dispose()
    yield name
    drop_database(server_url, name)


@pytest.fixture()
def new_database(server_url: str, template_db: str):
    """A factory: ``new_database()`` returns the URL of a fresh copy of the template."""
    created: list[str] = []

    def factory() -> str:
        name = f"citygrid_t_{os.getpid()}_{next(_counter)}"
        created.append(name)
        return create_database(server_url, name, template=template_db)

    yield factory
    for name in created:
        drop_database(server_url, name)


@pytest.fixture()
def db_url(new_database) -> str:
    """A fresh migrated database for this test only."""
    return new_database()


@pytest.fixture()
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture()
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, home=tmp_path / "home")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared``; skipped where absent, but a failure in CI (CI=true), where it must exist."""
    if not (SHARED_DIR / "realdata").is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the shared reference data is missing at {SHARED_DIR}")
        pytest.skip(f"shared reference data not found at {SHARED_DIR}")
    return SHARED_DIR


@pytest.fixture(scope="session")
def demo_template(server_url: str, template_db: str) -> Iterator[str]:
    """A database holding the committed demo district (data/grids/), loaded once per session
    through the same loader `make run` uses. Treat it as read-only; copy it to write."""
    from app.services.demo.load import load_demo

    name = f"citygrid_demo_{os.getpid()}"
    url = create_database(server_url, name, template=template_db)
    engine = make_engine(url)
    # A fixed "now" (the day after the committed year ends): the same cases every run.
    load_demo(engine, Settings(database_url=url), Settings().demo_dir, now=DEMO_NOW)
    engine.dispose()
    yield name
    drop_database(server_url, name)


@pytest.fixture(scope="session")
def demo_url(server_url: str, demo_template: str) -> Iterator[str]:
    """A shared copy of the demo database (read-only by convention; the template itself must
    stay free of connections so `demo_copy` can clone it)."""
    name = f"citygrid_demoro_{os.getpid()}"
    yield create_database(server_url, name, template=demo_template)
    drop_database(server_url, name)


@pytest.fixture()
def demo_copy(server_url: str, demo_template: str) -> Iterator[str]:
    """A private, writable copy of the demo database for one test."""
    name = f"citygrid_democopy_{os.getpid()}_{next(_counter)}"
    yield create_database(server_url, name, template=demo_template)
    drop_database(server_url, name)
