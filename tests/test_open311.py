"""Open311 GeoReport v2 on the hand-made district (see tests/small_district.py).

Two databases serve the whole module (one per test would take most of the time budget):
``city`` for the service catalogue and intake, ``cases`` for reading seeded cases back. Tests
on ``city`` only add cases, so each asserts on what it created itself.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.db.session import make_engine
from app.main import create_app
from app.settings import Settings
from tests import auth
from tests import small_district as sd
from tests.conftest import create_database, drop_database

BASE = "/open311/v2"
XML = "text/xml; charset=utf-8"


@contextmanager
def _district(server_url: str, template: str, home, tag: str) -> Iterator[tuple]:
    """A fresh copy of the migrated template with the small district, and a client on it."""
    name = f"citygrid_o311_{tag}_{os.getpid()}"
    url = create_database(server_url, name, template=template)
    engine = make_engine(url)
    try:
        sd.build(engine)
        settings = Settings(database_url=url, home=home)
        # Open311 itself is public; the admin header serves the internal API calls that
        # check what landed (case reads and staff intake need an account).
        with TestClient(create_app(settings), headers=auth.headers(settings, "admin")) as client:
            yield client, engine
    finally:
        engine.dispose()
        drop_database(server_url, name)


@pytest.fixture(scope="module")
def city(server_url, template_db, tmp_path_factory):
    with _district(server_url, template_db, tmp_path_factory.mktemp("home"), "city") as world:
        yield world


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM event")).scalar_one()


def _xml(response, root: str) -> ET.Element:
    assert response.headers["content-type"] == XML
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    element = ET.fromstring(response.content)
    assert element.tag == root
    return element


def _spec_error(response, status: int) -> str:
    """The spec's JSON error list with one error; returns its description."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    (error,) = response.json()
    assert error["code"] == status and error["description"]
    return error["description"]


def _xml_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    root = _xml(response, "errors")
    (error,) = root.findall("error")
    assert error.findtext("code") == str(status)
    description = error.findtext("description")
    assert description is not None
    return description


def post(client, x, y, code="SJ0102", fmt="json", **extra):
    lon, lat = sd.lonlat(x, y)
    return client.post(
        f"{BASE}/requests.{fmt}", data={"service_code": code, "lat": lat, "long": lon, **extra}
    )


def test_discovery_in_json_and_xml(city):
    client, _ = city
    r = client.get(f"{BASE}/discovery.json")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    body = r.json()
    assert {"changeset", "contact", "key_service", "endpoints"} <= body.keys()
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["type"] == "production" and endpoint["url"].endswith("/open311/v2")
    assert set(endpoint["formats"]) == {"application/json", "text/xml"}
    root = _xml(client.get(f"{BASE}/discovery.xml"), "discovery")
    endpoint_el = root.find("endpoints/endpoint")
    assert endpoint_el.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert {f.text for f in endpoint_el.findall("formats/format")} == set(endpoint["formats"])
    assert root.findtext("changeset") == body["changeset"]


def test_services_list_kinds_languages_and_xml(city):
    client, _ = city
    services = client.get(f"{BASE}/services.json").json()
    by_code = {s["service_code"]: s for s in services}
    assert len(by_code) == len(services)  # unique across kinds thanks to SJ/BJ
    garbage = by_code["SJ0102"]
    assert garbage["service_name"] == "暴露垃圾" and garbage["group"] == "市容环境"
    assert garbage["metadata"] is False and garbage["type"] == "realtime"
    assert "暴露垃圾" in garbage["keywords"] and garbage["description"]
    assert by_code["BJ0102"]["service_name"] == "污水井盖" and by_code["BJ0102"]["metadata"] is True
    en = {s["service_code"]: s for s in client.get(f"{BASE}/services.json?lang=en").json()}
    assert en["SJ0102"]["service_name"] == "exposed garbage"
    header_en = client.get(f"{BASE}/services.json", headers={"Accept-Language": "en-GB"}).json()
    assert {s["service_code"]: s for s in header_en}["SJ0102"]["service_name"] == "exposed garbage"
    root = _xml(client.get(f"{BASE}/services.xml"), "services")
    items = root.findall("service")
    assert len(items) == len(services)
    xml_garbage = next(s for s in items if s.findtext("service_code") == "SJ0102")
    assert xml_garbage.findtext("service_name") == "暴露垃圾"
    assert xml_garbage.findtext("metadata") == "false"


