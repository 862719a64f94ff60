"""Accounts (admins only)."""

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.api.audit import audit_object
from app.api.auth import require
from app.api.deps import EngineDep
from app.services.accounts import users as service

router = APIRouter(prefix="/api/v1/users", tags=["users 用户"], dependencies=[require("admin")])


class UserCreate(BaseModel):
    username: str = Field(..., pattern=r"^[A-Za-z0-9_.\-@\u4e00-\u9fff]{2,64}$")
    password: str = Field(..., min_length=8, max_length=256)
    roles: list[str] = Field(..., min_length=1)
    display_name: str | None = Field(None, max_length=100)
    unit_code: str | None = Field(None, max_length=32)


class UserUpdate(BaseModel):
    password: str | None = Field(None, min_length=8, max_length=256)
    roles: list[str] | None = None
    display_name: str | None = Field(None, max_length=100)
    unit_code: str | None = Field(None, max_length=32)
    is_active: bool | None = None


@router.get("", summary="用户列表 / list users")
def read_users(engine: EngineDep):
    return {"items": service.list_users(engine)}


@router.post("", status_code=201, summary="新增用户 / add a user")
def create_user(body: UserCreate, engine: EngineDep):
    audit_object(username=body.username)
    return service.create_user(
        engine, body.username, body.password, body.roles, body.display_name, body.unit_code
    )


@router.patch("/{username}", summary="修改用户 / change a user")
def update_user(username: str, body: UserUpdate, engine: EngineDep):
    return service.update_user(engine, username, **body.model_dump(exclude_unset=True))
