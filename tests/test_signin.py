"""Sign-in under attack: failed attempts are limited per account and per client address (so
one colleague's typo does not lock a command centre out), counted in the database (every
worker shares them), audited, and an unknown name takes as long as a known one. Client
addresses come from X-Forwarded-For only through configured proxies."""

from __future__ import annotations

import statistics
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.main import create_app
from tests import auth
from tests import small_district as sd

TOKEN = "/api/v1/auth/token"


def _token(client, username: str, password: str, **kw):
    return client.post(TOKEN, data={"username": username, "password": password}, **kw)


@pytest.fixture()
def world(engine, settings):
    sd.build(engine)
    for name in ("ann", "bob", "cai"):
        auth.headers(settings, "acceptor", username=name)
    return engine, settings


def test_failed_sign_ins_lock_one_account_not_the_office(world) -> None:
    engine, settings = world
    settings.login_failures_per_account = 3
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        # Two server processes share the count: it lives in the database.
        assert [_token(c, "ann", "wrong-guess").status_code for c in (one, two, one)] == [401] * 3
        locked = _token(two, "ann", auth.PASSWORD, params={"lang": "en"})
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
        assert locked.headers["content-type"] == "application/problem+json"
        assert "too many failed sign-ins" in locked.json()["detail"]
        # Bob, at the next desk behind the same address, signs in as usual.
        assert _token(one, "bob", auth.PASSWORD).status_code == 200


def test_many_names_from_one_address_are_limited_too(world) -> None:
    _, settings = world
    settings.login_failures_per_client = 4
    with TestClient(create_app(settings)) as client:
        codes = [_token(client, f"guess{n}", "x-password").status_code for n in range(5)]
        assert codes == [401, 401, 401, 401, 429]
        assert _token(client, "cai", auth.PASSWORD).status_code == 429


def test_sign_ins_are_audited(world) -> None:
    engine, settings = world
    with TestClient(create_app(settings)) as client:
        assert _token(client, "ann", "wrong-guess").status_code == 401
        assert _token(client, "ann", auth.PASSWORD).status_code == 200
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT username, status, object FROM audit_log WHERE path = :p ORDER BY id"),
            {"p": TOKEN},
        ).all()
    assert [tuple(r) for r in rows] == [
        (None, 401, {"username": "ann"}),
        ("ann", 200, {"username": "ann"}),
    ]


def test_an_unknown_name_takes_as_long_as_a_known_one(world) -> None:
    _, settings = world
    settings.login_failures_per_account = settings.login_failures_per_client = 1000

    def timed(name: str) -> float:
        started = time.perf_counter()
        assert _token(client, name, "wrong-guess").status_code == 401
        return time.perf_counter() - started

    with TestClient(create_app(settings)) as client:
        timed("ann")  # warm up
        known = statistics.median(timed("ann") for _ in range(5))
        unknown = statistics.median(timed(f"nobody{n}") for n in range(5))
    # Before: ~89 ms against ~2 ms. Now both verify an argon2 hash.
    assert unknown > 0.5 * known, (known, unknown)


def test_forwarded_for_counts_only_through_a_trusted_proxy(world) -> None:
    _, settings = world
    settings.open311_rate_per_minute = 2
    form = {"service_code": "SJ0102", "lat": sd.lonlat(30, 40)[1], "long": sd.lonlat(30, 40)[0]}

    def post(client, n: int) -> int:
        headers = {"X-Forwarded-For": f"10.0.0.{n}"}
        return client.post("/open311/v2/requests.json", data=form, headers=headers).status_code

    with TestClient(create_app(settings)) as client:
        # Anyone can write the header: from an untrusted peer it changes nothing.
        assert [post(client, n) for n in range(3)] == [201, 201, 429]
    settings.trusted_proxies = ["testclient"]  # TestClient's peer address
    with TestClient(create_app(settings)) as client:
        assert [post(client, n) for n in range(10, 13)] == [201, 201, 201]
