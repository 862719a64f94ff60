"""Input every route refuses before it runs: unknown query parameters (422, never silently
ignored: a misspelt filter ``?stauts=open`` would otherwise answer as if none had been asked
for) and the NUL character anywhere (PostgreSQL cannot store it: it became a 500)."""

from __future__ import annotations

import re

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

# Accepted everywhere: the answer's language.
EVERYWHERE = frozenset({"lang"})
# GeoReport v2 clients send these with every call; a single-jurisdiction server ignores them.
OPEN311 = frozenset({"jurisdiction_id", "api_key"})
_allowed: dict[int, frozenset[str]] = {}


def allowed_query(route: APIRoute) -> frozenset[str]:
    """The query parameters ``route`` declares, through all its dependencies."""
    found = _allowed.get(id(route))
    if found is None:
        names: set[str] = set(EVERYWHERE)
        if route.path.startswith("/open311/"):
            names |= OPEN311
        stack = [route.dependant]
        while stack:
            dependant = stack.pop()
            names.update(f.alias for f in dependant.query_params)
            stack.extend(dependant.dependencies)
        found = _allowed[id(route)] = frozenset(names)
    return found


# NUL in a JSON body (``\\u0000`` not itself escaped), a form body (``%00``) or raw.
_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000|%00|\x00")


def _refused(where: str, name: str, value: object, kind: str, message: str) -> dict:
    return {"type": kind, "loc": (where, name), "msg": message, "input": value}


async def refuse_bad_input(request: Request) -> None:
    """Dependency of the whole app: 422 naming every query parameter the route does not take
    and every place a NUL character was sent."""
    await check_input(request, body=True)


async def check_input(request: Request, body: bool) -> None:
    """:func:`refuse_bad_input`, the body left out for a handler that reads it itself."""
    errors = []
    route = request.scope.get("route")
    if isinstance(route, APIRoute) and request.query_params:
        errors += [
            _refused("query", name, request.query_params[name], "extra_forbidden", UNKNOWN)
            for name in sorted(set(request.query_params) - allowed_query(route))
        ]
    for where, values in (("query", request.query_params), ("path", request.path_params)):
        errors += [
            _refused(where, k, v, "string_nul", NUL)
            for k, v in values.items()
            if isinstance(v, str) and "\x00" in v
        ]
    if body and request.method in ("POST", "PUT", "PATCH") and await _nul_in_body(request):
        errors.append(_refused("body", "", None, "string_nul", NUL))
    if errors:
        raise RequestValidationError(errors)


async def _nul_in_body(request: Request) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in ("application/x-www-form-urlencoded", "multipart/form-data"):
        # The route has parsed the form already (cached); its raw stream is gone.
        form = await request.form()
        return any(isinstance(v, str) and "\x00" in v for _, v in form.multi_items())
    return has_nul(await request.body())


def has_nul(raw: bytes) -> bool:
    """Whether a raw body carries a NUL character, written in any way it can be."""
    return bool(_NUL.search(raw))


UNKNOWN = "未知的查询参数 / unknown query parameter"
NUL = "不能包含 NUL 字符 / must not contain the NUL character"
