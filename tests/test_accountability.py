"""Who did it: the signed-in account is the actor everywhere, and every audit row names the
object it changed. The free-text ``reporter`` stays what the reporter typed, and nobody can
score in the supervisors' evaluation by typing someone else's name."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.main import create_app
from app.services.workflow.calendar import load_workflow_defaults
from tests import auth
from tests import small_district as sd

ZHANG, LI = "监督员 张三", "监督员 李四"


@pytest.fixture()
def world(engine, settings):
    sd.build(engine)
    load_workflow_defaults(engine, settings)
    with engine.begin() as conn:
        conn.execute(text("UPDATE grid SET supervisor = :s"), {"s": ZHANG})
    zhang = auth.headers(settings, "supervisor", username="zhang", display_name=ZHANG)
    auth.headers(settings, "supervisor", username="li", display_name=LI)
    with TestClient(create_app(settings), headers=auth.headers(settings, "admin")) as client:
        yield client, engine, zhang


def _report(client, headers: dict, **extra) -> dict:
    lon, lat = sd.lonlat(30, 40)
    body = {"class_kind": "event", "class_code": "0102", "lon": lon, "lat": lat, **extra}
    r = client.post("/api/v1/events", json={"source": "supervisor", **body}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def test_the_case_log_names_the_account_not_the_typed_name(world) -> None:
    client, engine, zhang = world
    case = _report(client, zhang, reporter=LI)
    # What was typed is kept as typed; who filed it is the account.
    assert case["reporter"] == LI and case["reported_by"] == "zhang"
    with engine.connect() as conn:
        actor = conn.execute(
            text("SELECT actor FROM case_log WHERE event_id = :e AND action = 'report'"),
            {"e": case["id"]},
        ).scalar_one()
    assert actor == "zhang"


def test_nobody_scores_as_someone_else(world) -> None:
    client, _, zhang = world
    for _ in range(2):
        _report(client, zhang, reporter=LI)  # Zhang types Li's name
    # A day either side: the period is read in the deployment's time zone, not the machine's.
    around = [(date.today() + timedelta(days=d)).isoformat() for d in (-1, 1)]
    r = client.get(
        "/api/v1/evaluation",
        params={"level": "post", "post": "supervisor", "from": around[0], "to": around[1]},
    )
    assert r.status_code == 200, r.text
    rows = {row["key"]: row for row in r.json()["rows"]}
    assert rows[ZHANG]["reported"] == 2
    assert LI not in rows or rows[LI]["reported"] == 0


def _audit(engine, expected: int) -> list[tuple]:
    deadline = time.monotonic() + 5  # written in the background within ~50 ms
    while True:
        with engine.connect() as conn:
            rows = [
                tuple(r)
                for r in conn.execute(
                    text("SELECT username, method, path, status, object FROM audit_log ORDER BY id")
                )
            ]
        if len(rows) >= expected or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def test_every_audit_row_names_what_it_changed(world) -> None:
    client, engine, zhang = world
    case = _report(client, zhang)
    moved = client.post(f"/api/v1/events/{case['id']}/transitions", json={"action": "file"})
    assert moved.status_code == 200, moved.text
    rule = client.post(
        "/api/v1/dispatch-rules",
        json={"class_code": "0102", "area_code": sd.COMMUNITY_A, "unit_code": "U-HW"},
    )
    assert rule.status_code == 201, rule.text
    refused = client.post("/api/v1/events/999999/transitions", json={"action": "file"})
    assert refused.status_code == 404
    rows = _audit(engine, 4)
    assert [r[:4] for r in rows] == [
        ("zhang", "POST", "/api/v1/events", 201),
        ("admin", "POST", f"/api/v1/events/{case['id']}/transitions", 200),
        ("admin", "POST", "/api/v1/dispatch-rules", 201),
        ("admin", "POST", "/api/v1/events/999999/transitions", 404),
    ]
    # Compared as text, as ``object->>'event_id'`` reads it (path parameters arrive as text).
    assert [{k: str(v) for k, v in r[4].items()} for r in rows] == [
        {"event_id": str(case["id"])},
        {"event_id": str(case["id"])},
        {"rule_id": str(rule.json()["id"])},
        {"event_id": "999999"},  # a refused write still names what it tried to change
    ]
