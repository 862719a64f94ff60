"""Accounts, tokens and roles: every write endpoint refuses the unauthenticated (401) and the
wrong role (403), both as problem+json; handlers see only their unit's cases; writes are audited."""

from __future__ import annotations

import asyncio
import re
import time

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import app as cli
from app.db.pool import IntakeDatabase
from app.main import create_app
from app.services.accounts.audit import AuditTrail
from tests import auth
from tests import small_district as sd

PROBLEM = "application/problem+json"
# Writes open to the public or that store nothing: sign-in, the assignment preview and the
# Open311 citizen channel (rate-limited instead).
OPEN_WRITES = {("POST", "/api/v1/auth/token"), ("POST", "/api/v1/events/assign")}


@pytest.fixture()
def world(engine, settings):
    sd.build(engine)
    with TestClient(create_app(settings)) as client:
        yield client, settings, engine


def _writes(client) -> list[tuple[str, str]]:
    paths = client.get("/openapi.json").json()["paths"]
    out = []
    for path, ops in paths.items():
        for method in ops:
            m = method.upper()
            if (
                m in {"POST", "PUT", "PATCH", "DELETE"}
                and (m, path) not in OPEN_WRITES
                and not path.startswith("/open311")
            ):
                out.append((m, re.sub(r"\{[^}]+\}", "1", path)))
    return out


