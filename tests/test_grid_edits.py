"""Versioned grid edits through the API on the hand-made district (tests/small_district.py).

Each edit ends old versions and starts new ones in one transaction, moves open cases and
components to the grids now covering them (closed cases keep the version they had), and is
refused whole (422 problem+json listing the violations) when it would break a rule.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from shapely import LineString, box
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import app as cli
from app.main import create_app
from gis.grids import edits
from tests import auth
from tests import small_district as sd

PROBLEM = "application/problem+json"
A3, A4, A5 = (sd.COMMUNITY_A + f"{n:03d}" for n in (3, 4, 5))


@pytest.fixture()
def world(engine, settings):
    sd.build(engine)
    cases = {
        "open_west": event(engine, 25, 50, "dispatched"),
        "open_east": event(engine, 75, 50, "handling"),
        "open_a2": event(engine, 150, 50, "reported"),
        "closed": event(engine, 25, 60, "closed"),
        "in_b": event(engine, 50, 150, "filed"),
    }
    planner = auth.headers(settings, "planner", username="wangwu")
    with TestClient(create_app(settings), headers=planner) as client:
        yield client, engine, cases


def event(engine, x, y, status):
    """A case stored as the intake would have stored it: in the grid covering its point."""
    lon, lat = sd.lonlat(x, y)
    with engine.begin() as conn:
        return conn.execute(
            text("""
            INSERT INTO event (scheme, class_kind, class_code, geom, source, status, grid_id,
                               grid_code, community_code, subdistrict_code, district_code)
            SELECT '2013', 'event', '0102', ST_SetSRID(ST_MakePoint(:x, :y), 4326), 'supervisor',
                   :s, g.id, g.code, g.community_code, left(g.code, 9), left(g.code, 6)
            FROM grid g WHERE g.valid_to IS NULL
              AND ST_Covers(g.geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))
            ORDER BY g.code LIMIT 1 RETURNING id"""),
            {"x": lon, "y": lat, "s": status},
        ).scalar()


def geo(shape) -> dict:
    """A shape in local metres as WGS84 GeoJSON."""
    coords = shape.exterior.coords if shape.geom_type == "Polygon" else shape.coords
    ring = [list(sd.lonlat(x, y)) for x, y in coords]
    if shape.geom_type == "Polygon":
        return {"type": "Polygon", "coordinates": [ring]}
    return {"type": "LineString", "coordinates": ring}


def rows(engine, sql, **params):
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def case(engine, event_id):
    return rows(
        engine,
        "SELECT e.grid_code, e.grid_id, g.version, g.valid_to FROM event e "
        "JOIN grid g ON g.id = e.grid_id WHERE e.id = :i",
        i=event_id,
    )[0]


def current(engine, community=sd.COMMUNITY_A):
    return [
        r["code"]
        for r in rows(
            engine,
            "SELECT code FROM grid WHERE valid_to IS NULL AND community_code = :c ORDER BY code",
            c=community,
        )
    ]


def moved(body, what="events"):
    return {m["id"]: (m["from_code"], m["to_code"]) for m in body["moved"][what]}


def test_split_moves_open_cases_and_components_not_closed_ones(world):
    client, engine, cases = world
    before = rows(engine, "SELECT count(*) AS n FROM grid")[0]["n"]
    line = geo(LineString([(50, -10), (50, 110)]))
    r = client.post(
        f"/api/v1/grids/{sd.A1}/split?dry_run=true", json={"line": line, "actor": "规划员 王五"}
    )
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["dry_run"] and preview["valid"] and preview["edit_id"] is None
    assert [s["code"] for s in preview["started"]] == [A3, A4]  # west piece first
    assert moved(preview) == {cases["open_west"]: (sd.A1, A3), cases["open_east"]: (sd.A1, A4)}
    assert rows(engine, "SELECT count(*) AS n FROM grid")[0]["n"] == before  # nothing stored

    r = client.post(f"/api/v1/grids/{sd.A1}/split", json={"line": line, "actor": "规划员 王五"})
    body = r.json()
    assert r.status_code == 200 and body["valid"] and body["edit_id"]
    assert body["retired"] == [sd.A1] and body["closed_cases_kept"] == 1
    assert [s["area_m2"] for s in body["started"]] == pytest.approx([5018, 5018], abs=1)
    assert [f["properties"]["code"] for f in body["grids"]["features"]] == [A3, A4]
    assert current(engine) == [sd.A2, A3, A4]
    assert case(engine, cases["open_west"])["grid_code"] == A3
    assert case(engine, cases["open_east"])["grid_code"] == A4
    closed = case(engine, cases["closed"])  # keeps the version it was handled in
    assert closed["grid_code"] == sd.A1 and closed["valid_to"] is not None
    # the street light on the cut line goes to the smaller code, as locate does
    assert moved(body, "components") == {1: (sd.A1, A3)}
    log = rows(
        engine, "SELECT action, actor, data FROM case_log WHERE event_id = :i", i=cases["open_west"]
    )
    assert log == [
        {
            "action": "regrid",
            "actor": "wangwu (规划员 王五)",
            "data": {"grid_edit": body["edit_id"], "from": sd.A1, "to": A3},
        }
    ]


def test_merge_takes_the_next_free_code_and_never_reuses_one(world):
    client, engine, cases = world
    r = client.post("/api/v1/grids/merge", json={"codes": [sd.A1, sd.A2]})
    assert r.status_code == 200, r.text
    assert [s["code"] for s in r.json()["started"]] == [A3]
    assert moved(r.json()) == {
        cases["open_west"]: (sd.A1, A3),
        cases["open_east"]: (sd.A1, A3),
        cases["open_a2"]: (sd.A2, A3),
    }
    # splitting the merged grid again: 001 and 002 are retired for good
    r = client.post(
        f"/api/v1/grids/{A3}/split", json={"line": geo(LineString([(100, -10), (100, 110)]))}
    )
    assert [s["code"] for s in r.json()["started"]] == [A4, A5]
    retired = rows(engine, "SELECT code FROM grid_code_retired ORDER BY code")
    assert [x["code"] for x in retired] == [sd.A1, sd.A2, A3]
    # grids of two communities, or not touching, are not merged
    r = client.post("/api/v1/grids/merge", json={"codes": [A4, sd.B1]})
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert (
        "different communities"
        in client.post("/api/v1/grids/merge?lang=en", json={"codes": [A4, sd.B1]}).json()["detail"]
    )


def test_reshape_moves_the_shared_boundary_and_keeps_codes(world):
    client, engine, cases = world
    new = geo(box(0, 0, 120, 100))
    r = client.post(f"/api/v1/grids/{sd.A1}/reshape", json={"geometry": new, "actor": "p"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["retired"] == []
    assert [(s["code"], s["version"]) for s in body["started"]] == [(sd.A1, 2), (sd.A2, 2)]
    assert [s["area_m2"] for s in body["started"]] == pytest.approx([12043, 8029], abs=2)
    # the case at x=75 stays in A1 (new version), none crosses the moved boundary at x=100..120
    assert case(engine, cases["open_east"]) | {"grid_id": 0} == {
        "grid_code": sd.A1,
        "grid_id": 0,
        "version": 2,
        "valid_to": None,
    }
    # without the neighbours following, the same shape overlaps A2: refused, nothing changed
    r = client.post(
        f"/api/v1/grids/{sd.A1}/reshape?lang=en",
        json={"geometry": geo(box(0, 0, 150, 100)), "adjust_neighbours": False},
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    problem = r.json()
    assert problem["type"].endswith("/grid-topology")
    assert [v["rule"] for v in problem["violations"]] == ["overlap"]
    assert problem["violations"][0]["codes"] == [sd.A1, sd.A2]
    assert problem["violations"][0]["geometry"]["type"] == "Polygon"
    assert rows(engine, "SELECT max(version) AS v FROM grid WHERE code = :c", c=sd.A1)[0]["v"] == 2
    # a dry run shows the same verdict with a 200
    r = client.post(
        f"/api/v1/grids/{sd.A1}/reshape?dry_run=true",
        json={"geometry": geo(box(0, 0, 150, 100)), "adjust_neighbours": False},
    )
    assert r.status_code == 200 and not r.json()["valid"]


def test_retire_is_refused_where_it_leaves_a_gap_and_create_fills_one(world):
    client, engine, cases = world
    r = client.post("/api/v1/grids/retire?lang=en", json={"codes": [sd.A2]})
    assert r.status_code == 422 and [v["rule"] for v in r.json()["violations"]] == ["gap"]
    assert "gap" in r.json()["detail"] and current(engine) == [sd.A1, sd.A2]
    # retiring every grid of the community starts it over; its open cases lose their grid
    r = client.post("/api/v1/grids/retire", json={"codes": [sd.A1, sd.A2]})
    assert r.status_code == 200, r.text
    assert moved(r.json())[cases["open_a2"]] == (sd.A2, None)
    # a roughly drawn polygon is clipped to the community: new code, never 001 or 002
    r = client.post("/api/v1/grids", json={"geometry": geo(box(-10, -10, 90, 95))})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [s["code"] for s in body["started"]] == [A3] and body["clipped_m2"] > 0
    assert [w["rule"] for w in body["warnings"]] == ["partial"]
    assert moved(body)[cases["open_west"]] == (None, A3)
    # the next one is clipped to the free area, so it meets A3 edge to edge
    r = client.post(
        "/api/v1/grids", json={"geometry": geo(box(-5, -5, 210, 105)), "community": sd.COMMUNITY_A}
    )
    assert r.status_code == 200 and r.json()["warnings"] == []
    assert current(engine) == [A3, A4]
    r = client.post("/api/v1/grids", json={"geometry": geo(box(20, 20, 60, 60))})
    assert (
        r.status_code == 422
        and "no free area"
        in client.post("/api/v1/grids?lang=en", json={"geometry": geo(box(20, 20, 60, 60))}).json()[
            "detail"
        ]
    )


def test_renumber_keeps_the_mapping_and_history_follows(world):
    client, engine, cases = world
    client.post(
        f"/api/v1/grids/{sd.A1}/split", json={"line": geo(LineString([(50, -10), (50, 110)]))}
    )
    r = client.post("/api/v1/grids/renumber", json={"community": sd.COMMUNITY_A, "actor": "p"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["mapping"] == {sd.A2: A3, A3: sd.A1, A4: sd.A2}  # west → east
    assert current(engine) == [sd.A1, sd.A2, A3]
    assert case(engine, cases["open_east"])["grid_code"] == sd.A2
    assert rows(engine, "SELECT old_code, new_code FROM grid_renumbering ORDER BY old_code") == [
        {"old_code": sd.A2, "new_code": A3},
        {"old_code": A3, "new_code": sd.A1},
        {"old_code": A4, "new_code": sd.A2},
    ]
    # the new grids keep counting after the highest sequence ever used
    r = client.post(
        f"/api/v1/grids/{sd.A1}/split", json={"line": geo(LineString([(25, -10), (25, 110)]))}
    )
    assert [s["code"] for s in r.json()["started"]] == [A5, sd.COMMUNITY_A + "006"]

    r = client.get(f"/api/v1/grids/{sd.A1}/history")
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    hist = r.json()
    assert [f["properties"]["version"] for f in hist["features"]] == [1, 2]
    assert [e["kind"] for e in hist["edits"]] == ["split", "renumber", "split"]
    assert [(x["old_code"], x["new_code"]) for x in hist["renumbered"]] == [(A3, sd.A1)]
    assert client.get("/api/v1/grids/320599001001999/history").status_code == 404


def test_grid_map_as_at_a_date_shows_the_versions_then(world):
    client, engine, _ = world
    client.post("/api/v1/grids/merge", json={"codes": [sd.A1, sd.A2]})
    then = client.get(
        "/api/v1/grids", params={"at": "2021-06-01T00:00:00Z", "community": sd.COMMUNITY_A}
    ).json()
    now = client.get("/api/v1/grids", params={"community": sd.COMMUNITY_A}).json()
    assert [f["properties"]["code"] for f in then["features"]] == [sd.A1, sd.A2]
    assert [f["properties"]["code"] for f in now["features"]] == [A3]
    assert client.get(f"/api/v1/grids/{sd.A1}").status_code == 404
    old = client.get(f"/api/v1/grids/{sd.A1}", params={"at": "2021-06-01T00:00:00Z"})
    assert old.status_code == 200 and old.json()["properties"]["valid_to"] is not None


def test_bad_requests(world, settings):
    client, _, _ = world
    r = client.post(
        "/api/v1/grids/merge",
        json={"codes": [sd.A1, sd.A2]},
        headers=auth.headers(settings, "analyst"),
    )
    assert r.status_code == 403 and r.json()["required_roles"] == ["planner"]
    line = geo(LineString([(10, 10), (20, 20)]))  # ends inside the grid
    r = client.post(f"/api/v1/grids/{sd.A1}/split?lang=en", json={"line": line})
    assert r.status_code == 422 and "does not cut" in r.json()["detail"]
    r = client.post(f"/api/v1/grids/{sd.A1}/split", json={"line": {"type": "Nope"}})
    assert r.status_code == 422
    assert (
        client.post("/api/v1/grids/320599001001999/split", json={"line": line}).status_code == 404
    )
    assert (
        client.post("/api/v1/grids/renumber", json={"community": "320599001009"}).status_code == 404
    )


def test_cli_edit_with_dry_run(world, settings, monkeypatch):
    _, engine, _ = world
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    wkt = LineString([sd.lonlat(50, -10), sd.lonlat(50, 110)]).wkt
    result = CliRunner().invoke(cli, ["grids", "split", sd.A1, "--line", wkt, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "split would be" in result.output and A3 in result.output
    assert current(engine) == [sd.A1, sd.A2]
    result = CliRunner().invoke(cli, ["grids", "retire", sd.A1, "--actor", "cli"])
    assert result.exit_code == 1 and "gap" in result.output
    result = CliRunner().invoke(cli, ["grids", "split", sd.A1, "--line", wkt, "--actor", "cli"])
    assert result.exit_code == 0 and "edit " in result.output
    result = CliRunner().invoke(cli, ["grids", "history", sd.A1])
    assert "split" in result.output and "v1" in result.output


def test_reading_order_is_rows_north_to_south_then_west_to_east():
    import geopandas as gpd

    cells = [box(x, y, x + 100, y + 100) for y in (0, 100) for x in (0, 100, 200)]
    order = edits.reading_order(gpd.GeoSeries(cells, crs="EPSG:32651"), 100)
    assert order.tolist() == [3, 4, 5, 0, 1, 2]
