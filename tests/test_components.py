"""Component inventory on the hand-made district (tests/small_district.py): classes, identifiers,
census import with class maps and re-imports, the API, history, cases, summaries, the CLI."""

from __future__ import annotations

import csv
import io
from urllib.parse import quote

import geopandas as gpd
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from shapely.geometry import LineString, Point
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from app.errors import ImportRejected, NotFoundError
from app.main import create_app
from app.services.catalog.classes import import_classes
from app.services.catalog.imports import ImportOptions, import_file, import_frame
from app.services.components import inventory as service
from tests import auth
from tests import small_district as sd

GEOJSON, PROBLEM = "application/geo+json", "application/problem+json"
ACTOR = {"X-Actor": quote("普查员 李四")}  # headers are ASCII: percent-encoded


@pytest.fixture()
def world(engine, settings):
    units = sd.build(engine)
    # planners keep the inventory; roles are tested on their own below and in test_auth.py
    with TestClient(create_app(settings), headers=auth.headers(settings, "planner")) as client:
        yield client, engine, settings, units


def point(x: float, y: float) -> dict:
    lon, lat = sd.lonlat(x, y)
    return {"type": "Point", "coordinates": [lon, lat]}


def one(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def problems(exc: ImportRejected) -> list[tuple[int | None, str | None, str]]:
    return [(p.row, p.column, p.reason) for p in exc.problems]


# -- identifiers and the schema -------------------------------------------------------------


def test_sequences_follow_every_insert_and_identifiers_never_change(world):
    _, engine, _, _ = world
    # small_district inserted its light with raw SQL: the trigger recorded the sequence
    assert (
        one(engine, "SELECT last_sequence FROM component_sequence WHERE class_code = '0118'") == 1
    )
    with pytest.raises(DBAPIError, match="identifiers are permanent"), engine.begin() as conn:
        conn.execute(text("UPDATE component SET identifier = '3205990118000009'"))
    with pytest.raises(DBAPIError), engine.begin() as conn:
        conn.execute(text("UPDATE component SET class_code = '0117'"))


# -- classes --------------------------------------------------------------------------------


def test_classes_list_add_and_clash(world):
    client, *_ = world
    body = client.get("/api/v1/classes?kind=component").json()
    light = next(c for c in body["items"] if c["code"] == "0118")
    assert (light["name"], light["name_en"], light["geometry"]) == ("路灯", "street light", "point")
    assert next(c for c in body["items"] if c["code"] == "0211")["geometry"] == "line"
    new = {
        "code": "2201",
        "name": "共享单车停放区",
        "name_en": "shared-bike bay",
        "geometry_type": "polygon",
    }
    r = client.post("/api/v1/classes", json=new)
    assert r.status_code == 422 and "major_name" in r.json()["detail"]
    r = client.post("/api/v1/classes", json={**new, "major_name": "本地扩展"})
    assert r.status_code == 201, r.text
    assert r.json()["is_custom"] and r.json()["geometry"] == "polygon"
    assert client.post("/api/v1/classes", json={**new, "major_name": "本地扩展"}).status_code == 409
    assert client.post("/api/v1/classes", json={"code": "0118", "name": "x"}).status_code == 409
    assert client.post("/api/v1/classes", json={"code": "22011", "name": "x"}).status_code == 422
    wrong = client.post("/api/v1/classes", json={"code": "2202", "name": "x", "major_name": "别名"})
    assert wrong.status_code == 422 and "本地扩展" in wrong.json()["detail"]
    custom = client.get("/api/v1/classes?custom=true").json()["items"]
    assert [c["code"] for c in custom] == ["2201"]
    assert client.get("/api/v1/classes/2201").json()["major_name"] == "本地扩展"


def test_classes_csv_all_or_nothing_and_idempotent(world, tmp_path):
    _, engine, settings, _ = world
    path = tmp_path / "classes.csv"
    path.write_text(
        "kind,minor_code,major_name_zh,minor_name_zh,name_en,geometry_type\n"
        "component,2140,,无障碍坡道,curb ramp,point\n"
        "component,2141,,路内泊位,on-street space,polygon\n"
        "event,2201,本地事件,共享单车乱停,bike clutter,\n",
        encoding="utf-8",
    )
    assert import_classes(engine, "2013", path) == {"written": 3, "unchanged": 0}
    assert import_classes(engine, "2013", path) == {"written": 0, "unchanged": 3}
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "code,name,geometry_type\n2142,好的,point\n2140,改名,point\n"
        "214,短,point\n2143,,line\n2144,圆,circle\n2142,重复,point\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportRejected) as exc:
        import_classes(engine, "2013", bad)
    found = problems(exc.value)
    assert {r for r, *_ in found} == {2, 3, 4, 5, 6}
    assert any(r == 2 and "already exists as '无障碍坡道'" in m for r, _, m in found)
    assert any(r == 6 and "duplicate" in m for r, _, m in found)
    assert one(engine, "SELECT count(*) FROM classification WHERE code = '2142'") == 0


# -- the API: create, change, retire, history -----------------------------------------------


def test_create_change_retire_keeps_history_and_never_reuses(world):
    client, engine, _, _ = world
    r = client.post(
        "/api/v1/components",
        headers=ACTOR,
        json={
            "class_code": "0118",
            "geometry": point(150, 90),
            "owner_unit_code": "U-SZ",
            "attributes": {"lamps": 2},
        },
    )
    assert r.status_code == 201 and r.headers["content-type"] == GEOJSON, r.text
    light = r.json()
    ident = light["id"]
    assert ident == "3205990118000002"  # after small_district's light 000001
    props = light["properties"]
    assert (props["grid_code"], props["street_name"], props["owner_unit_code"]) == (
        sd.A2,
        "长宁路",
        "U-SZ",
    )
    assert (props["community_code"], props["district_code"]) == (sd.COMMUNITY_A, sd.DISTRICT)
    assert r.headers["location"] == f"/api/v1/components/{ident}"

    r = client.patch(
        f"/api/v1/components/{ident}",
        headers=ACTOR,
        json={"status": "damaged", "maintainer_unit_code": "U-GD", "note": "灯罩破损"},
    )
    assert r.status_code == 200 and r.json()["properties"]["status"] == "damaged"
    r = client.patch(
        f"/api/v1/components/{ident}",
        json={
            "owner_unit_code": None,
            "attributes": {"lamps": 1, "colour": "white"},
            "geometry": point(130, 150),
            "actor": "张三",
        },
    )
    moved = r.json()["properties"]
    assert (moved["grid_code"], moved["owner_unit_code"], moved["attributes"]) == (
        sd.B2,
        None,
        {"lamps": 1, "colour": "white"},
    )
    assert (
        client.delete(f"/api/v1/components/{ident}?note=拆除", headers=ACTOR).json()["properties"][
            "status"
        ]
        == "retired"
    )
    assert client.delete(f"/api/v1/components/{ident}").status_code == 200  # idempotent
    listed = client.get("/api/v1/components?class=0118").json()["numberMatched"]
    every = client.get("/api/v1/components?class=0118&include_retired=true").json()
    assert (listed, every["numberMatched"]) == (1, 2)  # retired ones are shown on request
    assert client.get("/api/v1/components?status=retired").json()["features"][0]["id"] == ident
    r = client.patch(f"/api/v1/components/{ident}", json={"status": "in_service"})
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM

    history = client.get(f"/api/v1/components/{ident}/history").json()["items"]
    changes = [
        (h["action"], h["field"], h["old_value"], h["new_value"], h["actor"]) for h in history
    ]
    census, zhang = "planner (普查员 李四)", "planner (张三)"  # the user, on whose behalf
    assert changes[0] == ("created", None, None, None, census)
    assert ("updated", "status", "in_service", "damaged", census) in changes
    assert ("updated", "maintainer_unit", None, "U-GD", census) in changes
    assert ("updated", "owner_unit", "U-SZ", None, zhang) in changes
    assert ("updated", "grid_code", sd.A2, sd.B2, zhang) in changes
    assert (
        "updated",
        "attributes",
        '{"colour": null, "lamps": 2}',
        '{"colour": "white", "lamps": 1}',
        zhang,
    ) in changes
    assert changes[-1] == ("retired", "status", "damaged", "retired", census)
    assert [h["field"] for h in history if h["field"] in ("street_id", "geometry")] == [
        "geometry",
        "street_id",
    ]  # moved 30 m from 桂花巷: the street changed too
    assert len(history) == 9

    # the retired identifier is never issued again, even when its row is purged
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM component WHERE identifier = :i"), {"i": ident})
    again = client.post(
        "/api/v1/components", json={"class_code": "0118", "geometry": point(20, 20)}
    )
    assert again.json()["id"] == "3205990118000003"


def test_roles(world):
    client, _, settings, _ = world
    url = f"/api/v1/components/{sd.LIGHT_ID}"
    supervisor = auth.headers(settings, "supervisor")
    r = client.patch(url, json={"status": "damaged", "note": "灯罩破损"}, headers=supervisor)
    assert r.status_code == 200 and r.json()["properties"]["status"] == "damaged"
    for body in ({"owner_unit_code": "U-SZ"}, {"status": "retired"}):
        r = client.patch(url, json=body, headers=supervisor)
        assert r.status_code == 403 and r.json()["required_roles"] == ["planner"]
    assert client.delete(url, headers=supervisor).status_code == 403
    body = {"class_code": "0118", "geometry": point(10, 10)}
    assert (
        client.post("/api/v1/components", json=body, headers={"Authorization": ""}).status_code
        == 401
    )
    analyst = auth.headers(settings, "analyst")
    assert (
        client.post(
            "/api/v1/classes", json={"code": "2201", "name": "x"}, headers=analyst
        ).status_code
        == 403
    )
    history = client.get(f"{url}/history").json()["items"]
    assert [(h["actor"], h["new_value"]) for h in history] == [("supervisor", "damaged")]


def test_create_validates_and_replays(world):
    client, *_ = world
    cases = [
        ({"class_code": "9999", "geometry": point(10, 10)}, 422, "unknown-class"),
        ({"class_code": "0118", "geometry": point(5000, 10)}, 422, "outside-managed-area"),
        (
            {
                "class_code": "0118",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [120.6, 31.3],
                            [120.601, 31.301],
                            [120.601, 31.3],
                            [120.6, 31.301],
                            [120.6, 31.3],
                        ]
                    ],
                },
            },
            422,
            "invalid-input",
        ),
        (
            {"class_code": "0118", "geometry": point(10, 10), "owner_unit_code": "NOBODY"},
            422,
            "invalid-input",
        ),
        ({"identifier": sd.LIGHT_ID, "geometry": point(10, 10)}, 409, "conflict"),
        ({"identifier": "9999990118000001", "geometry": point(10, 10)}, 422, "invalid-input"),
        (
            {"class_code": "0305", "identifier": sd.LIGHT_ID, "geometry": point(10, 10)},
            422,
            "invalid-input",
        ),
    ]
    for body, status, slug in cases:
        r = client.post("/api/v1/components", json=body)
        assert (r.status_code, r.json()["type"].rsplit("/", 1)[1]) == (status, slug), body
    kept = client.post(
        "/api/v1/components", json={"identifier": "3205990305000042", "geometry": point(10, 10)}
    )
    assert kept.status_code == 201 and kept.json()["properties"]["class_code"] == "0305"
    body = {
        "class_code": "0305",
        "geometry": point(12, 10),
        "source_layer": "app",
        "source_id": "bin-7",
    }
    first = client.post("/api/v1/components", json=body)
    replay = client.post("/api/v1/components", json=body)
    assert first.json()["id"] == "3205990305000043"  # continues after the kept identifier
    assert replay.status_code == 200 and replay.headers["idempotent-replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]


# -- census import: class maps, keys, re-imports --------------------------------------------


def census(n: int = 6) -> gpd.GeoDataFrame:
    """A mixed layer: a TYPE column decides the class; ASSET is the source's own id."""
    pts = [Point(*sd.lonlat(20 + 30 * i, 60 + 20 * (i % 3))) for i in range(n)]
    return gpd.GeoDataFrame(
        {
            "ASSET": [f"A{i}" for i in range(n)],
            "TYPE": ["Light", "light ", "BIN", "Pole", "bin", "LIGHT"][:n],
            "height": [8, 8, 1, 10, 1, 8][:n],
        },
        geometry=pts,
        crs=4326,
    )


CLASS_MAP = pd.DataFrame(
    {
        "layer": ["mixed", "mixed", "mixed", "mixed", "other"],
        "column": ["TYPE"] * 4 + [None],
        "value": ["light", "bin", "pole", "", None],
        "class_code": ["0118", "0305", "0117", "", "0407"],
        "source_id_column": ["ASSET", "", "", "", ""],
    }
)


def test_class_map_import_is_idempotent_and_rejects_contradictions(world):
    _, engine, settings, _ = world
    options = ImportOptions(
        class_map=CLASS_MAP.iloc[[0, 1, 2]],
        source_layer="mixed",
        actor="普查员",
        defaults={"owner_unit_code": "U-SZ"},
    )
    report = import_frame(engine, settings, "components", census(), options)
    assert report.rows_written == 6 and report.details["with_grid"] == 6
    with engine.connect() as conn:
        stored = dict(
            conn.execute(
                text(
                    "SELECT s.source_id, c.class_code FROM component_source s JOIN component c "
                    "ON c.id = s.component_id WHERE s.source_layer = 'mixed'"
                )
            ).all()
        )
        attrs = conn.execute(
            text(
                "SELECT attributes FROM component c JOIN component_source s "
                "ON s.component_id = c.id WHERE s.source_id = 'A3'"
            )
        ).scalar()
    assert stored == {
        "A0": "0118",
        "A1": "0118",
        "A2": "0305",
        "A3": "0117",
        "A4": "0305",
        "A5": "0118",
    }
    assert attrs == {"ASSET": "A3", "TYPE": "Pole", "height": 10}
    assert (
        one(
            engine,
            "SELECT count(*) FROM component_history WHERE action = 'imported' AND actor = '普查员'",
        )
        == 6
    )
    before = one(engine, "SELECT count(*) FROM component")
    again = import_frame(engine, settings, "components", census(), options)
    assert (again.rows_written, again.details) == (0, {"already_imported": 6})
    # one more feature: only it is written, its sequence continues
    more = pd.concat([census(), census(1).assign(ASSET="A9")], ignore_index=True)
    assert import_frame(engine, settings, "components", more, options).rows_written == 1
    assert (
        one(engine, "SELECT max(identifier) FROM component WHERE class_code = '0118'")
        == "3205990118000005"
    )  # the stored light 000001, then A0, A1, A5, A9
    # a changed mapping must not slip in: the row says which component it contradicts
    changed = census().assign(TYPE=["pole", "light", "BIN", "Pole", "bin", "LIGHT"])
    with pytest.raises(ImportRejected) as exc:
        import_frame(engine, settings, "components", changed, options)
    ((row, column, reason),) = problems(exc.value)
    assert (row, column) == (
        1,
        "class_code",
    ) and "imported before as component 3205990118" in reason
    with pytest.raises(ImportRejected) as exc:  # an unmapped value and no default row
        import_frame(engine, settings, "components", census().assign(TYPE="bench"), options)
    assert len(exc.value.problems) == 6 and "'bench' has no class" in exc.value.problems[0].reason
    assert one(engine, "SELECT count(*) FROM component") == before + 1


def test_layers_without_ids_are_keyed_by_geometry(world, tmp_path):
    _, engine, settings, _ = world
    lines = gpd.GeoDataFrame(
        {"kind": ["rail", "rail", "rail"]},
        geometry=[
            LineString([sd.lonlat(10, 40), sd.lonlat(60, 40)]),
            LineString([sd.lonlat(10, 40), sd.lonlat(60, 40)]),  # a duplicate: kept, keyed #2
            LineString([sd.lonlat(110, 40), sd.lonlat(160, 40)]),
        ],
        crs=4326,
    )
    path = tmp_path / "railings.geojson"
    lines.to_file(path, driver="GeoJSON")
    options = ImportOptions(defaults={"class_code": "0211"})
    assert import_file(engine, settings, "components", path, options).rows_written == 3
    report = import_file(engine, settings, "components", path, options)
    assert (report.rows_written, report.details) == (0, {"already_imported": 3})
    keys = one(
        engine,
        "SELECT array_agg(source_id ORDER BY source_id) FROM component_source "
        "WHERE source_layer = 'railings'",
    )
    assert all(k.startswith("geom:") for k in keys)
    assert sum(k.endswith("#2") and k[:-2] in keys for k in keys) == 1
    dup = gpd.GeoDataFrame(
        {"source_id": ["x", "x"]}, geometry=[Point(*sd.lonlat(5, 5))] * 2, crs=4326
    )
    with pytest.raises(ImportRejected) as exc:
        import_frame(engine, settings, "components", dup, options)
    assert [r for r, *_ in problems(exc.value)] == [1, 2]
    bench = import_frame(
        engine,
        settings,
        "components",
        lines.iloc[[2]],
        ImportOptions(defaults={"class_code": "0407"}, source_layer="benches"),
    )
    assert any("class 0407 expects Point: 1 feature(s) are LineString" in w for w in bench.warnings)


def test_bulk_and_sql_placement_agree(world, monkeypatch):
    _, engine, settings, _ = world
    # points on grid edges and corners, on and beside the streets, and outside the district
    xy = [(x, y) for x in range(-30, 231, 10) for y in (-10, 0, 40, 50, 99, 100, 101, 150, 200)]
    pts = gpd.GeoDataFrame(geometry=[Point(*sd.lonlat(x, y)) for x, y in xy], crs=4326)
    options = ImportOptions(defaults={"class_code": "0117", "district_code": sd.DISTRICT})
    stored = {}
    for layer, rows in (("sql", 10**9), ("bulk", 0)):
        monkeypatch.setattr("app.services.catalog.imports.PLACE_IN_PYTHON_MIN_ROWS", rows)
        import_frame(
            engine,
            settings,
            "components",
            pts,
            ImportOptions(**{**options.__dict__, "source_layer": layer}),
        )
        with engine.connect() as conn:
            stored[layer] = conn.execute(
                text(
                    "SELECT s.source_id, c.grid_code, c.street_id FROM component c JOIN "
                    "component_source s ON s.component_id = c.id WHERE s.source_layer = :l "
                    "ORDER BY 1"
                ),
                {"l": layer},
            ).all()
    assert stored["sql"] == stored["bulk"] and len(stored["sql"]) == len(xy)
    placed = [(g, s) for _, g, s in stored["sql"]]
    assert any(g is None for g, _ in placed) and any(s is None for _, s in placed)
    assert {g for g, _ in placed} >= {sd.A1, sd.A2, sd.B1, sd.B2}


def test_regrid_after_a_grid_edit(world):
    _, engine, settings, _ = world
    import_frame(
        engine,
        settings,
        "components",
        census(),
        ImportOptions(class_map=CLASS_MAP.iloc[[0, 1, 2]], source_layer="mixed"),
    )
    new_code = sd.COMMUNITY_A + "003"  # A1 redrawn under a new code
    with engine.begin() as conn:
        conn.execute(text("UPDATE grid SET valid_to = now() WHERE code = :c"), {"c": sd.A1})
        conn.execute(
            text(
                "INSERT INTO grid (code, community_code, geom, valid_from) SELECT :n, community_code, "
                "geom, now() FROM grid WHERE code = :c"
            ),
            {"n": new_code, "c": sd.A1},
        )
        moved = service.regrid_components(conn, [sd.COMMUNITY_A], "规划员")
    assert moved == 4  # the light of small_district and A0, A1, A2 stood in A1
    assert one(engine, "SELECT count(*) FROM component WHERE grid_code = :c", c=new_code) == 4
    assert (
        one(
            engine,
            "SELECT count(*) FROM component_history WHERE field = 'grid_code' "
            "AND old_value = :o AND new_value = :n",
            o=sd.A1,
            n=new_code,
        )
        == 4
    )


# -- lists, CSV, summaries ------------------------------------------------------------------


def test_filters_csv_and_summary(world):
    client, engine, settings, _ = world
    import_frame(
        engine,
        settings,
        "components",
        census(),
        ImportOptions(
            class_map=CLASS_MAP.iloc[[0, 1, 2]],
            source_layer="mixed",
            defaults={"owner_unit_code": "U-SZ"},
        ),
    )
    street = one(engine, "SELECT id FROM street WHERE name = '长宁路'")
    lights = client.get("/api/v1/components?class=0118&owner=U-SZ").json()
    assert lights["numberMatched"] == 3
    near = client.get(f"/api/v1/components?street={street}&limit=2").json()
    # the pole stands on 桂花巷; small_district's light was stored without a street
    assert near["numberMatched"] == 5 and near["numberReturned"] == 2
    assert any(link["rel"] == "next" for link in near["links"])
    community = client.get(f"/api/v1/components?community={sd.COMMUNITY_A}").json()
    assert community["numberMatched"] == 7
    r = client.get("/api/v1/components?format=csv&class=0305")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 2 and rows[0]["class_name"] == "垃圾箱" and float(rows[0]["lon"]) > 120
    accept = client.get("/api/v1/components", headers={"Accept": "text/csv"})
    assert len(list(csv.DictReader(io.StringIO(accept.text.lstrip("\ufeff"))))) == 7
    assert client.get("/api/v1/components?limit=6000").status_code == 422

    by_grid = client.get("/api/v1/components/summary?by=grid").json()
    counts = {(i["key"], i["class_code"]): i["total"] for i in by_grid["items"]}
    assert by_grid["totals"] == {"0117": 1, "0118": 4, "0305": 2}
    assert sum(counts.values()) == 7 and counts[(sd.A1, "0118")] >= 2
    page = client.get("/api/v1/components/summary?by=grid&limit=2&offset=1").json()
    assert page["numberMatched"] == len(by_grid["items"]) and page["items"] == by_grid["items"][1:3]
    by_street = client.get("/api/v1/components/summary?by=street&class=0118").json()["items"]
    assert [(i["name"], i["total"]) for i in by_street] == [("长宁路", 3), (None, 1)]
    text_csv = client.get("/api/v1/components/summary?by=community&format=csv").text
    assert text_csv.lstrip("\ufeff").startswith("key,name,class_code")
    assert client.get("/api/v1/components/summary?by=planet").status_code == 422


# -- cases ----------------------------------------------------------------------------------


def test_case_outcomes_change_status_and_cases_are_listed(world):
    client, engine, settings, _ = world
    headers = auth.headers(settings, "supervisor")
    lon, lat = sd.lonlat(52, 95)  # 2 m from small_district's light
    r = client.post(
        "/api/v1/events",
        headers=headers,
        json={"class_code": "BJ0118", "lon": lon, "lat": lat, "description": "路灯不亮"},
    )
    assert r.status_code == 201, r.text
    event_id = r.json()["id"]
    assert r.json()["component_identifier"] == sd.LIGHT_ID
    with engine.begin() as conn:
        filed = service.apply_case_outcome(
            conn, event_id, service.status_for_criterion("路灯不亮"), "值班长"
        )
        again = service.apply_case_outcome(conn, event_id, "damaged", "值班长")
    assert filed == {
        "identifier": sd.LIGHT_ID,
        "old_status": "in_service",
        "status": "damaged",
        "changed": True,
    }
    assert not again["changed"]
    with engine.begin() as conn:
        service.apply_case_outcome(conn, event_id, "in_service", "值班长", "更换灯泡，结案")
    history = client.get(f"/api/v1/components/{sd.LIGHT_ID}/history").json()["items"]
    assert [(h["action"], h["new_value"], h["event_id"]) for h in history] == [
        ("case", "damaged", event_id),
        ("case", "in_service", event_id),
    ]
    cases = client.get(f"/api/v1/components/{sd.LIGHT_ID}/cases").json()
    assert cases["numberMatched"] == 1 and cases["items"][0]["id"] == event_id
    other = client.post(
        "/api/v1/events",
        headers=headers,
        json={"class_code": "0102", "class_kind": "event", "lon": lon, "lat": lat},
    ).json()["id"]
    with engine.begin() as conn:
        assert service.apply_case_outcome(conn, other, "missing", "x") is None
        with pytest.raises(NotFoundError):
            service.apply_case_outcome(conn, 999_999, "missing", "x")
    assert client.get("/api/v1/components/320599011800000/cases").status_code == 404


# -- the CLI --------------------------------------------------------------------------------


def test_cli_import_with_class_and_class_map(world, tmp_path, monkeypatch):
    _, engine, settings, _ = world
    from app.cli import app as cli

    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    layer = census()
    layer.to_file(tmp_path / "mixed.geojson", driver="GeoJSON")
    CLASS_MAP.to_csv(tmp_path / "map.csv", index=False)
    runner = CliRunner()
    r = runner.invoke(
        cli,
        [
            "import",
            "components",
            str(tmp_path / "mixed.geojson"),
            "--class-map",
            str(tmp_path / "map.csv"),
            "--actor",
            "cli",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "6 of 6 rows written" in r.output
    r = runner.invoke(
        cli,
        [
            "import",
            "components",
            str(tmp_path / "mixed.geojson"),
            "--class-map",
            str(tmp_path / "map.csv"),
        ],
    )
    assert r.exit_code == 0 and "6 already imported" in r.output, r.output
    layer.iloc[:2].to_file(tmp_path / "poles.geojson", driver="GeoJSON")
    r = runner.invoke(
        cli,
        [
            "components",
            "import",
            str(tmp_path / "poles.geojson"),
            "--class",
            "0117",
            "--source-id",
            "ASSET",
        ],
    )
    assert r.exit_code == 0 and "2 of 2 rows written" in r.output, r.output
    r = runner.invoke(cli, ["components", "summary", "--by", "community"])
    assert r.exit_code == 0 and sd.COMMUNITY_A in r.output and "0117" in r.output
    (tmp_path / "c.csv").write_text("code,name\n2140,无障碍坡道\n", encoding="utf-8")
    r = runner.invoke(cli, ["classes", "import", str(tmp_path / "c.csv")])
    assert r.exit_code == 0 and "1 written" in r.output, r.output
    r = runner.invoke(
        cli,
        [
            "import",
            "components",
            str(tmp_path / "mixed.geojson"),
            "--class",
            "0118",
            "--class-map",
            str(tmp_path / "map.csv"),
        ],
    )
    assert r.exit_code != 0