def test_sign_in_and_who_am_i(world):
    client, settings, _ = world
    auth.headers(settings, "supervisor", username="zhangsan", display_name="张三")
    r = client.post("/api/v1/auth/token", data={"username": "zhangsan", "password": auth.PASSWORD})
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
    me = client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {r.json()['access_token']}"}
    )
    assert me.json() == {
        "username": "zhangsan",
        "display_name": "张三",
        "roles": ["supervisor"],
        "unit_code": None,
    }
    wrong = client.post(
        "/api/v1/auth/token", data={"username": "zhangsan", "password": "nope-nope"}
    )
    unknown = client.post("/api/v1/auth/token", data={"username": "ghost", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["detail"] == unknown.json()["detail"]  # no hint which part was wrong


def test_every_write_endpoint_refuses_the_unauthenticated(world):
    client, _, _ = world
    writes = _writes(client)
    assert len(writes) >= 4
    for method, path in writes:
        r = client.request(method, path, json={})
        assert r.status_code == 401, (method, path, r.status_code)
        assert r.headers["content-type"] == PROBLEM


def test_every_write_endpoint_refuses_the_wrong_role(world):
    client, settings, _ = world
    analyst = auth.headers(settings, "analyst")  # analysts read; they never write
    for method, path in _writes(client):
        r = client.request(method, path, json={}, headers=analyst)
        assert r.status_code == 403, (method, path, r.status_code)
        assert r.headers["content-type"] == PROBLEM and "required_roles" in r.json()


def test_every_write_endpoint_refuses_every_role_it_does_not_name(world):
    """The full endpoint × role matrix: each write endpoint names the roles it admits (in its
    403 answer); every other role is refused too. Admins pass everywhere by design."""
    client, settings, _ = world
    from app.db.models import ROLES

    headers = {
        role: auth.headers(settings, role, unit_code="U-HW" if role == "handler" else None)
        for role in ROLES
        if role != "admin"
    }
    checked = 0
    for method, path in _writes(client):
        allowed = client.request(method, path, json={}, headers=headers["analyst"]).json()[
            "required_roles"
        ]
        for role, header in headers.items():
            if role in allowed:
                continue
            r = client.request(method, path, json={}, headers=header)
            assert r.status_code == 403, (method, path, role, r.status_code)
            checked += 1
    assert checked > 50


@pytest.mark.parametrize("token", ["garbage", "expired", "foreign"])
def test_bad_tokens_are_401(world, token):
    client, settings, _ = world
    auth.headers(settings, "supervisor", username="lisi")
    from app.services.accounts.users import issue_token

    value = {
        "garbage": "not-a-token",
        "expired": issue_token(settings, "lisi", minutes=-1),
        "foreign": jwt.encode(
            {"sub": "lisi"}, "another-key-of-32-bytes-at-least!!", algorithm="HS256"
        ),
    }[token]
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {value}"})
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM


def test_admins_manage_users_and_roles_are_checked(world):
    client, settings, _ = world
    admin = auth.headers(settings, "admin")
    body = {
        "username": "wangwu",
        "password": "long-enough-pw",
        "roles": ["handler"],
        "unit_code": "U-HW",
    }
    assert (
        client.post(
            "/api/v1/users", json=body, headers=auth.headers(settings, "supervisor")
        ).status_code
        == 403
    )
    assert client.post("/api/v1/users", json=body, headers=admin).status_code == 201
    assert client.post("/api/v1/users", json=body, headers=admin).status_code == 409
    no_unit = {**body, "username": "zhaoliu", "unit_code": None}
    assert client.post("/api/v1/users", json=no_unit, headers=admin).status_code == 422
    bad_role = {**body, "username": "qianqi", "roles": ["mayor"]}
    assert client.post("/api/v1/users", json=bad_role, headers=admin).status_code == 422
    users = client.get("/api/v1/users", headers=admin).json()["items"]
    assert all("password_hash" not in u for u in users)


def test_a_disabled_account_is_refused_at_once(world):
    client, settings, _ = world
    admin = auth.headers(settings, "admin")
    planner = auth.headers(settings, "planner", username="zhou")
    assert client.get("/api/v1/auth/me", headers=planner).status_code == 200
    r = client.patch("/api/v1/users/zhou", json={"is_active": False}, headers=admin)
    assert r.status_code == 200
    assert client.get("/api/v1/auth/me", headers=planner).status_code == 401


def test_handlers_see_only_their_units_cases(world):
    client, settings, _ = world
    lon, lat = sd.lonlat(30, 30)  # A1: no rule, no grid unit → the office U-JD-001
    case = client.post(
        "/api/v1/events",
        json={"class_code": "0102", "lon": lon, "lat": lat},
        headers=auth.headers(settings, "supervisor"),
    ).json()
    assert case["unit_code"] == "U-JD-001"
    mine = auth.headers(settings, "handler", unit_code="U-JD-001")
    other = auth.headers(settings, "handler", unit_code="U-HW")
    assert client.get(f"/api/v1/events/{case['id']}", headers=mine).status_code == 200
    assert client.get(f"/api/v1/events/{case['id']}", headers=other).status_code == 404
    assert client.get(f"/api/v1/events/{case['id']}").status_code == 401


def test_writes_land_in_the_audit_trail(world):
    client, settings, engine = world
    lon, lat = sd.lonlat(30, 30)
    client.post(
        "/api/v1/events",
        json={"class_code": "0102", "lon": lon, "lat": lat},
        headers=auth.headers(settings, "acceptor", username="slj"),
    )
    client.post("/api/v1/events", json={"class_code": "0102", "lon": lon, "lat": lat})  # refused
    expected = [("slj", "POST", "/api/v1/events", 201), (None, "POST", "/api/v1/events", 401)]
    deadline = time.monotonic() + 5  # the trail is written in the background, within ~50 ms
    while (rows := _audit_rows(engine)) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    assert rows == expected


def test_a_shutdown_writes_the_waiting_audit_rows(engine, settings):
    with TestClient(create_app(settings)) as client:
        for _ in range(3):
            client.post("/api/v1/events", json={"class_code": "0102", "lon": 0, "lat": 0})
    assert len(_audit_rows(engine)) == 3  # no waiting: closing the app wrote them


def test_the_audit_trail_survives_an_unreachable_database(caplog):
    # Nothing listens on port 9: every write fails. Requests must not wait for it, and a
    # shutdown must not hang on rows it cannot write; the failure is logged.
    async def scenario() -> float:
        db = IntakeDatabase("postgresql://citygrid@127.0.0.1:9/none")
        await db.open()
        trail = AuditTrail(db)
        started = time.monotonic()
        for _ in range(100):
            trail.record("slj", "POST", "/api/v1/events", 201, "127.0.0.1")
        recorded = time.monotonic() - started
        await asyncio.sleep(0.2)  # a first write fails meanwhile
        await asyncio.wait_for(trail.close(), timeout=5)
        await db.close()
        return recorded

    assert asyncio.run(scenario()) < 0.1
    assert "writing 100 audit rows failed" in caplog.text


def _audit_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text("SELECT username, method, path, status FROM audit_log ORDER BY at, id")
            )
        ]


def test_cli_adds_the_first_admin(engine, settings, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("CITYGRID_HOME", str(settings.home))
    result = CliRunner().invoke(
        cli, ["users", "add", "root-admin", "--role", "admin", "--password", "a-strong-password"]
    )
    assert result.exit_code == 0, result.output
    with TestClient(create_app(settings)) as client:
        r = client.post(
            "/api/v1/auth/token", data={"username": "root-admin", "password": "a-strong-password"}
        )
        assert r.status_code == 200
    again = CliRunner().invoke(
        cli, ["users", "add", "root-admin", "--role", "admin", "--password", "a-strong-password"]
    )
    assert again.exit_code == 1 and "root-admin" in again.output
