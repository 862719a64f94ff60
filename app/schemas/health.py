"""Response model of the health check."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Health(BaseModel):
    """The service answers and its database did a round trip."""

    status: Literal["ok"]
    database: Literal["ok"]
    class_scheme: str
    postgis: str
    schema_revision: str | None
    grids: int
