"""Accounts (admins only)."""

from fastapi import APIRouter

from app.api.audit import audit_object
from app.api.auth import require
from app.api.deps import EngineDep
from app.api.openapi import problems
from app.schemas.users import UserCreate, UserList, UserOut, UserUpdate
from app.services.accounts import users as service

router = APIRouter(prefix="/api/v1/users", tags=["users 用户"], dependencies=[require("admin")])


@router.get(
    "", response_model=UserList, responses=problems(401, 403), summary="用户列表 / list users"
)
def read_users(engine: EngineDep):
    return {"items": service.list_users(engine)}


@router.post(
    "",
    status_code=201,
    response_model=UserOut,
    responses=problems(401, 403, 409),
    summary="新增用户 / add a user",
)
def create_user(body: UserCreate, engine: EngineDep):
    audit_object(username=body.username)
    return service.create_user(
        engine, body.username, body.password, body.roles, body.display_name, body.unit_code
    )


@router.patch(
    "/{username}",
    response_model=UserOut,
    responses=problems(401, 403, 404),
    summary="修改用户 / change a user",
)
def update_user(username: str, body: UserUpdate, engine: EngineDep):
    return service.update_user(engine, username, **body.model_dump(exclude_unset=True))
