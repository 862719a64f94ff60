"""Dependencies shared by the routers: settings, one DB session per request, the language."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from app.db.pool import IntakeDatabase
from app.services.intake.reports import ReportQueue
from app.settings import Settings


# Plain look-ups are ``async def``: FastAPI runs a sync dependency in a worker thread, and the
# hop costs more than the look-up (the intake has five dependencies).
async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


async def get_intake(request: Request) -> IntakeDatabase:
    return request.app.state.intake


async def get_reports(request: Request) -> ReportQueue:
    return request.app.state.reports


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.sessionmaker() as session:
        yield session


async def get_language(
    request: Request, lang: str | None = Query(None, pattern="^(zh|en)$")
) -> str:
    """``?lang=`` first, then Accept-Language, then the deployment's default."""
    return language_of(request, lang)


def language_of(request: Request, lang: str | None = None) -> str:
    if lang:
        return lang
    accept = request.headers.get("accept-language", "").lower()
    if accept.startswith("en"):
        return "en"
    if accept.startswith("zh"):
        return "zh"
    return request.app.state.settings.language


SettingsDep = Annotated[Settings, Depends(get_settings)]
EngineDep = Annotated[Engine, Depends(get_engine)]
IntakeDep = Annotated[IntakeDatabase, Depends(get_intake)]
ReportsDep = Annotated[ReportQueue, Depends(get_reports)]
SessionDep = Annotated[Session, Depends(get_session)]
LanguageDep = Annotated[str, Depends(get_language)]
