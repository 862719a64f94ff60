"""Case workflow: every legal path, 409 for illegal actions, atomic logging, clocks, task lists.

Runs on the hand-made district (tests/small_district.py) with the bundled calendars and time
limits loaded. Exposed garbage (event 0102) has 1 working day = 7 working hours.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app import states
from app.db.session import make_engine
from app.db.workflow import cases as workflow_repo
from app.main import create_app
from app.services.workflow import transitions as service
from app.services.workflow.calendar import load_workflow_defaults
from app.services.workflow.machine import ACTIONS, Actor
from app.settings import Settings
from tests import auth
from tests import small_district as sd
from tests.conftest import create_database, drop_database

SH = ZoneInfo("Asia/Shanghai")
PROBLEM = "application/problem+json"
SUPERVISOR = "监督员 张三"


def at(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=SH)


def _populate(engine, settings):
    units = sd.build(engine)
    load_workflow_defaults(engine, settings)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE grid SET supervisor = :s WHERE code IN (:a, :b)"),
            {"s": SUPERVISOR, "a": sd.A1, "b": sd.A2},
        )
    return units


@pytest.fixture(scope="module")
def shared(server_url, template_db, tmp_path_factory):
    """One district for the tests that only touch cases they create themselves."""
    name = f"citygrid_workflow_{os.getpid()}"
    url = create_database(server_url, name, template=template_db)
    engine = make_engine(url)
    settings = Settings(database_url=url, home=tmp_path_factory.mktemp("home"))
    units = _populate(engine, settings)
    with TestClient(create_app(settings), headers=auth.headers(settings, "admin")) as client:
        yield client, engine, settings, units
    engine.dispose()
    drop_database(server_url, name)


@pytest.fixture()
def world(engine, settings):
    """A district of its own, for tests that count what the whole database holds."""
    units = _populate(engine, settings)
    with TestClient(create_app(settings), headers=auth.headers(settings, "admin")) as client:
        yield client, engine, settings, units


GRID_AT = {(0, 0): sd.A1, (1, 0): sd.A2, (0, 1): sd.B1, (1, 1): sd.B2}


def report(client, source="supervisor", x=30, y=40, code="0102", kind="event") -> int:
    """A case as intake leaves it: 'reported', the fallback office, no deadline (the clock
    starts at dispatch) and a 'report' log row. Inserted directly: intake itself is tested in
    tests/test_events.py."""
    engine = client.app.state.engine
    grid = GRID_AT[(int(x // 100), int(y // 100))]
    lon, lat = sd.lonlat(x, y)
    with engine.begin() as conn:
        office = conn.execute(
            text("SELECT id FROM responsible_unit WHERE code = 'U-JD-001'")
        ).scalar()
        event_id = conn.execute(
            text(
                "INSERT INTO event (scheme, class_kind, class_code, geom, source, reporter, grid_code, "
                "community_code, subdistrict_code, district_code, unit_id) "
                "VALUES ('2013', :k, :c, ST_SetSRID(ST_MakePoint(:x, :y), 4326), :s, :r, :g, "
                "left(:g, 12), left(:g, 9), left(:g, 6), :u) RETURNING id"
            ),
            {
                "k": kind,
                "c": code,
                "x": lon,
                "y": lat,
                "s": source,
                "r": SUPERVISOR,
                "g": grid,
                "u": office,
            },
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO case_log (event_id, actor, action, to_status) "
                "VALUES (:e, :r, 'report', 'reported')"
            ),
            {"e": event_id, "r": SUPERVISOR},
        )
    return event_id


def act(client, event_id, action, role="admin", actor="tester", **body):
    """POST an action as a signed-in user with ``role`` (a handler of the case's unit)."""
    settings = client.app.state.settings
    unit = None
    if role == "handler":
        with client.app.state.engine.connect() as conn:
            unit = conn.execute(
                text(
                    "SELECT u.code FROM event e JOIN responsible_unit u "
                    "ON u.id = e.unit_id WHERE e.id = :e"
                ),
                {"e": event_id},
            ).scalar()
        actor = f"{actor}-{unit}"
    return client.post(
        f"/api/v1/events/{event_id}/transitions",
        json={"action": action, **body},
        headers=auth.headers(settings, role, username=actor, unit_code=unit),
    )


def log_of(engine, event_id) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT action, from_status, to_status, actor FROM case_log WHERE event_id = :e "
                "ORDER BY at, id"
            ),
            {"e": event_id},
        ).all()


