"""Value types the API shares: what PostgreSQL can hold, checked before it reaches it (a
value it refuses would otherwise surface as a driver error, a 500)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated

from pydantic import AfterValidator

OFFSET_MAX = 2**62  # a bigint, with room: no table is larger
MAX_UTC_OFFSET = timedelta(hours=15, minutes=59)  # PostgreSQL's widest time zone displacement


def within_postgres(value: datetime | date) -> datetime | date:
    """A time PostgreSQL can store: a UTC offset of at most ±15:59 (ISO 8601 allows more)."""
    offset = value.utcoffset() if isinstance(value, datetime) else None
    if offset is not None and abs(offset) > MAX_UTC_OFFSET:
        raise ValueError(f"UTC offset {offset} is beyond ±15:59")
    return value


Moment = Annotated[datetime, AfterValidator(within_postgres)]
Day = Annotated[date | datetime, AfterValidator(within_postgres)]


def no_nul(value: str) -> str:
    """Text PostgreSQL can store: no NUL character."""
    if "\x00" in value:
        raise ValueError("text must not contain the NUL character (\\u0000)")
    return value


Text = Annotated[str, AfterValidator(no_nul)]
