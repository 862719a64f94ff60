"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.orm import sessionmaker

from app.api.problems import install_problem_handlers
from app.api.routes import (
    areas,
    classes,
    components,
    dispatch_rules,
    events,
    grids,
    health,
    home,
    open311,
    streets,
    units,
)
from app.db.session import make_engine, resolve_database_url
from app.settings import Settings

DESCRIPTION = """
CityGrid 数字化城管：万米单元网格管理法与城市部件事件管理法。

Digital city management on the unit-grid and component/event methods. Coordinates are
WGS84 (EPSG:4326) lon/lat; areas and lengths are in metres. Errors are
`application/problem+json` (RFC 9457); add `?lang=en` or `Accept-Language: en` for English.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings``; the engine lives for the app's lifespan."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(resolve_database_url(settings))
        app.state.engine = engine
        app.state.sessionmaker = sessionmaker(engine, expire_on_commit=False)
        yield
        engine.dispose()

    app = FastAPI(title="CityGrid 数字化城管", version="0.1.0", description=DESCRIPTION,
                  lifespan=lifespan)
    app.state.settings = settings
    install_problem_handlers(app)
    for module in (health, home, grids, areas, streets, units, components, classes, events,
                   dispatch_rules, open311):
        app.include_router(module.router)
    return app
