"""Event intake and assignment on the hand-made district (see tests/small_district.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.main import create_app
from tests import auth
from tests import small_district as sd

PROBLEM = "application/problem+json"


@pytest.fixture()
def world(engine, settings):
    units = sd.build(engine)
    # One account acting as supervisor (reports) and dispatcher (rules); roles are tested
    # on their own in tests/test_auth.py.
    with TestClient(
        create_app(settings), headers=auth.headers(settings, "supervisor", "dispatcher")
    ) as client:
        yield client, engine, units


def _count(engine, table: str = "event") -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def report(client, x, y, code="0102", kind="event", **extra):
    lon, lat = sd.lonlat(x, y)
    body = {
        "class_code": code,
        "lon": lon,
        "lat": lat,
        "source": "supervisor",
        "reporter": "监督员 张三",
        **extra,
    }
    if kind:
        body["class_kind"] = kind
    return client.post("/api/v1/events", json=body)


def test_event_lands_in_its_grid_with_street_and_fallback_unit(world):
    client, engine, _ = world
    r = report(client, 30, 90, location_text="长宁路 12 号", description="垃圾堆放")
    assert r.status_code == 201, r.text
    case = r.json()
    a = case["assignment"]
    assert case["grid_code"] == sd.A1 and a["grid"]["code"] == sd.A1
    assert a["community"] == {"code": sd.COMMUNITY_A, "name": "桂花社区"}
    assert a["subdistrict"]["code"] == sd.SUBDISTRICT and a["district"]["code"] == sd.DISTRICT
    assert a["street"]["name"] == "长宁路"
    assert a["street"]["distance_m"] == pytest.approx(10, abs=0.3)
    assert a["unit"]["code"] == "U-JD-001" and a["unit"]["rule"] == "fallback"
    assert "属地兜底" in a["unit"]["reason"]
    assert case["status"] == "reported" and r.headers["location"] == f"/api/v1/events/{case['id']}"
    assert client.get(f"/api/v1/events/{case['id']}").json()["grid_code"] == sd.A1
    with engine.connect() as conn:
        log = conn.execute(
            text("SELECT action, to_status FROM case_log WHERE event_id = :i"), {"i": case["id"]}
        ).all()
    assert log == [("report", "reported")]


def test_without_a_sub_district_office_the_command_centre_takes_the_case(world):
    client, engine, _ = world
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM responsible_unit WHERE code = 'U-JD-001'"))
    unit = report(client, 30, 90).json()["assignment"]["unit"]
    assert (unit["code"], unit["rule"]) == ("U-ZH", "command_centre")
    assert "无办事处" in unit["reason"]
    with engine.begin() as conn:  # and with no command centre either, the case still lands
        conn.execute(text("UPDATE responsible_unit SET kind = 'department' WHERE code = 'U-ZH'"))
    r = report(client, 30, 90)
    assert r.status_code == 201 and r.json()["assignment"]["unit"]["rule"] == "unowned"


def test_street_farther_than_50_m_is_not_assigned(world):
    client, _, _ = world
    # (30, 40): 60 m from 长宁路 (y=100) and 70 m from 桂花巷 (x=100).
    a = report(client, 30, 40).json()["assignment"]
    assert a["street"]["id"] is None and "50.0 米内无街道" in a["street"]["reason"]


def test_outside_the_managed_area_is_422_and_stores_nothing(world):
    client, engine, _ = world
    r = report(client, 500, 500)
    assert r.status_code == 422
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["type"].endswith("/outside-managed-area")
    assert _count(engine) == 0 and _count(engine, "case_log") == 0


@pytest.mark.parametrize(
    ("x", "y", "expected"),
    [
        (100, 50, sd.A1),  # shared edge A1 | A2
        (100, 100, sd.A1),  # vertex shared by all four grids
        (150, 100, sd.A2),  # edge A2 | B2: the community A grid has the smaller code
        (0, 50, sd.A1),  # outer boundary still belongs to the grid
    ],
)
def test_boundary_points_go_to_the_smallest_code(world, x, y, expected):
    client, _, _ = world
    assert report(client, x, y).json()["grid_code"] == expected
    lon, lat = sd.lonlat(x, y)
    assert client.get(f"/api/v1/grids/locate?lon={lon}&lat={lat}").json()["id"] == expected


def test_unknown_class_is_422_and_stores_nothing(world):
    client, engine, _ = world
    r = report(client, 30, 90, code="0999")
    assert r.status_code == 422 and r.json()["type"].endswith("/unknown-class")
    assert "0999" in r.json()["detail"]
    assert _count(engine) == 0


@pytest.mark.parametrize(
    "body",
    [
        {"class_code": "0102", "lon": 200, "lat": 31.3},  # lon out of range
        {"class_code": "0102"},  # no location
        {"class_code": "01x2", "lon": 120.6, "lat": 31.3},  # malformed code
        {"class_code": "0102", "lon": 120.6, "lat": 31.3, "source": "tv"},  # unknown source
        {"class_code": "0102", "lon": 120.6, "lat": 31.3, "observed_at": "2026-11-21T09:00:00"},
        {"class_code": "0102", "lon": 120.6, "lat": 31.3, "location_text": "长" * 257},
        {
            "class_code": "0102",
            "lon": 120.6,
            "lat": 31.3,
            "location": {"type": "Point", "coordinates": [120.6, 31.3]},
        },  # both forms
    ],
)
def test_malformed_requests_are_problem_422(world, body):
    client, engine, _ = world
    r = client.post("/api/v1/events", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["detail"]
    assert _count(engine) == 0


VALID = b'{"class_code": "0102", "lon": 120.6, "lat": 31.3}'
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "content, headers, where",
    [
        (b"", JSON, "body"),
        (b'{"class_code": "0102", "lon": 120.6,', JSON, "body"),  # cut off
        (
            b"class_code=0102&lon=120.6&lat=31.3",
            {"Content-Type": "application/x-www-form-urlencoded"},
            "body",
        ),
        (VALID, {**JSON, "Idempotency-Key": "k" * 129}, "header.idempotency-key"),
    ],
)
def test_unreadable_requests_are_problem_422_naming_the_part(world, content, headers, where):
    client, engine, _ = world
    r = client.post("/api/v1/events", content=content, headers=headers)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert r.json()["detail"].startswith(where)
    assert _count(engine) == 0


def test_geojson_point_and_cgcs2000_are_accepted(world):
    client, _, _ = world
    lon, lat = sd.lonlat(150, 150)
    r = client.post(
        "/api/v1/events",
        json={
            "class_code": "SJ0102",
            "location": {"type": "Point", "coordinates": [lon, lat]},
            "crs": "EPSG:4490",
        },
    )
    assert r.status_code == 201, r.text
    assert r.json()["grid_code"] == sd.B2 and r.json()["class_kind"] == "event"


def _rule(client, area, unit, code="0102", kind="event"):
    r = client.post(
        "/api/v1/dispatch-rules",
        json={"class_code": code, "class_kind": kind, "area_code": area, "unit_code": unit},
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_rule_precedence_most_specific_area_wins(world):
    client, _, _ = world
    _rule(client, sd.DISTRICT, "U-HW")
    community_rule = _rule(client, sd.COMMUNITY_A, "U-SZ")
    _rule(client, sd.A1, "U-BJ")
    assert report(client, 50, 50).json()["assignment"]["unit"]["code"] == "U-BJ"  # grid rule
    unit = report(client, 150, 50).json()["assignment"]["unit"]  # A2
    assert unit["code"] == "U-SZ" and unit["rule_id"] == community_rule
    assert f"规则 {community_rule}" in unit["reason"] and "社区 320599001001" in unit["reason"]
    assert report(client, 50, 150).json()["assignment"]["unit"]["code"] == "U-HW"  # B1: district
    # B2 has its own unit, but a rule for the class comes first.
    assert report(client, 150, 150).json()["assignment"]["unit"]["code"] == "U-HW"
    # Another class: no rule; B2's grid unit, then B1's fallback office.
    other = report(client, 150, 150, code="0201").json()["assignment"]["unit"]
    assert (other["code"], other["rule"]) == ("U-BJ", "grid_unit")
    assert report(client, 50, 150, code="0201").json()["assignment"]["unit"]["rule"] == "fallback"


def test_component_problem_goes_to_the_component_maintainer(world):
    client, _, _ = world
    a = report(client, 53, 97, code="0118", kind="component").json()["assignment"]
    assert a["component"]["identifier"] == sd.LIGHT_ID
    assert a["component"]["distance_m"] == pytest.approx(3.6, abs=0.2)
    assert (a["unit"]["code"], a["unit"]["rule"]) == ("U-GD", "component_maintainer")
    # Farther than the 30 m radius: no component, the unit falls back.
    far = report(client, 90, 40, code="0118", kind="component").json()["assignment"]
    assert far["component"]["id"] is None and far["unit"]["rule"] == "fallback"
    # The identifier given wins over the distance.
    given = report(
        client, 90, 40, code="BJ0118", kind=None, component_identifier=sd.LIGHT_ID
    ).json()
    assert given["component_identifier"] == sd.LIGHT_ID
    assert given["assignment"]["component"]["distance_m"] > 30


def test_unknown_component_identifier_is_422(world):
    client, engine, _ = world
    r = report(
        client, 50, 50, code="0118", kind="component", component_identifier="3205990118999999"
    )
    assert r.status_code == 422 and _count(engine) == 0


def test_possible_duplicates_are_flagged_nearest_first(world):
    client, _, _ = world
    first = report(client, 40, 40).json()["id"]
    second = report(client, 40, 70).json()["id"]
    report(client, 40, 45, code="0201")  # another class is not a duplicate
    dups = report(client, 40, 50).json()["assignment"]["duplicates"]["cases"]
    assert [d["id"] for d in dups] == [first, second]
    assert dups[0]["distance_m"] == pytest.approx(10, abs=0.3)


def test_intake_states_the_class_time_limit_and_invents_no_deadline(world):
    """Exposed garbage (event 0102, 暴露垃圾): the time-limit table says 1 working day; the
    handling clock starts at dispatch, so intake gives no deadline of its own."""
    client, engine, _ = world
    listed = client.get("/api/v1/time-limits", params={"kind": "event", "class": "0102"}).json()[
        "items"
    ]
    default = next(r for r in listed if r["criterion"] == "")
    assert (default["limit_value"], default["limit_unit"]) == (1, "working_days")
    case = report(client, 30, 30).json()
    deadline = case["assignment"]["deadline"]
    assert deadline["at"] is None and case["deadline_at"] is None
    assert deadline["clock_starts"] == "dispatch"
    assert deadline["time_limit"] == {
        "value": 1.0,
        "unit": "working_days",
        "text": "1 工作日",
        "text_en": "1 working day",
    }
    assert "1 工作日" in deadline["reason"] and "派遣起算" in deadline["reason"]
    assert "1 working day" in deadline["reason_en"] and "dispatch" in deadline["reason_en"]
    assert "48" not in deadline["reason"] and "默认" not in deadline["reason"]
    # The first stage (受理立案) runs on its own limit: 2 urgent hours from the report.
    stage = deadline["stage"]
    assert stage["status"] == "reported" and stage["limit"]["text"] == "2 紧急工时"
    span = datetime.fromisoformat(stage["due_at"]) - datetime.fromisoformat(case["reported_at"])
    assert span.total_seconds() == 2 * 3600
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT deadline_at FROM event WHERE id = :i"), {"i": case["id"]}
        ).scalar_one()
    assert stored is None


def test_intake_reads_the_time_limit_table_as_it_is_now(world):
    client, engine, _ = world
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE time_limit SET limit_value = 4, limit_unit = 'working_hours' "
                "WHERE scheme = '2013' AND class_kind = 'event' AND class_code = '0102' "
                "AND criterion = ''"
            )
        )
        conn.execute(
            text(
                "DELETE FROM time_limit WHERE scheme = '2013' AND class_kind = 'event' "
                "AND class_code = '0201'"
            )
        )
    assert report(client, 30, 30).json()["assignment"]["deadline"]["time_limit"]["text"] == (
        "4 工作时"
    )
    none = report(client, 30, 30, code="0201").json()["assignment"]["deadline"]
    assert none["time_limit"] is None and none["at"] is None
    assert "未设处置时限" in none["reason"] and "no time limit" in none["reason_en"]


def test_idempotency_key_replays_and_conflicts(world):
    client, engine, _ = world
    first = report(client, 30, 30, idempotency_key="app-123")
    again = report(client, 30, 30, idempotency_key="app-123")
    assert (first.status_code, again.status_code) == (201, 200)
    assert (
        again.json()["id"] == first.json()["id"] and again.headers["idempotent-replayed"] == "true"
    )
    changed = report(client, 60, 60, idempotency_key="app-123")
    assert changed.status_code == 409 and changed.headers["content-type"] == PROBLEM
    assert _count(engine) == 1


def test_an_idempotency_key_is_the_accounts_own(world, settings):
    """Another account sending the same key gets its own case: never the first account's case
    (nor a 409 naming it), and each account's retry still replays its own."""
    client, engine, _ = world
    other = auth.headers(settings, "supervisor", username="other-patrol-app")
    mine = report(client, 30, 30, idempotency_key="shared-1", description="甲")
    lon, lat = sd.lonlat(30, 30)
    body = {"class_code": "0102", "class_kind": "event", "lon": lon, "lat": lat}
    body |= {"source": "supervisor", "reporter": "监督员 张三", "description": "甲"}
    same = client.post("/api/v1/events", json=body, headers=other | {"Idempotency-Key": "shared-1"})
    body |= {"description": "乙"}
    theirs = client.post(
        "/api/v1/events", json=body, headers=other | {"Idempotency-Key": "shared-2"}
    )
    assert (mine.status_code, same.status_code, theirs.status_code) == (201, 201, 201), same.text
    assert same.json()["id"] != mine.json()["id"]
    assert same.json()["reported_by"] == "other-patrol-app"
    # the other account reuses its key with other content: a 409 that names its own case
    clash = client.post(
        "/api/v1/events", json=body, headers=other | {"Idempotency-Key": "shared-1"}
    )
    assert clash.status_code == 409 and f"#{same.json()['id']}" in clash.json()["detail"]
    again = report(client, 30, 30, idempotency_key="shared-1", description="甲")
    assert again.status_code == 200 and again.json()["id"] == mine.json()["id"]
    assert _count(engine) == 3


