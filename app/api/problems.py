"""The one place errors become HTTP responses: RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import html
import logging
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.deps import language_of
from app.errors import DomainError

log = logging.getLogger(__name__)
PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://citygrid.example/problems/"


HTML_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<style>body{{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:40rem;margin:12vh auto;
color:#222}}h1{{font-size:1.3rem}}</style></head><body><h1>{status} · {title}</h1><p>{detail}</p>
<p><a href="/">CityGrid</a> · <a href="/login?next={next}">{login}</a></p></body></html>"""


def wants_page(request: Request) -> bool:
    """A browser asking for a page (not the API): it gets an HTML answer, not JSON."""
    path = request.url.path
    return (
        request.method == "GET"
        and not path.startswith(("/api/", "/open311/"))
        and "text/html" in request.headers.get("accept", "")
    )


def _page(request: Request, status: int, title: str, detail: str) -> Response:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if status == 401:  # not signed in: to the sign-in page, and back here afterwards
        return RedirectResponse(f"/login?next={quote(here)}", status_code=303)
    lang = language_of(request, request.query_params.get("lang"))
    login = "换个账号登录" if lang == "zh" else "sign in as someone else"
    return HTMLResponse(
        HTML_PAGE.format(
            status=status,
            title=html.escape(title),
            detail=html.escape(detail),
            next=quote(here),
            login=login,
        ),
        status_code=status,
    )


def problem(request: Request, status: int, slug: str, title: str, detail: str, **extra) -> Response:
    if wants_page(request):
        return _page(request, status, title, detail)
    body = {
        "type": TYPE_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": str(request.url.path),
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def _domain(request: Request, exc: DomainError) -> Response:
    lang = language_of(request, request.query_params.get("lang"))
    return problem(
        request, exc.status, exc.type_slug, exc.title(lang), exc.message(lang), **exc.extra
    )


def _validation(request: Request, exc: RequestValidationError) -> Response:
    lang = language_of(request, request.query_params.get("lang"))
    errors = [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
    title = "请求参数无效" if lang == "zh" else "Invalid request parameters"
    return problem(request, 422, "invalid-input", title, where, errors=errors)


def _http(request: Request, exc: StarletteHTTPException) -> Response:
    lang = language_of(request, request.query_params.get("lang"))
    if exc.status_code == 404:
        title = "未找到" if lang == "zh" else "Not found"
        return problem(request, 404, "not-found", title, f"{request.url.path}")
    return problem(request, exc.status_code, "http-error", str(exc.detail), str(exc.detail))


def _database(request: Request, exc: DBAPIError) -> Response:
    # Driver errors never reach the user raw: log them, answer with a stable problem.
    log.exception("database error on %s", request.url.path)
    if isinstance(exc, OperationalError):
        return problem(
            request,
            503,
            "database-unavailable",
            "数据库不可用 / Database unavailable",
            "The database cannot be reached; try again shortly.",
        )
    return problem(
        request,
        500,
        "database-error",
        "数据库错误 / Database error",
        "The request could not be completed; nothing was changed.",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Register every error-to-response mapping on ``app``."""
    # Starlette types a handler as taking any Exception, though it calls each one only with
    # the class it is registered for (Kludex/starlette#2417), so a narrower handler fails mypy.
    app.add_exception_handler(DomainError, _domain)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _database)  # type: ignore[arg-type]
