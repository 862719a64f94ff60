"""Request and response models of the accounts (admins only)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.schemas.common import Timestamp


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


class UserOut(BaseModel):
    """An account (never its password hash)."""

    id: int
    username: str
    display_name: str | None
    roles: list[str]
    is_active: bool
    created_at: Timestamp
    unit_code: str | None
    unit_id: int | None


class UserList(BaseModel):
    """Every account."""

    items: list[UserOut]
