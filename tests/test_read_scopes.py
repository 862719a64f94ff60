"""Who may read what: anonymous callers get aggregates and public facts, not people, contact
details, free text or the database's time."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests import auth
from tests import small_district as sd

PROBLEM = "application/problem+json"


@pytest.fixture()
def world(engine, settings):
    sd.build(engine)
    with TestClient(create_app(settings)) as client:
        yield client, settings


def test_evaluation_of_units_and_staff_needs_a_reader_account(world) -> None:
    client, settings = world
    period = {"from": str(date(2026, 3, 1)), "to": str(date(2026, 3, 31))}
    assert client.get("/api/v1/evaluation", params={"level": "area", **period}).status_code == 200
    for level in ("unit", "post"):
        anonymous = client.get("/api/v1/evaluation", params={"level": level, **period})
        assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
        planner = client.get(
            "/api/v1/evaluation",
            params={"level": level, **period},
            headers=auth.headers(settings, "planner"),
        )
        assert planner.status_code == 403
        analyst = client.get(
            "/api/v1/evaluation",
            params={"level": level, **period},
            headers=auth.headers(settings, "analyst"),
        )
        assert analyst.status_code == 200


def test_unit_contacts_are_for_staff(world) -> None:
    client, settings = world
    public = client.get("/api/v1/units").json()["items"]
    assert public and not {"contact", "phone"} & set().union(*public)
    assert "phone" not in client.get("/api/v1/units/U-HW").json()
    staff = client.get("/api/v1/units", headers=auth.headers(settings, "acceptor")).json()
    assert all({"contact", "phone"} <= set(u) for u in staff["items"])


def test_component_cases_need_an_account(world) -> None:
    client, settings = world
    path = f"/api/v1/components/{sd.LIGHT_ID}/cases"
    assert client.get(path).status_code == 401
    assert client.get(path, headers=auth.headers(settings, "acceptor")).status_code == 200


def test_anonymous_previews_are_small_and_rate_limited(world) -> None:
    client, settings = world
    settings.preview_public_rate_per_minute = 3
    lon, lat = sd.lonlat(30, 40)
    many = {"points": [{"class_code": "0102", "lon": lon, "lat": lat}] * 101}
    big = client.post("/api/v1/events/assign", json=many, params={"lang": "en"})
    assert big.status_code == 422 and "more when signed in" in big.json()["detail"]
    few = {"points": many["points"][:5]}
    # The refused big one counted too: two more fit in the minute, the third is refused.
    answers = [client.post("/api/v1/events/assign", json=few) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0
    signed = client.post(
        "/api/v1/events/assign", json=many, headers=auth.headers(settings, "analyst")
    )
    assert signed.status_code == 200 and signed.json()["count"] == 101