PATHS = {
    "supervisor report, straight through": (
        "supervisor",
        ["file", "dispatch", "accept", "handle", "request_check", "close"],
        "closed",
    ),
    "hotline: verify, extension, rework": (
        "hotline",
        [
            "request_verification",
            "confirm",
            "file",
            "dispatch",
            "accept",
            "request_extension",
            "approve_extension",
            "handle",
            "request_check",
            "rework",
            "handle",
            "request_check",
            "close",
        ],
        "closed",
    ),
    "hotline found invalid on site": ("hotline", ["request_verification", "invalidate"], "invalid"),
    "app report voided after verification": (
        "public_app",
        ["request_verification", "confirm", "void"],
        "voided",
    ),
    "supervisor report voided": ("supervisor", ["void"], "voided"),
    "wrong dispatch, refusals, shelving": (
        "video",
        [
            "file",
            "dispatch",
            "return",
            "dispatch",
            "accept",
            "request_extension",
            "refuse_extension",
            "request_shelving",
            "refuse_shelving",
            "request_shelving",
            "approve_shelving",
            "resume",
            "return",
            "dispatch",
            "accept",
            "handle",
            "request_check",
            "close",
        ],
        "closed",
    ),
}


def test_paths_cover_every_action():
    assert {a for _, path, _ in PATHS.values() for a in path} == set(ACTIONS)


@pytest.mark.parametrize("name", list(PATHS))
def test_every_legal_path(shared, name):
    client, engine, _, _ = shared
    source, path, final = PATHS[name]
    event_id = report(client, source=source)
    for action in path:
        body = {"hours": 4} if action == "request_extension" else {}
        if action == "dispatch" and path.count("return"):
            body["unit_code"] = "U-HW"
        if action == "handle":
            body.update(note="已清运", photo_urls=["https://example.org/after.jpg"])
        r = act(
            client, event_id, action, role=ACTIONS[action].role, actor=f"{action}-person", **body
        )
        assert r.status_code == 200, (action, r.text)
    view = r.json()
    assert view["status"] == final
    if final in states.TERMINAL:
        assert view["allowed_actions"] == []
    log = log_of(engine, event_id)
    assert [row[0] for row in log] == ["report", *path]
    # The log is a chain: each row starts where the one before ended.
    assert all(a[2] == b[1] for a, b in zip(log, log[1:], strict=False))
    assert log[-1][2] == final and log[1][3] == f"{path[0]}-person"
    api_log = client.get(f"/api/v1/events/{event_id}/log").json()
    assert api_log["count"] == len(path) + 1
    handled = [x for x in api_log["items"] if x["action"] == "handle"]
    assert all(x["data"]["photo_urls"] == ["https://example.org/after.jpg"] for x in handled)
    assert all(x["data"]["role"] == ACTIONS[x["action"]].role for x in api_log["items"][1:])


def test_illegal_action_is_409_listing_what_is_allowed(shared):
    client, engine, _, _ = shared
    public = report(client, source="hotline")
    r = act(client, public, "file")  # public reports are verified before filing
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["allowed_actions"] == ["request_verification", "void"]
    assert body["current_status"] == "reported" and "request_verification" in body["detail"]
    assert act(client, public, "close").json()["allowed_actions"] == [
        "request_verification",
        "void",
    ]
    unknown = act(client, public, "teleport")
    assert unknown.status_code == 409 and "teleport" in unknown.json()["detail"]
    own = report(client)
    assert act(client, own, "void").status_code == 200
    done = act(client, own, "file")
    assert done.status_code == 409 and done.json()["allowed_actions"] == []
    assert len(log_of(engine, public)) == 1 and len(log_of(engine, own)) == 2
    # Requests that need more than an action are 422, and change nothing either.
    case = report(client)
    for step in ("file", "dispatch", "accept"):
        act(client, case, step)
    assert act(client, case, "request_extension").status_code == 422  # no hours
    assert act(client, case, "approve_extension").status_code == 409  # nothing pending
    bad_unit = report(client)
    act(client, bad_unit, "file")
    assert act(client, bad_unit, "dispatch", unit_code="U-NOPE").status_code == 422
    # The wrong role is refused (403) before anything changes; so is another unit's handler.
    wrong = act(client, bad_unit, "dispatch", role="supervisor", actor="zhang")
    assert wrong.status_code == 403 and wrong.json()["required_roles"] == ["dispatcher"]
    act(client, bad_unit, "dispatch", role="dispatcher", actor="disp", unit_code="U-HW")
    outsider = client.post(
        f"/api/v1/events/{bad_unit}/transitions",
        json={"action": "accept"},
        headers=auth.headers(
            client.app.state.settings, "handler", username="outsider", unit_code="U-JD-001"
        ),
    )
    assert outsider.status_code == 403
    assert act(client, report(client), "file", criterion="不存在的条件").status_code == 422
    assert (
        client.post("/api/v1/events/999999/transitions", json={"action": "file"}).status_code == 404
    )


