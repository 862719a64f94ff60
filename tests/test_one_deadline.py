"""One deadline rule: a dispatched case's deadline is the workflow's, on the working calendar,
and the task list, Open311 and the supervisor map (its lights and the light counts) all show it.

Exposed garbage (event 0102, 暴露垃圾) has 1 working day = 7 working hours (09:00–12:00,
13:30–17:30). Dispatched on Friday 3 April 2026 at 16:00, before the Qingming holidays
(4–6 April, Saturday to Monday), it is due on Tuesday 7 April at 16:00 — not 24 clock hours
later, as intake's old placeholder had it.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.db.hotspots.queries import EventFilter
from app.main import create_app
from app.services.hotspots.analysis import supervisor_workload
from app.services.workflow import transitions as workflow
from app.services.workflow.calendar import load_workflow_defaults
from app.services.workflow.machine import Actor
from gis.maps.text import LIGHT_COLOURS
from tests import auth
from tests import small_district as sd

SH = ZoneInfo("Asia/Shanghai")
SUPERVISOR = "监督员 张三"
DISPATCHED = datetime(2026, 4, 3, 16, 0, tzinfo=SH)  # Friday before Qingming
DUE = datetime(2026, 4, 7, 16, 0, tzinfo=SH)  # Tuesday after it


@pytest.fixture()
def world(engine, settings):
    sd.build(engine)
    load_workflow_defaults(engine, settings)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE grid SET supervisor = :s WHERE code = :g"), {"s": SUPERVISOR, "g": sd.A1}
        )
    # Open311 publishes the public channel only; these supervisor cases stand in for it here.
    settings.open311_public_sources = ["public_app", "supervisor"]
    with TestClient(create_app(settings), headers=auth.headers(settings, "admin")) as client:
        yield client, engine, settings


def _report(client, x=30, y=30) -> dict:
    lon, lat = sd.lonlat(x, y)
    body = {
        "class_code": "0102",
        "class_kind": "event",
        "lon": lon,
        "lat": lat,
        "source": "supervisor",
    }
    r = client.post("/api/v1/events", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _dispatch(engine, settings, event_id: int) -> dict:
    """File and dispatch the case on Friday 3 April (reported that morning)."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE event SET reported_at = :t WHERE id = :i"),
            {"t": DISPATCHED - timedelta(hours=6), "i": event_id},
        )
    filed = workflow.TransitionInput("file")
    workflow.transition(
        engine,
        settings,
        event_id,
        filed,
        Actor("值班长", "shift_leader"),
        DISPATCHED - timedelta(minutes=30),
    )
    sent = workflow.TransitionInput("dispatch", unit_code="U-HW")
    return workflow.transition(
        engine, settings, event_id, sent, Actor("派遣员", "dispatcher"), DISPATCHED
    )


def _map_popups(client, at: datetime) -> dict[int, str]:
    """The supervisor map's case popups (HTML) by case id, lights seen at ``at``."""
    r = client.get("/maps/supervisor", params={"grid": sd.A1, "at": at.isoformat()})
    assert r.status_code == 200, r.text
    popups = [json.loads(p) for p in re.findall(r'bindPopup\(("(?:[^"\\]|\\.)*")', r.text)]
    return {int(_found(r"<b>\S+ (\d+)</b>", p)): p for p in popups}


def _found(pattern: str, text: str) -> str:
    match = re.search(pattern, text)
    assert match, pattern
    return match[1]


def _light_of(popup: str) -> str:
    colour = _found(r"color:(#[0-9a-f]{6})'>●", popup)
    return {v: k for k, v in LIGHT_COLOURS.items()}[colour]


def test_dispatched_deadline_is_the_workflows_everywhere(world):
    client, engine, settings = world
    case = _report(client)
    view = _dispatch(engine, settings, case["id"])
    assert view["deadline_at"] == DUE
    assert view["time_limit"]["text"] == "1 工作日"

    # Task list of the unit: the same deadline, and it is the task's due time.
    tasks = client.get("/api/v1/tasks", params={"role": "unit", "unit": "U-HW"}).json()["items"]
    task = next(t for t in tasks if t["event_id"] == case["id"])
    assert datetime.fromisoformat(task["deadline_at"]) == DUE
    assert datetime.fromisoformat(task["due_at"]) == DUE

    # Open311: the dispatched case's expected_datetime is that deadline.
    got = client.get(f"/open311/v2/requests/{case['id']}.json").json()[0]
    assert datetime.fromisoformat(got["expected_datetime"]) == DUE

    # Supervisor map: the popup shows the deadline, the light follows working time. Tuesday
    # 10:00 is 2.5 of 7 working hours used (green), 15:00 is 6 of 7 (yellow), 16:30 overdue.
    for hour, light in ((10, "green"), (15, "yellow"), (16.5, "red")):
        seen = datetime(2026, 4, 7, tzinfo=SH) + timedelta(hours=hour)
        popup = _map_popups(client, seen)[case["id"]]
        assert "2026-04-07 16:00" in popup
        assert _light_of(popup) == light, (hour, popup)
        unit_tasks, _ = workflow.list_tasks(engine, settings, "unit", unit="U-HW", now=seen)
        assert [t["light"] for t in unit_tasks if t["event_id"] == case["id"]] == [light]
        counts = supervisor_workload(engine, settings, EventFilter(scheme="2013"), at=seen).loc[
            SUPERVISOR
        ]
        assert counts["open"] == 1 and counts[light] == 1


def test_undispatched_case_has_no_expected_datetime_and_a_stage_light(world):
    client, engine, settings = world
    case = _report(client)
    got = client.get(f"/open311/v2/requests/{case['id']}.json").json()[0]
    assert "expected_datetime" not in got
    xml = client.get(f"/open311/v2/requests/{case['id']}.xml").text
    assert "expected_datetime" not in xml
    # Before dispatch the light is the first stage's (受理立案, 2 urgent hours from the
    # report), in the map and in the SQL counts alike.
    reported = datetime.fromisoformat(case["reported_at"])
    for minutes, light in ((60, "green"), (100, "yellow"), (150, "red")):
        seen = reported + timedelta(minutes=minutes)
        popup = _map_popups(client, seen)[case["id"]]
        assert _light_of(popup) == light and "派遣后起算" in popup
        counts = supervisor_workload(engine, settings, EventFilter(scheme="2013"), at=seen).loc[
            SUPERVISOR
        ]
        assert counts[light] == 1 and counts["open"] == 1


def test_yellow_moments_left_empty_by_migration_0015_are_filled(world):
    client, engine, settings = world
    case = _report(client)
    _dispatch(engine, settings, case["id"])
    read = text("SELECT stage_yellow_at FROM case_workflow WHERE event_id = :i")
    with engine.begin() as conn:
        # 80 % of 7 working hours used = 1.4 h left before Tuesday 16:00.
        assert conn.execute(read, {"i": case["id"]}).scalar_one() == datetime(
            2026, 4, 7, 14, 36, tzinfo=SH
        )
        conn.execute(text("UPDATE case_workflow SET stage_yellow_at = NULL"))
    assert workflow.fill_stage_lights(engine, settings) == 1
    with engine.connect() as conn:
        assert conn.execute(read, {"i": case["id"]}).scalar_one() == datetime(
            2026, 4, 7, 14, 36, tzinfo=SH
        )