def test_concurrent_retries_create_one_case(world):
    client, engine, _ = world
    with ThreadPoolExecutor(8) as pool:
        results = list(
            pool.map(lambda _: report(client, 30, 30, idempotency_key="retry-7"), range(16))
        )
    assert sorted({r.status_code for r in results}) in ([200, 201], [201])
    assert len({r.json()["id"] for r in results}) == 1
    assert [r.status_code for r in results].count(201) == 1
    assert _count(engine) == 1


def test_preview_assigns_without_storing(world):
    client, engine, _ = world
    points = [
        dict(zip(("lon", "lat"), sd.lonlat(x, y), strict=True)) | {"class_code": "0102"}
        for x, y in ((30, 30), (500, 500), (100, 100))
    ]
    r = client.post("/api/v1/events/assign", json={"points": points})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["inside"] for x in results] == [True, False, True]
    assert results[0]["assignment"]["grid"]["code"] == sd.A1
    assert results[2]["assignment"]["grid"]["code"] == sd.A1
    assert _count(engine) == 0


def test_rule_api_validates_and_reports_coverage(world):
    client, _, _ = world
    bad_unit = client.post(
        "/api/v1/dispatch-rules",
        json={"class_code": "0102", "area_code": sd.COMMUNITY_A, "unit_code": "NOPE"},
    )
    assert bad_unit.status_code == 422 and "NOPE" in bad_unit.json()["detail"]
    bad_area = client.post(
        "/api/v1/dispatch-rules",
        json={"class_code": "0102", "area_code": "320599009", "unit_code": "U-HW"},
    )
    assert bad_area.status_code == 422
    rule = _rule(client, sd.COMMUNITY_A, "U-HW")
    assert (
        client.post(
            "/api/v1/dispatch-rules",
            json={"class_code": "0102", "area_code": sd.COMMUNITY_A, "unit_code": "U-SZ"},
        ).status_code
        == 409
    )
    cov = client.get("/api/v1/dispatch-rules/coverage?kind=event&level=community").json()["areas"]
    by_area = {a["area_code"]: {c["class_code"]: c["grids"] for c in a["classes"]} for a in cov}
    assert "0102" not in by_area[sd.COMMUNITY_A]  # ruled
    assert by_area[sd.COMMUNITY_B]["0102"] == 1  # B1 falls through; B2 has a unit
    assert by_area[sd.COMMUNITY_A]["0201"] == 2
    assert (
        client.patch(f"/api/v1/dispatch-rules/{rule}", json={"unit_code": "U-SZ"}).json()[
            "unit_code"
        ]
        == "U-SZ"
    )
    assert client.delete(f"/api/v1/dispatch-rules/{rule}").status_code == 204
    assert client.get(f"/api/v1/dispatch-rules/{rule}").status_code == 404


def test_the_answer_and_the_case_read_back_agree_and_keep_the_contact_private(world):
    client, _, _ = world
    posted = report(client, 30, 30, reporter_contact={"phone": "13800000000"})
    assert posted.status_code == 201
    fetched = client.get(posted.headers["location"])
    assert fetched.status_code == 200
    assert posted.json() == fetched.json()  # same fields, same formats (UTC times as "Z")
    assert posted.json()["reported_at"].endswith("Z")
    assert "13800000000" not in posted.text and "reporter_contact" not in posted.json()
    assert "public_token" not in posted.json()