def test_service_definition_and_unknown_code(city):
    client, _ = city
    r = client.get(f"{BASE}/services/SJ0102.json")
    assert r.status_code == 200 and r.json() == {"service_code": "SJ0102", "attributes": []}
    (attribute,) = client.get(f"{BASE}/services/BJ0118.json").json()["attributes"]
    assert attribute["code"] == "component_identifier" and attribute["required"] is False
    assert attribute["variable"] is True and attribute["datatype"] == "string"
    root = _xml(client.get(f"{BASE}/services/BJ0118.xml"), "service_definition")
    assert root.findtext("service_code") == "BJ0118"
    assert root.findtext("attributes/attribute/code") == "component_identifier"
    assert "SJ0999" in _spec_error(client.get(f"{BASE}/services/SJ0999.json"), 404)
    assert "SJ0999" in _xml_error(client.get(f"{BASE}/services/SJ0999.xml"), 404)


def test_form_post_creates_an_assigned_public_case(city):
    client, engine = city
    r = post(
        client,
        30,
        90,
        api_key="anything",
        address_string="长宁路 12 号",
        description="路边堆放生活垃圾",
        first_name="张",
        last_name="三",
        email="zhang@example.com",
        phone="13800000000",
        device_id="dev-1",
        account_id="acc-9",
        media_url="https://example.com/p/1.jpg",
    )
    assert r.status_code == 201, r.text
    (created,) = r.json()
    request_id, token = created["service_request_id"], created["token"]
    assert request_id.isdigit() and token and created["account_id"] == "acc-9"
    assert r.headers["location"] == f"{BASE}/requests/{request_id}.json"
    case = client.get(f"/api/v1/events/{request_id}").json()
    assert case["source"] == "public_app" and case["grid_code"] == sd.A1
    assert case["class_kind"] == "event" and case["class_code"] == "0102"
    assert case["location_text"] == "长宁路 12 号" and case["reporter"] == "张 三"
    assert case["photo_urls"] == ["https://example.com/p/1.jpg"]
    with engine.connect() as conn:
        contact, stored_token = conn.execute(
            text("SELECT reporter_contact, public_token FROM event WHERE id = :i"),
            {"i": int(request_id)},
        ).one()
    assert contact["email"] == "zhang@example.com" and contact["phone"] == "13800000000"
    assert contact["device_id"] == "dev-1" and stored_token == token


def test_json_post_with_component_attribute_and_xml_answer(city):
    client, _ = city
    lon, lat = sd.lonlat(90, 40)
    r = client.post(
        f"{BASE}/requests.json",
        json={
            "service_code": "BJ0118",
            "lat": lat,
            "long": lon,
            "email": "li@example.com",
            "attribute": {"component_identifier": sd.LIGHT_ID},
        },
    )
    assert r.status_code == 201, r.text
    case = client.get(f"/api/v1/events/{r.json()[0]['service_request_id']}").json()
    assert case["component_identifier"] == sd.LIGHT_ID and case["reporter"] == "li@example.com"
    assert case["unit_name"] == "供电公司" and case["source"] == "public_app"
    r = post(client, 150, 150, fmt="xml")
    assert r.status_code == 201
    request = _xml(r, "service_requests").find("request")
    assert request.findtext("service_request_id").isdigit() and request.findtext("token")