def test_state_and_log_are_written_atomically(shared, monkeypatch):
    client, engine, _, _ = shared
    event_id = report(client)
    act(client, event_id, "file")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(workflow_repo, "insert_log", broken)
    with pytest.raises(RuntimeError):
        client.post(f"/api/v1/events/{event_id}/transitions", json={"action": "dispatch"})
    monkeypatch.undo()
    view = client.get(f"/api/v1/events/{event_id}/workflow").json()
    assert view["status"] == "filed" and view["deadline_at"] is None
    assert [r[0] for r in log_of(engine, event_id)] == ["report", "file"]


def test_concurrent_actions_are_serialised(shared):
    client, engine, settings, _ = shared
    event_id = report(client)
    for step in ("file", "dispatch"):
        act(client, event_id, step)
    results: list[str] = []

    def accept():
        try:
            service.transition(
                engine, settings, event_id, service.TransitionInput("accept"), Actor()
            )
            results.append("ok")
        except Exception as exc:  # noqa: BLE001 - the loser's 409 is the point
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=accept) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["ConflictError", "ok"]
    assert [r[0] for r in log_of(engine, event_id)].count("accept") == 1


def _go(engine, settings, event_id, action, when, **kw):
    return service.transition(
        engine,
        settings,
        event_id,
        service.TransitionInput(action, **kw),
        Actor("t", "system"),
        at=at(when),
    )


def test_deadline_extension_and_shelving_move_the_clock(shared):
    client, engine, settings, _ = shared
    event_id = report(client)  # exposed garbage: 1 working day = 7 working hours
    _go(engine, settings, event_id, "file", "2026-02-13T14:00")
    view = _go(engine, settings, event_id, "dispatch", "2026-02-13T15:00")
    # Fri 15:00–17:30 (2.5 h), make-up Saturday 14 Feb 09–12 (3 h) and 13:30 + 1.5 h.
    assert view["deadline_at"] == at("2026-02-14T15:00")
    assert view["time_limit"]["unit"] == "working_days" and view["unit"]["code"] == "U-JD-001"
    _go(engine, settings, event_id, "accept", "2026-02-13T15:30")
    _go(engine, settings, event_id, "request_extension", "2026-02-13T16:00", hours=4)
    view = _go(engine, settings, event_id, "approve_extension", "2026-02-13T16:30")
    # + 4 working hours: Sat 15:00–17:30 (2.5 h), Spring Festival off, Tue 24 Feb 09:00 + 1.5 h.
    assert view["deadline_at"] == at("2026-02-24T10:30") and view["pending_request"] is None
    assert view["time_limit"]["extension_hours"] == 4
    _go(engine, settings, event_id, "request_shelving", "2026-02-24T09:00")
    view = _go(engine, settings, event_id, "approve_shelving", "2026-02-24T09:30")
    assert view["status"] == "shelved"
    # Frozen at 09:30 Tuesday: 1 h of the 11 h (7 + 4) left, whenever we look.
    later = service.get_workflow(engine, settings, event_id, now=at("2026-03-20T10:00"))
    assert later["clock"]["frozen"] and later["clock"]["used_percent"] == pytest.approx(90.9)
    assert later["clock"]["light"] == "yellow"
    view = _go(engine, settings, event_id, "resume", "2026-02-25T11:00")
    # The hour that was left runs from 11:00 Wednesday.
    assert view["status"] == "handling" and view["deadline_at"] == at("2026-02-25T12:00")
    assert view["stage"]["due_at"] == at("2026-02-25T12:00")
    mid = service.get_workflow(engine, settings, event_id, now=at("2026-02-25T11:30"))
    assert (mid["clock"]["light"], mid["clock"]["used_percent"]) == ("yellow", pytest.approx(95.5))
    late = service.get_workflow(engine, settings, event_id, now=at("2026-02-25T13:45"))
    assert late["clock"]["light"] == "red" and late["clock"]["overdue"]
    _go(engine, settings, event_id, "handle", "2026-02-25T13:45")
    view = _go(engine, settings, event_id, "request_check", "2026-02-25T14:00")
    # The check stage: 2 working hours from 14:00.
    assert view["stage"]["due_at"] == at("2026-02-25T16:00")
    done = _go(engine, settings, event_id, "close", "2026-02-25T15:00")
    assert done["clock"]["frozen"] and done["clock"]["overdue"]
    log = client.get(f"/api/v1/events/{event_id}/log").json()["items"]
    handle = next(x for x in log if x["action"] == "handle")
    assert handle["data"]["deadline_at"].startswith("2026-02-25T12:00")
    close = next(x for x in log if x["action"] == "close")
    assert close["data"]["stage_due_at"].startswith("2026-02-25T16:00")


