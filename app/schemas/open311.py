"""Response models of the Open311 GeoReport v2 channel (https://wiki.open311.org/GeoReport_v2).

The JSON answers; ``.xml`` paths carry the same members as the spec's XML elements.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, RootModel


class Endpoint(BaseModel):
    specification: str
    url: str
    changeset: str
    type: str
    formats: list[str]


class Discovery(BaseModel):
    """Where the GeoReport v2 endpoints are and what they speak."""

    changeset: str
    contact: str
    key_service: str
    endpoints: list[Endpoint]


class Service(BaseModel):
    """A class offered as a service: ``SJ…`` events, ``BJ…`` components."""

    service_code: str = Field(..., examples=["SJ0102"])
    service_name: str
    description: str | None
    metadata: bool = Field(..., description="true: a definition lists attributes")
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class Services(RootModel[list[Service]]):
    """Every service."""


class AttributeValue(BaseModel):
    key: str
    name: str


class Attribute(BaseModel):
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str | None
    order: int
    description: str
    values: list[AttributeValue] | None = None


class ServiceDefinition(BaseModel):
    """The attributes a request for a service may carry."""

    service_code: str
    attributes: list[Attribute]


class CreatedRequest(BaseModel):
    """A posted request: its id (and a token to look it up later)."""

    service_request_id: str
    token: str | None
    service_notice: str | None
    account_id: str | None


class CreatedRequests(RootModel[list[CreatedRequest]]):
    """The spec answers a POST with a one-item list."""


class ServiceRequest(BaseModel):
    """A case as an Open311 service request (from every channel)."""

    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str | None
    service_name: str | None
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str | None
    updated_datetime: str | None
    expected_datetime: str | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float
    long: float
    media_url: str | None


class ServiceRequests(RootModel[list[ServiceRequest]]):
    """Service requests, newest first (one for a single request)."""


class RequestToken(BaseModel):
    service_request_id: str
    token: str


class RequestTokens(RootModel[list[RequestToken]]):
    """The request a token stands for (a one-item list, as the spec has it)."""
