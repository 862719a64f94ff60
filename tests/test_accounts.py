"""Account administration refuses what would lock a city out, and bad input changes nothing."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests import auth
from tests import small_district as sd

PROBLEM = "application/problem+json"


@pytest.fixture()
def client(engine, settings):
    sd.build(engine)
    with TestClient(create_app(settings), headers=auth.headers(settings, "admin")) as c:
        yield c


@pytest.mark.parametrize("change", [{"roles": ["planner"]}, {"is_active": False}])
def test_the_last_admin_cannot_demote_or_deactivate_themselves(client, change) -> None:
    r = client.patch("/api/v1/users/admin", json=change, params={"lang": "en"})
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    assert "no active admin" in r.json()["detail"]
    (me,) = [u for u in client.get("/api/v1/users").json()["items"] if u["username"] == "admin"]
    assert me["roles"] == ["admin"] and me["is_active"]


def test_with_another_admin_the_change_goes_through(client) -> None:
    made = client.post(
        "/api/v1/users",
        json={"username": "second", "password": "another-long-password", "roles": ["admin"]},
    )
    assert made.status_code == 201, made.text
    r = client.patch("/api/v1/users/admin", json={"roles": ["planner"]})
    assert r.status_code == 200 and r.json()["roles"] == ["planner"]


def test_an_unknown_unit_is_refused_and_nothing_changes(client) -> None:
    made = client.post(
        "/api/v1/users",
        json={
            "username": "h1",
            "password": "another-long-password",
            "roles": ["handler"],
            "unit_code": "U-HW",
        },
    )
    assert made.status_code == 201, made.text
    r = client.patch("/api/v1/users/h1", json={"unit_code": "NOPE", "display_name": "X"})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert "NOPE" in r.json()["detail"]
    (h1,) = [u for u in client.get("/api/v1/users").json()["items"] if u["username"] == "h1"]
    assert h1["display_name"] == made.json()["display_name"] != "X"
    assert h1["unit_code"] == "U-HW"
