"""Who is calling: bearer tokens (OAuth2 password flow) and role checks for the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from app.api.deps import EngineDep, SettingsDep
from app.errors import ForbiddenError, UnauthenticatedError
from app.services.users import User, user_from_token

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

ROLE_NAMES = {
    "supervisor": "监督员", "acceptor": "受理员", "shift_leader": "值班长", "dispatcher": "派遣员",
    "handler": "处置人员", "planner": "规划人员", "analyst": "分析人员", "admin": "管理员",
}


def current_user(
    request: Request, engine: EngineDep, settings: SettingsDep, token: str | None = Depends(oauth2)
) -> User:
    """The signed-in user, or 401 problem+json."""
    if not token:
        raise UnauthenticatedError("需要登录：请在 Authorization 头中提供 Bearer 令牌",
                                   "authentication required: send an Authorization: Bearer token")
    user = user_from_token(engine, settings, token)
    request.state.user = user  # for the audit trail
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(*roles: str):
    """A dependency admitting users with any of ``roles`` (admins always), else 403."""

    def check(user: CurrentUser) -> User:
        if not user.has(*roles, "admin"):
            wanted = "、".join(ROLE_NAMES[r] for r in roles)
            raise ForbiddenError(
                f"此操作需要以下角色之一：{wanted}", f"this needs one of the roles: {', '.join(roles)}",
                required_roles=list(roles),
            )
        return user

    return Depends(check)
