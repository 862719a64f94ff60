"""Who is calling: bearer tokens (OAuth2 password flow) or the map pages' session cookie,
and role checks for the routers."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer
from starlette.concurrency import run_in_threadpool

from app.errors import ForbiddenError, UnauthenticatedError
from app.services.accounts.users import (
    User,
    account_is_cached,
    ensure_session_open,
    read_token,
    user_from_claims,
)

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

SESSION_COOKIE = "citygrid_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ROLE_NAMES = {
    "supervisor": "监督员",
    "acceptor": "受理员",
    "shift_leader": "值班长",
    "dispatcher": "派遣员",
    "handler": "处置人员",
    "planner": "规划人员",
    "analyst": "分析人员",
    "admin": "管理员",
}


async def current_user(request: Request, token: str | None = Depends(oauth2)) -> User:
    """The signed-in user (bearer token, else session cookie), or 401 problem+json."""
    return await authenticate(request, token)


async def authenticate(request: Request, token: str | None) -> User:
    """The user behind ``token`` (else the session cookie), or 401 problem+json.

    A cookie rides along with any request the browser makes, so a write authenticated by the
    cookie must also echo the session's CSRF secret in ``X-CSRF-Token`` (the map pages do);
    bearer tokens are never sent implicitly and need no such check.
    """
    cookie = None if token else request.cookies.get(SESSION_COOKIE)
    if not token and not cookie:
        raise UnauthenticatedError(
            "需要登录：请在 Authorization 头中提供 Bearer 令牌，或先登录",
            "authentication required: send an Authorization: Bearer token, or sign in",
        )
    engine, settings = request.app.state.engine, request.app.state.settings
    claims = read_token(settings, token or cookie)  # type: ignore[arg-type]
    if cookie and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, str(claims.get("csrf", ""))) or not sent:
            raise ForbiddenError(
                "缺少或错误的 CSRF 令牌（页面请求需带 X-CSRF-Token 头）",
                "missing or wrong CSRF token (send the page's X-CSRF-Token)",
            )
    if "jti" in claims:  # a browser session: signed out?
        await run_in_threadpool(ensure_session_open, engine, claims)
    if account_is_cached(engine, str(claims.get("sub"))):
        user = user_from_claims(engine, claims)  # no I/O: stay on the event loop
    else:
        user = await run_in_threadpool(user_from_claims, engine, claims)
    request.state.user = user  # for the audit trail
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def optional_user(request: Request, token: str | None = Depends(oauth2)) -> User | None:
    """The signed-in user, or None for an anonymous caller (a bad token is still a 401)."""
    if not token and not request.cookies.get(SESSION_COOKIE):
        return None
    return await authenticate(request, token)


OptionalUser = Annotated[User | None, Depends(optional_user)]


def ensure_signed_in(user: User | None, roles: tuple[str, ...]) -> User:
    """``user`` when signed in with one of ``roles`` (admins always): 401 / 403 otherwise."""
    if user is None:
        raise UnauthenticatedError(
            "需要登录：请在 Authorization 头中提供 Bearer 令牌，或先登录",
            "authentication required: send an Authorization: Bearer token, or sign in",
        )
    return ensure_role(user, roles)


def require(*roles: str):
    """A dependency admitting users with any of ``roles`` (admins always), else 403."""

    async def check(user: CurrentUser) -> User:
        return ensure_role(user, roles)

    return Depends(check)


def ensure_role(user: User, roles: tuple[str, ...]) -> User:
    """``user`` when they hold one of ``roles`` (admins always), else 403 problem+json."""
    if not user.has(*roles, "admin"):
        wanted = "、".join(ROLE_NAMES[r] for r in roles)
        raise ForbiddenError(
            f"此操作需要以下角色之一：{wanted}",
            f"this needs one of the roles: {', '.join(roles)}",
            required_roles=list(roles),
        )
    return user


def acting_as(user: User, behalf: str | None) -> str:
    """The actor a history records: the signed-in account, and on whose behalf in brackets
    (a steward entering a contractor's work). Never a name the client alone supplies."""
    return f"{user.username} ({behalf})" if behalf and behalf != user.username else user.username
