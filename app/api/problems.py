"""The one place errors become HTTP responses: RFC 9457 ``application/problem+json``."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.api.deps import language_of
from app.api.templates import render
from app.errors import DomainError

log = logging.getLogger(__name__)
PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://citygrid.example/problems/"


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
    return render(
        "error.html",
        status,
        lang=lang,
        status=status,
        title=title,
        detail=detail,
        next=quote(here),
        login=login,
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


@dataclass(frozen=True)
class Problem:
    """What went wrong, in the reader's language, before it is rendered (problem+json, an
    HTML page, or Open311's error list)."""

    status: int
    slug: str
    title: str
    detail: str
    extra: dict = field(default_factory=dict)
    headers: dict = field(default_factory=dict)  # e.g. a 405's Allow


def describe(request: Request, exc: Exception) -> Problem:
    """The one mapping of every error the app raises to a problem: domain errors carry their
    own status and words, request validation is 422, driver errors 503 (unreachable) or 500
    (logged with their cause; the user never sees them raw)."""
    zh = language_of(request, request.query_params.get("lang")) == "zh"
    if isinstance(exc, DomainError):
        lang = "zh" if zh else "en"
        return Problem(exc.status, exc.type_slug, exc.title(lang), exc.message(lang), exc.extra)
    if isinstance(exc, RequestValidationError):
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        where = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors)
        title = "请求参数无效" if zh else "Invalid request parameters"
        return Problem(422, "invalid-input", title, where, {"errors": errors})
    if isinstance(exc, StarletteHTTPException):
        if exc.status_code == 400 and exc.detail == BODY_UNPARSABLE:
            return _unparsable_body(exc, zh)
        if exc.status_code == 404:
            return Problem(404, "not-found", "未找到" if zh else "Not found", request.url.path)
        return Problem(
            exc.status_code,
            "http-error",
            str(exc.detail),
            str(exc.detail),
            headers=dict(exc.headers or {}),
        )
    if isinstance(exc, DBAPIError) and _sqlstate(exc) in INPUT_SQLSTATES:
        # A value PostgreSQL refuses that the API's own checks let through: still the
        # caller's input, and nothing was written (the transaction failed). Say which.
        log.warning("value refused by the database on %s: %s", request.url.path, exc.orig)
        found = str(exc.orig).splitlines()[0] if exc.orig is not None else ""
        return Problem(
            422,
            "invalid-input",
            "请求参数无效" if zh else "Invalid request parameters",
            ("数据库拒绝了输入的值：" if zh else "the database refused a value: ") + found,
        )
    if isinstance(exc, DBAPIError):
        log.error(
            "database error on %s %s: %s",
            request.method,
            request.url.path,
            exc.orig if exc.orig is not None else exc,
            exc_info=exc,
        )
        if isinstance(exc, OperationalError):
            return Problem(
                503,
                "database-unavailable",
                "数据库不可用" if zh else "Database unavailable",
                "数据库暂时无法连接，请稍后重试"
                if zh
                else "The database cannot be reached; try again shortly.",
            )
        return Problem(
            500,
            "database-error",
            "数据库错误" if zh else "Database error",
            "请求未能完成，未作任何更改"
            if zh
            else "The request could not be completed; nothing was changed.",
        )
    raise exc


# FastAPI's answer to a body it cannot read as JSON or a form for a reason other than bad
# JSON syntax (which is a 422 already): bytes that are not UTF-8, a broken multipart form.
BODY_UNPARSABLE = "There was an error parsing the body"


def _unparsable_body(exc: StarletteHTTPException, zh: bool) -> Problem:
    """The same 422 as any other refused field, naming what was wrong with the body."""
    if isinstance(exc.__cause__, UnicodeDecodeError):
        why = "请求体不是 UTF-8 编码的 JSON" if zh else "the request body is not UTF-8 encoded JSON"
        kind = "body_not_utf8"
    else:
        why = "请求体无法解析（JSON 或表单）" if zh else "the request body could not be parsed"
        kind = "body_unparsable"
    title = "请求参数无效" if zh else "Invalid request parameters"
    errors = [{"loc": ["body"], "msg": why, "type": kind}]
    return Problem(422, "invalid-input", title, f"body: {why}", {"errors": errors})


# PostgreSQL's data exceptions that only a caller's value can cause (class 22: out of range,
# bad time zone offset, NUL byte, unparsable text), as opposed to our own SQL's mistakes.
INPUT_SQLSTATES = frozenset({"22003", "22007", "22008", "22009", "22021", "22P02", "22P05"})


def _sqlstate(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)


def _render(request: Request, exc: Exception) -> Response:
    p = describe(request, exc)
    response = problem(request, p.status, p.slug, p.title, p.detail, **p.extra)
    return with_retry_after(response, p)


def with_retry_after(response: Response, p: Problem) -> Response:
    """A 429 (or 503) that knows when to come back says so in Retry-After (RFC 9110); a 405
    keeps its Allow."""
    if "retry_after" in p.extra:
        response.headers["Retry-After"] = str(p.extra["retry_after"])
    response.headers.update(p.headers)
    return response


def install_problem_handlers(app: FastAPI) -> None:
    """Register every error-to-response mapping on ``app``."""
    for kind in (DomainError, RequestValidationError, StarletteHTTPException, DBAPIError):
        app.add_exception_handler(kind, _render)
