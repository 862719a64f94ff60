"""Sign in (OAuth2 password flow) and who am I."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from app.api.audit import audit_object
from app.api.auth import CurrentUser
from app.api.deps import EngineDep, SettingsDep
from app.api.openapi import problems
from app.api.ratelimit import client_address
from app.schemas.auth import Me, Token
from app.services.accounts import users as service

router = APIRouter(prefix="/api/v1/auth", tags=["auth 登录"])


# A wrong password is a 401 like a missing token.
@router.post(
    "/token",
    response_model=Token,
    responses=problems(401, 429),  # 429: too many failed sign-ins (per account, per client)
    summary="登录获取令牌 / sign in for a bearer token",
)
def create_token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    engine: EngineDep,
    settings: SettingsDep,
):
    audit_object(username=form.username)  # every attempt is audited, failed ones too
    user = service.authenticate(
        engine, form.username, form.password, settings, client_address(request)
    )
    request.state.user = service.User(user["username"], tuple(user["roles"]))
    return {
        "access_token": service.issue_token(settings, user["username"]),
        "token_type": "bearer",
        "expires_in": settings.token_minutes * 60,
    }


@router.get("/me", response_model=Me, responses=problems(401), summary="当前用户 / who am I")
def read_me(user: CurrentUser):
    return {
        "username": user.username,
        "display_name": user.display_name,
        "roles": list(user.roles),
        "unit_code": user.unit_code,
    }
