"""Response models of signing in."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Token(BaseModel):
    """A bearer token (OAuth2 password flow)."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(..., description="有效秒数 / seconds until it expires")


class Me(BaseModel):
    """The signed-in account."""

    username: str
    display_name: str | None
    roles: list[str]
    unit_code: str | None = Field(..., description="处置人员所属单位 / a handler's unit")