def test_rejected_posts_are_spec_errors_and_store_nothing(city):
    client, engine = city
    before = _count(engine)
    outside = post(client, 500, 500)
    assert "超出管理区域" in _spec_error(outside, 400)
    outside_en = client.post(
        f"{BASE}/requests.json?lang=en",
        data={"service_code": "SJ0102", "lat": "31.4", "long": "120.7"},
    )
    assert "outside the managed area" in _spec_error(outside_en, 400)
    assert "超出管理区域" in _xml_error(post(client, 500, 500, fmt="xml"), 400)
    assert "SJ0999" in _spec_error(post(client, 30, 90, code="SJ0999"), 400)
    assert "XX01" in _spec_error(post(client, 30, 90, code="XX01"), 400)
    assert "service_code" in _spec_error(
        client.post(f"{BASE}/requests.json", data={"lat": "31.3", "long": "120.6"}), 400
    )
    no_point = client.post(
        f"{BASE}/requests.json", data={"service_code": "SJ0102", "address_string": "长宁路 12 号"}
    )
    assert "lat" in _spec_error(no_point, 400)
    for lat, lon in (("abc", "120.6"), ("95", "120.6"), ("31.3", "nan")):
        bad = client.post(
            f"{BASE}/requests.json", data={"service_code": "SJ0102", "lat": lat, "long": lon}
        )
        assert "lat/long" in _spec_error(bad, 400)
    assert "media_url" in _spec_error(post(client, 30, 90, media_url="not a url"), 400)
    assert _spec_error(
        client.post(
            f"{BASE}/requests.json", content=b"[1]", headers={"content-type": "application/json"}
        ),
        400,
    )
    assert _count(engine) == before


@pytest.fixture(scope="module")
def cases(server_url, template_db, tmp_path_factory):
    """Three cases: two via Open311, one via the supervisor API (120 days old); #2 closed."""
    with _district(server_url, template_db, tmp_path_factory.mktemp("home"), "cases") as world:
        yield _seed(*world)


def _seed(client, engine) -> tuple:
    created = post(
        client,
        30,
        90,
        description="垃圾",
        address_string="长宁路 12 号",
        media_url="https://example.com/a.jpg",
    ).json()[0]
    first = created["service_request_id"]
    second = post(client, 150, 150).json()[0]["service_request_id"]
    lon, lat = sd.lonlat(53, 97)
    third = client.post(
        "/api/v1/events",
        json={"class_code": "BJ0118", "lon": lon, "lat": lat, "source": "supervisor"},
    ).json()["id"]
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE event SET status = 'closed', closed_at = now() WHERE id = :i"),
            {"i": int(second)},
        )
        conn.execute(
            text("UPDATE event SET reported_at = now() - interval '120 days' WHERE id = :i"),
            {"i": third},
        )
    return client, int(first), int(second), third, created["token"]


def _ids(client, **params) -> set[int]:
    r = client.get(f"{BASE}/requests.json", params=params)
    assert r.status_code == 200, r.text
    return {int(item["service_request_id"]) for item in r.json()}


def test_get_requests_filters(cases):
    client, first, second, third, _ = cases
    now = datetime.now(UTC)
    assert _ids(client) == {first, second}  # default window: the last 90 days
    # A supervisor's case is not published: Open311 shows the public channel's cases only.
    assert _ids(client, service_request_id=f"{first},{third}") == {first}
    assert _ids(client, service_code="SJ0102") == {first, second}
    assert _ids(client, service_code="BJ0118") == set()
    assert _ids(client, status="open") == {first}
    assert _ids(client, status="closed") == {second}
    assert _ids(client, status="open,closed") == {first, second}
    day = timedelta(days=1)
    old = {"start_date": (now - 130 * day).isoformat(), "end_date": (now - 110 * day).isoformat()}
    assert _ids(client, **old) == set()
    assert _ids(client, service_code="BJ0118", **old) == set()
    assert _ids(client, start_date=(now - day).isoformat()) == {first, second}
    assert _ids(client, end_date=(now - 100 * day).isoformat()) == set()
    assert _ids(
        client,
        start_date=(now - day).isoformat(),
        end_date=(now + day).isoformat(),
        status="closed",
    ) == {second}
    too_wide = {"start_date": (now - 200 * day).isoformat(), "end_date": now.isoformat()}
    for params in (
        too_wide,
        {"start_date": "2026-01-01T00:00:00"},
        {"status": "pending"},
        {"service_request_id": "1,x"},
        {"service_code": "0102"},
    ):
        assert _spec_error(client.get(f"{BASE}/requests.json", params=params), 400)


