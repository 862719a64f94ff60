"""Signing out ends the session for good; a password change ends every older token."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests import auth
from tests import small_district as sd

TASKS = {"role": "supervisor", "supervisor": "监督员 张三"}


@pytest.fixture()
def client(engine, settings):
    sd.build(engine)
    with TestClient(create_app(settings), follow_redirects=False) as c:
        yield c


def _sign_in(client, username: str) -> str:
    r = client.post("/login", data={"username": username, "password": auth.PASSWORD, "next": "/"})
    assert r.status_code == 303, r.text
    return r.cookies["citygrid_session"]


def test_a_signed_out_session_cannot_be_replayed(client, settings) -> None:
    auth.headers(settings, "planner", username="planner1")
    cookie = _sign_in(client, "planner1")
    client.cookies.clear()
    jar = {"citygrid_session": cookie}
    assert client.get("/maps/planner", cookies=jar).status_code == 200
    out = client.post("/logout", cookies=jar)
    assert out.status_code == 303
    client.cookies.clear()
    # A copy of the cookie taken before signing out is refused (it would have worked 12 h).
    again = client.get("/maps/planner", cookies=jar, headers={"accept": "application/json"})
    assert again.status_code == 401
    # Other sessions of the same account are not affected.
    other = _sign_in(client, "planner1")
    client.cookies.clear()
    page = client.get("/maps/planner", cookies={"citygrid_session": other})
    assert page.status_code == 200


def test_a_password_change_ends_every_older_token(client, settings) -> None:
    old = auth.headers(settings, "supervisor", username="sup1")
    admin = auth.headers(settings, "admin")
    assert client.get("/api/v1/tasks", headers=old, params=TASKS).status_code == 200
    r = client.patch("/api/v1/users/sup1", json={"password": "a-new-long-secret"}, headers=admin)
    assert r.status_code == 200, r.text
    refused = client.get("/api/v1/tasks", headers=old, params={**TASKS, "lang": "en"})
    assert refused.status_code == 401 and "password was changed" in refused.json()["detail"]
    time.sleep(1.05)  # tokens count in whole seconds; one of the change's second is refused
    token = client.post(
        "/api/v1/auth/token", data={"username": "sup1", "password": "a-new-long-secret"}
    ).json()["access_token"]
    fresh = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}, params=TASKS)
    assert fresh.status_code == 200, fresh.text
