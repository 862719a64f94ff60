"""Building blocks of the response models: JSON values as this API writes them, GeoJSON."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, BeforeValidator, Field, PlainSerializer


def _isoformat(value: datetime) -> str:
    return value.isoformat()


# Answers without a response model went through FastAPI's jsonable_encoder, which writes
# datetime.isoformat() ("…+00:00"); pydantic would write "Z". The models keep the answers
# as they were, so a client parsing them sees no change.
Timestamp = Annotated[datetime, PlainSerializer(_isoformat, return_type=str, when_used="json")]


def _decimal_as_encoded(value: Any) -> Any:
    # jsonable_encoder's rule for NUMERIC columns: a whole Decimal becomes an int, any other
    # a float. Pydantic would write a Decimal inside a union as a string.
    if isinstance(value, Decimal):
        return int(value) if value.as_tuple().exponent >= 0 else float(value)  # type: ignore[operator]
    return value


Number = Annotated[int | float, BeforeValidator(_decimal_as_encoded)]


class Link(BaseModel):
    """An OGC API Features paging link."""

    rel: Literal["self", "next", "prev"]
    type: str
    href: str


class Counted(BaseModel):
    """A page of a longer list: how many matched, how many are in this answer."""

    numberMatched: int = Field(..., description="总数 / items matching the query")
    numberReturned: int = Field(..., description="本页条数 / items in this answer")


GeometryType = Literal[
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
]


class Geometry(BaseModel):
    """A GeoJSON geometry (RFC 7946), WGS84 lon/lat."""

    type: GeometryType
    coordinates: list[Any] | None = Field(None, description="absent in a GeometryCollection")
    geometries: list[Geometry] | None = None


P = TypeVar("P", bound=BaseModel)
F = TypeVar("F", bound=BaseModel)


class Feature(BaseModel, Generic[P]):
    """A GeoJSON Feature; each resource names its own properties."""

    type: Literal["Feature"]
    id: int | str | None = Field(None, description="absent when the feature has no key")
    geometry: Geometry | None
    properties: P


class FeatureCollection(BaseModel, Generic[F]):
    """A GeoJSON FeatureCollection."""

    type: Literal["FeatureCollection"]
    features: list[F]


class FeaturePage(FeatureCollection[F], Generic[F]):
    """A page of features with OGC API Features counts and next/prev links."""

    numberMatched: int
    numberReturned: int
    links: list[Link]