def test_request_fields_and_xml(cases):
    client, first, second, *_ = cases
    items = {int(i["service_request_id"]): i for i in client.get(f"{BASE}/requests.json").json()}
    one, closed = items[first], items[second]
    lon, lat = sd.lonlat(30, 90)
    assert one["status"] == "open" and one["status_notes"] == "已上报，待核实"
    assert one["service_code"] == "SJ0102" and one["service_name"] == "暴露垃圾"
    assert one["agency_responsible"] == "长宁街道办事处"
    # Free text and photos are not published (people type phone numbers into them).
    assert one["address"] is None and one["description"] is None and one["media_url"] is None
    assert one["lat"] == pytest.approx(lat) and one["long"] == pytest.approx(lon)
    for key in ("requested_datetime", "updated_datetime"):
        assert datetime.fromisoformat(one[key]).tzinfo is not None
    assert "expected_datetime" not in one  # not dispatched: no deadline yet
    assert {"address_id", "zipcode", "service_notice"} <= one.keys()
    assert "reporter" not in one and "token" not in one
    assert closed["status"] == "closed" and closed["agency_responsible"] == "保洁公司"
    en = client.get(f"{BASE}/requests.json?lang=en&service_request_id={first}").json()[0]
    assert en["service_name"] == "exposed garbage" and en["status_notes"].startswith("reported")
    root = _xml(client.get(f"{BASE}/requests.xml"), "service_requests")
    requests = {int(r.findtext("service_request_id")): r for r in root.findall("request")}
    assert set(requests) == {first, second}
    assert requests[first].findtext("service_name") == "暴露垃圾"
    assert requests[first].findtext("status") == "open"
    assert requests[second].findtext("status") == "closed"
    assert requests[first].find("zipcode") is not None  # null fields are empty elements
    assert float(requests[first].findtext("lat")) == pytest.approx(lat)


def test_single_request_tokens_and_404s(cases):
    client, first, _, third, token = cases
    (one,) = client.get(f"{BASE}/requests/{first}.json").json()
    assert one["service_request_id"] == str(first)
    root = _xml(client.get(f"{BASE}/requests/{first}.xml"), "service_requests")
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [str(first)]
    pair = {"service_request_id": str(first), "token": token}
    assert client.get(f"{BASE}/tokens/{token}.json").json() == [pair]
    token_xml = _xml(client.get(f"{BASE}/tokens/{token}.xml"), "service_requests")
    assert token_xml.findtext("request/service_request_id") == str(first)
    assert token_xml.findtext("request/token") == token
    assert "999999" in _spec_error(client.get(f"{BASE}/requests/999999.json"), 404)
    _spec_error(client.get(f"{BASE}/requests/{third}.json"), 404)  # a supervisor's case
    assert "999999" in _xml_error(client.get(f"{BASE}/requests/999999.xml"), 404)
    _spec_error(client.get(f"{BASE}/requests/abc.json"), 404)
    _spec_error(client.get(f"{BASE}/tokens/no-such-token.json"), 404)
    _xml_error(client.get(f"{BASE}/tokens/no-such-token.xml"), 404)


def test_unknown_paths_formats_and_methods_use_the_spec_format(city):
    client, _ = city
    _spec_error(client.get(f"{BASE}/nothing.json"), 404)
    _xml_error(client.get(f"{BASE}/nothing.xml"), 404)
    _spec_error(client.get(f"{BASE}/services.csv"), 404)
    r = client.post(f"{BASE}/discovery.json")
    _spec_error(r, 405)
    assert "GET" in r.headers["allow"]
    _xml_error(client.delete(f"{BASE}/requests/1.xml"), 405)
    _spec_error(client.get(f"{BASE}/services.json?lang=fr"), 400)


def test_public_submissions_are_rate_limited(engine, settings):
    sd.build(engine)
    settings.open311_rate_per_minute = 3
    with TestClient(create_app(settings)) as client:  # no account: the public channel
        lon, lat = sd.lonlat(30, 30)
        body = {"service_code": "SJ0102", "lat": lat, "long": lon}
        codes = [client.post(f"{BASE}/requests.json", data=body).status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM event")).scalar_one() == 3
