"""Bad input gets a 4xx problem and changes nothing: every one of these answered 500 once."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.main import create_app
from tests import auth
from tests import small_district as sd

PROBLEM = "application/problem+json"
BEYOND = "2026-11-01T00:00:00+16:00"  # ISO 8601 allows it; PostgreSQL does not


@pytest.fixture()
def world(engine, settings):
    sd.build(engine)
    headers = auth.headers(settings, "admin")
    with TestClient(create_app(settings), headers=headers) as client:
        yield client, engine


def _problem(r, status: int = 422) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    return r.json()


def _events(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM event")).scalar_one()


def test_numbers_beyond_what_can_be_stored(world) -> None:
    client, _ = world
    _problem(
        client.get(
            "/api/v1/calendar/deadline",
            params={"start": "2026-11-02T09:00:00+08:00", "value": "1e300"},
        )
    )
    for path in ("/api/v1/grids", "/api/v1/components", "/api/v1/units", "/api/v1/streets"):
        _problem(client.get(path, params={"offset": "99999999999999999999"}))


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/v1/grids", {"at": BEYOND}),
        (
            "/api/v1/evaluation",
            {"level": "area", "from": "2026-11-01T09:30:00+16:00", "to": "2026-11-30"},
        ),
        ("/api/v1/calendar/deadline", {"start": BEYOND, "value": "1"}),
    ],
)
def test_utc_offsets_beyond_postgres(world, path, params) -> None:
    client, _ = world
    assert "15:59" in str(_problem(client.get(path, params=params)))


def test_open311_dates_beyond_postgres(world) -> None:
    client, _ = world
    r = client.get("/open311/v2/requests.json", params={"start_date": BEYOND})
    assert r.status_code == 400 and "15:59" in r.text


def test_nul_characters_anywhere(world) -> None:
    client, engine = world
    lon, lat = sd.lonlat(30, 40)
    report = {"class_code": "0102", "lon": lon, "lat": lat, "description": "a\u0000b"}
    _problem(client.post("/api/v1/events", json=report))
    _problem(client.get("/api/v1/grids", params={"community": "32\u0000"}))
    _problem(client.post("/api/v1/auth/token", data={"username": "a\u0000", "password": "x"}))
    _problem(client.patch("/api/v1/users/ad%00min", json={"display_name": "x"}))
    assert _events(engine) == 0


def test_deep_and_large_bodies(world, settings) -> None:
    client, _ = world
    deep = "[" * 100_000 + "]" * 100_000
    r = client.post(
        "/api/v1/dispatch-rules", content=deep, headers={"content-type": "application/json"}
    )
    assert 400 <= r.status_code < 500 and r.headers["content-type"] == PROBLEM
    huge = "x" * (settings.request_body_max_bytes + 1)
    r = client.post("/api/v1/events", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    lon, lat = sd.lonlat(30, 40)
    contact = {"phone": "1" * 201}
    _problem(
        client.post(
            "/api/v1/events",
            json={"class_code": "0102", "lon": lon, "lat": lat, "reporter_contact": contact},
        )
    )


def test_a_body_that_is_not_utf8_is_named(world) -> None:
    # Found by tests/test_fuzz.py: FastAPI answered an undocumented 400, in English only.
    client, engine = world
    raw = {"content": b"\xff[]", "headers": {"content-type": "application/json"}}
    body = _problem(client.post("/api/v1/dispatch-rules", **raw))
    assert body["errors"][0]["loc"] == ["body"] and "不是 UTF-8 编码的 JSON" in body["detail"]
    body = _problem(client.post("/api/v1/events/assign?lang=en", **raw))
    assert "not UTF-8 encoded JSON" in body["detail"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM dispatch_rule")).scalar_one() == 0


def test_a_deadline_beyond_the_calendars_horizon(world) -> None:
    # Found by tests/test_fuzz.py: 10,000 working days (allowed) ran past the horizon: a 500.
    client, _ = world
    start = "2026-11-02T09:00:00+08:00"
    params = {"start": start, "value": "10000", "unit": "working_days"}
    assert (
        "超出可计算范围"
        in _problem(client.get("/api/v1/calendar/deadline", params=params))["detail"]
    )
    params = {"start": "9999-06-01T09:00:00+08:00", "value": "1000", "unit": "calendar_days"}
    _problem(client.get("/api/v1/calendar/deadline", params=params | {"lang": "en"}))


def test_unknown_query_parameters_are_refused(world) -> None:
    client, _ = world
    body = _problem(client.get("/api/v1/grids", params={"comunity": "320599001001"}))
    assert body["errors"][0]["loc"] == ["query", "comunity"]
    _problem(client.get("/api/v1/hotspots/grids", params={"clas": "0102"}))
    lon, lat = sd.lonlat(30, 40)
    r = client.post(
        "/api/v1/events", params={"dry": "1"}, json={"class_code": "0102", "lon": lon, "lat": lat}
    )
    _problem(r)
    # GeoReport v2: a comma-separated service_code list, and jurisdiction_id, are the spec's.
    ok = client.get(
        "/open311/v2/requests.json",
        params={"service_code": "SJ0102,BJ0118", "jurisdiction_id": "citygrid"},
    )
    assert ok.status_code == 200, ok.text


def test_a_405_says_what_is_allowed(world) -> None:
    client, _ = world
    r = client.delete("/api/v1/grids")
    assert r.status_code == 405 and "GET" in r.headers["allow"]


def test_a_value_the_database_refuses_is_the_callers_error(engine) -> None:
    """The safety net behind the checks above: a real data exception from PostgreSQL (here a
    time zone beyond ±15:59) becomes a 422 naming the value, not a 500."""
    from sqlalchemy.exc import DBAPIError
    from starlette.requests import Request

    from app.api.problems import describe

    with pytest.raises(DBAPIError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT CAST(:v AS timestamptz)"), {"v": BEYOND})
    request = Request(
        {"type": "http", "method": "GET", "path": "/x", "query_string": b"lang=en", "headers": []}
    )
    found = describe(request, caught.value)
    assert found.status == 422 and "time zone displacement" in found.detail


def test_a_database_error_is_logged_with_its_cause(engine, caplog) -> None:
    """The log names what went wrong (it said "NoneType: None" before), the answer does not."""
    from sqlalchemy.exc import DBAPIError
    from starlette.requests import Request

    from app.api.problems import describe

    with pytest.raises(DBAPIError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT * FROM no_such_table"))
    request = Request(
        {"type": "http", "method": "GET", "path": "/x", "query_string": b"lang=zh", "headers": []}
    )
    found = describe(request, caught.value)
    assert found.status == 500 and "no_such_table" not in found.detail
    assert 'relation "no_such_table" does not exist' in caplog.text
    assert "GET /x" in caplog.text