def test_redispatch_restarts_the_clock_and_criteria_pick_limits(shared):
    client, engine, settings, _ = shared
    cover = report(client, code="0101", kind="component", x=60, y=60)
    view = _go(engine, settings, cover, "file", "2026-11-23T10:00", criterion="缺失")
    view = _go(engine, settings, cover, "dispatch", "2026-11-23T10:10", unit_code="U-SZ")
    # 井盖缺失: 2 urgent hours, around the clock.
    assert view["deadline_at"] == at("2026-11-23T12:10")
    assert view["time_limit"]["criterion"] == "缺失"
    _go(engine, settings, cover, "return", "2026-11-23T10:30")
    view = _go(engine, settings, cover, "dispatch", "2026-11-23T11:00", unit_code="U-GD")
    assert view["deadline_at"] == at("2026-11-23T13:00") and view["unit"]["code"] == "U-GD"
    log = client.get(f"/api/v1/events/{cover}/log").json()["items"]
    returned = next(x for x in log if x["action"] == "return")
    assert returned["data"]["dispatched_by"] == "t"


def test_task_lists_by_role_most_urgent_first(world):
    client, engine, settings, _ = world
    hotline_old = report(client, source="hotline")
    hotline_new = report(client, source="hotline")
    own = report(client)
    elsewhere = report(client, x=60, y=160)  # grid B1: another supervisor's
    for case in (hotline_new, hotline_old):
        _go(
            engine,
            settings,
            case,
            "request_verification",
            "2026-11-23T09:00" if case == hotline_old else "2026-11-23T10:00",
        )
    _go(engine, settings, own, "file", "2026-11-23T09:00")
    _go(engine, settings, own, "dispatch", "2026-11-23T09:30")
    _go(engine, settings, elsewhere, "file", "2026-11-23T09:00")
    _go(engine, settings, elsewhere, "dispatch", "2026-11-23T09:05", unit_code="U-HW")
    _go(engine, settings, elsewhere, "accept", "2026-11-23T09:10")
    _go(engine, settings, elsewhere, "handle", "2026-11-23T09:20")
    _go(engine, settings, elsewhere, "request_check", "2026-11-23T09:30")

    sup = client.get("/api/v1/tasks", params={"role": "supervisor", "supervisor": SUPERVISOR})
    items = sup.json()["items"]
    assert [i["event_id"] for i in items] == [hotline_old, hotline_new]  # verify, by due time
    assert items[0]["task"] == "现场核实" and datetime.fromisoformat(items[0]["due_at"]) == at(
        "2026-11-24T09:00"
    )
    grid_b1 = client.get("/api/v1/tasks", params={"role": "supervisor", "grid": sd.B1}).json()
    assert [i["event_id"] for i in grid_b1["items"]] == [elsewhere]
    assert grid_b1["items"][0]["task"] == "现场核查"
    unit = client.get("/api/v1/tasks", params={"role": "unit", "unit": "U-JD-001"}).json()
    assert [i["event_id"] for i in unit["items"]] == [own]
    assert unit["items"][0]["light"] in ("green", "yellow", "red")
    assert client.get("/api/v1/tasks", params={"role": "unit"}).status_code == 422
    dispatcher = client.get("/api/v1/tasks", params={"role": "dispatcher"}).json()
    assert dispatcher["numberMatched"] == 0
    centre = client.get("/api/v1/tasks", params={"role": "command_centre"}).json()
    assert centre["numberMatched"] == 0  # nothing reported, verified, filed or handled waits
    fresh = report(client, source="public_app")
    mine = report(client)
    acceptor = client.get("/api/v1/tasks", params={"role": "acceptor"}).json()
    leader = client.get("/api/v1/tasks", params={"role": "shift_leader"}).json()
    assert [i["event_id"] for i in acceptor["items"]] == [fresh]
    assert [i["event_id"] for i in leader["items"]] == [mine]


def test_component_case_moves_the_component_status(world):
    client, engine, _, _ = world
    with engine.begin() as conn:
        light = conn.execute(
            text("SELECT id FROM component WHERE identifier = :i"), {"i": sd.LIGHT_ID}
        ).scalar_one()
    event_id = report(client, kind="component", code="0118", x=50, y=90)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE event SET component_id = :c WHERE id = :e"), {"c": light, "e": event_id}
        )
    assert act(client, event_id, "file", note="路灯不亮").status_code == 200
    status = "SELECT status FROM component WHERE id = :c"
    with engine.connect() as conn:
        assert conn.execute(text(status), {"c": light}).scalar_one() == "damaged"
    for step in ("dispatch", "accept", "handle", "request_check", "close"):
        assert act(client, event_id, step).status_code == 200, step
    with engine.connect() as conn:
        assert conn.execute(text(status), {"c": light}).scalar_one() == "in_service"
        changes = conn.execute(
            text("SELECT count(*) FROM component_history WHERE component_id = :c"), {"c": light}
        ).scalar_one()
    assert changes >= 2
