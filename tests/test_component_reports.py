"""One rule for a report that names a component (部件标识码), on the hand-made district.

The identifier must name a registered component of the report's own class. A 路灯 report
carrying a water-cover identifier used to be accepted and handed to the water company; it is
now refused with a 422 naming both classes, by the intake, Open311, the preview and the bulk
importer alike, and nothing is stored.
"""

from __future__ import annotations

import csv

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.errors import ImportRejected
from app.main import create_app
from app.services.intake.event_import import import_events
from tests import auth
from tests import small_district as sd

PROBLEM = "application/problem+json"
COVER_ID = "3205990101000001"  # a 上水井盖 (fresh-water manhole cover) at (150, 95)


@pytest.fixture()
def world(engine, settings):
    units = sd.build(engine)
    with engine.begin() as conn:
        water = conn.execute(
            text(
                "INSERT INTO responsible_unit (code, name, kind) "
                "VALUES ('U-WATER', '自来水公司', 'contractor') RETURNING id"
            )
        ).scalar_one()
        lon, lat = sd.lonlat(150, 95)
        conn.execute(
            text(
                "INSERT INTO component (identifier, scheme, class_code, geom, grid_code, "
                "maintainer_unit_id) VALUES (:i, '2013', '0101', "
                "ST_SetSRID(ST_MakePoint(:x, :y), 4326), :g, :m)"
            ),
            {"i": COVER_ID, "x": lon, "y": lat, "g": sd.A2, "m": water},
        )
    with TestClient(create_app(settings), headers=auth.headers(settings, "supervisor")) as client:
        yield client, engine, units


def _count(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM event")).scalar_one()


def _body(x, y, code, ident, kind=None) -> dict:
    lon, lat = sd.lonlat(x, y)
    body = {"class_code": code, "lon": lon, "lat": lat, "source": "supervisor"}
    return body | ({"class_kind": kind} if kind else {}) | {"component_identifier": ident}


def test_a_street_light_report_naming_a_water_cover_is_refused_naming_both(world):
    client, engine, _ = world
    r = client.post("/api/v1/events", json=_body(148, 96, "BJ0118", COVER_ID))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["type"].endswith("/component-class-mismatch")
    assert "上水井盖" in problem["detail"] and "BJ0101" in problem["detail"]
    assert "路灯" in problem["detail"] and "BJ0118" in problem["detail"]
    assert problem["component_class"]["code"] == "0101"
    assert problem["reported_class"] == {"scheme": "2013", "kind": "component", "code": "0118"}
    en = client.post("/api/v1/events?lang=en", json=_body(148, 96, "BJ0118", COVER_ID)).json()
    assert "fresh-water supply manhole cover (BJ0101)" in en["detail"]
    assert "street light (BJ0118)" in en["detail"]
    assert _count(engine) == 0
    # Reported under the cover's own class, it goes to the cover's maintainer.
    ok = client.post("/api/v1/events", json=_body(148, 96, "BJ0101", COVER_ID))
    assert ok.status_code == 201, ok.text
    assert ok.json()["assignment"]["unit"]["name"] == "自来水公司"


def test_an_event_report_naming_a_component_is_refused(world):
    """Without a kind, 0118 is the *event* 私自饲养家禽家畜: naming the light is refused
    rather than handing livestock to the power company."""
    client, engine, _ = world
    r = client.post("/api/v1/events", json=_body(50, 90, "0118", sd.LIGHT_ID))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    detail = r.json()["detail"]
    assert "事件「私自饲养家禽家畜」（SJ0118）" in detail and "部件「路灯」（BJ0118）" in detail
    assert _count(engine) == 0


def test_an_unknown_identifier_is_a_clear_422_in_the_intake_and_the_preview(world):
    client, engine, _ = world
    missing = "3205990118999999"
    r = client.post("/api/v1/events?lang=en", json=_body(50, 90, "BJ0118", missing))
    assert r.status_code == 422 and r.json()["type"].endswith("/unknown-component")
    assert f"no component with identifier {missing} is registered" in r.json()["detail"]
    # The preview used to answer 200 with "no street light within 30 m" for this point.
    p = client.post("/api/v1/events/assign", json={"points": [_body(50, 90, "BJ0118", missing)]})
    assert p.status_code == 422 and p.headers["content-type"] == PROBLEM
    assert p.json()["type"].endswith("/unknown-component") and missing in p.json()["detail"]
    assert _count(engine) == 0


def test_the_preview_names_each_refused_point(world):
    client, engine, _ = world
    points = [
        _body(50, 90, "BJ0118", sd.LIGHT_ID),
        _body(148, 96, "BJ0118", COVER_ID),
        _body(30, 30, "0102", None),
    ]
    r = client.post("/api/v1/events/assign?lang=en", json={"points": points})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["detail"].startswith("points[1]: component 3205990101000001 is a fresh-water")
    assert [p["index"] for p in problem["points"]] == [1]
    points[1]["class_code"] = "BJ0101"
    assert client.post("/api/v1/events/assign", json={"points": points}).status_code == 200


def test_open311_refuses_a_component_of_another_class(world):
    client, engine, _ = world
    lon, lat = sd.lonlat(148, 96)
    r = client.post(
        "/open311/v2/requests.json",
        json={
            "service_code": "BJ0118",
            "lat": lat,
            "long": lon,
            "attribute": {"component_identifier": COVER_ID},
        },
    )
    # GeoReport v2 answers a bad request with 400 and its own error list.
    assert r.status_code == 400, r.text
    assert "上水井盖" in r.json()[0]["description"] and "路灯" in r.json()[0]["description"]
    assert _count(engine) == 0


def test_the_importer_refuses_the_row_with_the_api_message(world, settings, tmp_path):
    client, engine, _ = world
    path = tmp_path / "reports.csv"
    rows = [
        ("BJ0118", 52, 96, sd.LIGHT_ID),  # the light itself: fine
        ("BJ0118", 148, 96, COVER_ID),  # a street light report naming the water cover
        ("0102", 30, 30, ""),
    ]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["class_code", "lon", "lat", "component_identifier", "observed_at"])
        for code, x, y, ident in rows:
            w.writerow([code, *sd.lonlat(x, y), ident, "2026-11-01T09:30:00+08:00"])
    with pytest.raises(ImportRejected) as caught:
        import_events(engine, settings, path)
    [problem] = caught.value.problems
    zh = client.post("/api/v1/events", json=_body(148, 96, "BJ0118", COVER_ID)).json()["detail"]
    en = client.post("/api/v1/events?lang=en", json=_body(148, 96, "BJ0118", COVER_ID)).json()
    assert (problem.row, problem.column) == (2, "component_identifier")
    assert (problem.reason_zh, problem.reason) == (zh, en["detail"])
    assert _count(engine) == 0  # all-or-nothing
