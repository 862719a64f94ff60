"""Unknown query parameters are refused (422), never silently ignored: a misspelt filter
(``?stauts=open``) would otherwise answer as if no filter had been asked for."""

from __future__ import annotations

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


def refuse_unknown_query(request: Request) -> None:
    """Dependency of the whole app: 422 naming every query parameter the route does not take."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    unknown = sorted(set(request.query_params) - allowed_query(route))
    if unknown:
        raise RequestValidationError(
            [
                {
                    "type": "extra_forbidden",
                    "loc": ("query", name),
                    "msg": "未知的查询参数 / unknown query parameter",
                    "input": request.query_params[name],
                }
                for name in unknown
            ]
        )
