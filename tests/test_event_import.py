"""`citygrid import events`: formats, all-or-nothing, --skip-invalid, and the same assignment
as the API (on the hand-made district of tests/small_district.py)."""

from __future__ import annotations

import csv
import json

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from app.cli import app as cli
from app.errors import ImportRejected
from app.main import create_app
from app.services.intake.event_import import EventImportOptions, import_events
from tests import auth
from tests import small_district as sd

FIELDS = ["class_code", "lon", "lat", "source", "observed_at", "location_text", "idempotency_key"]


def _row(x, y, code="0102", key=None, observed="2026-11-01 09:30:00", source="12345", **extra):
    lon, lat = sd.lonlat(x, y)
    return {
        "class_code": code,
        "lon": lon,
        "lat": lat,
        "source": source,
        "observed_at": observed,
        "location_text": f"测试点 {x},{y}",
        "idempotency_key": key,
        **extra,
    }


def _csv(path, rows):
    fields = list(dict.fromkeys(k for r in rows for k in r))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _count(engine, table="event"):
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.fixture()
def district(engine):
    return sd.build(engine)


GOOD = [
    _row(30, 90, key="k1"),  # A1, 10 m from 长宁路
    _row(100, 50, key="k2"),  # A1|A2 boundary → A1
    _row(150, 150, key="k3"),  # B2 (grid unit)
    _row(53, 97, code="BJ0118", key="k4"),  # near the street light
    _row(35, 88, key="k5", observed="2026-11-01 10:00:00"),  # duplicate of k1 (later, 5.4 m)
    _row(30, 30, key="k6", source="监督员"),  # no street within 50 m
]


def test_csv_import_assigns_like_the_api(engine, settings, district, tmp_path):
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO dispatch_rule (scheme, class_kind, class_code, area_code, unit_id) "
                "VALUES ('2013', 'event', '0102', :a, :u)"
            ),
            {"a": sd.COMMUNITY_B, "u": district["U-HW"]},
        )
    report = import_events(engine, settings, _csv(tmp_path / "hotline.csv", GOOD))
    assert (report.rows_read, report.rows_written, report.rows_rejected) == (6, 6, 0)
    with engine.connect() as conn:
        stored = {
            r.idempotency_key: r
            for r in conn.execute(
                text("SELECT e.*, ST_X(e.geom) AS lon, ST_Y(e.geom) AS lat FROM event e")
            ).all()
        }
        logs = conn.execute(
            text("SELECT count(*) FROM case_log WHERE action = 'import'")
        ).scalar_one()
    assert logs == 6
    assert stored["k2"].grid_code == sd.A1 and stored["k3"].grid_code == sd.B2
    assert stored["k6"].source == "supervisor" and stored["k1"].source == "hotline"
    assert str(stored["k1"].observed_at) == "2026-11-01 01:30:00+00:00"  # naive = Asia/Shanghai
    # The API's preview must reach the same decisions for the same points and times.
    with TestClient(create_app(settings)) as client:
        for key, row in zip(
            ("k1", "k2", "k3", "k4", "k6"),
            (GOOD[0], GOOD[1], GOOD[2], GOOD[3], GOOD[5]),
            strict=True,
        ):
            preview = client.post(
                "/api/v1/events/assign",
                json={
                    "points": [
                        {"class_code": row["class_code"], "lon": row["lon"], "lat": row["lat"]}
                    ],
                    "at": stored[key].reported_at.isoformat(),
                },
            ).json()["results"][0]["assignment"]
            mine = stored[key].assignment
            for part in ("grid", "street", "unit", "component"):
                assert mine[part] == preview[part], (key, part)
    assert stored["k4"].assignment["unit"]["rule"] == "component_maintainer"
    assert stored["k3"].assignment["unit"]["rule"] == "dispatch_rule"
    dups = stored["k5"].assignment["duplicates"]["cases"]
    assert [d["id"] for d in dups] == [stored["k1"].id]


def test_geojson_and_ndjson_formats(engine, settings, district, tmp_path):
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
            "properties": {k: v for k, v in r.items() if k not in ("lon", "lat")},
        }
        for r in GOOD[:3]
    ]
    geojson = tmp_path / "events.geojson"
    geojson.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8"
    )
    assert import_events(engine, settings, geojson).rows_written == 3
    ndjson = tmp_path / "events.ndjson"
    ndjson.write_text(
        "\n".join(
            json.dumps(r | {"idempotency_key": f"n{i}"}, ensure_ascii=False)
            for i, r in enumerate(GOOD)
        ),
        encoding="utf-8",
    )
    assert import_events(engine, settings, ndjson).rows_written == 6
    assert _count(engine) == 9


BAD = [
    _row(30, 30, key="b1"),
    _row(30, 30, code="0999", key="b2"),  # unknown class
    {**_row(30, 30, key="b3"), "lon": "abc"},  # not a number
    _row(900, 900, key="b4"),  # outside the managed area
    _row(30, 30, key="b5", observed="2099-01-01 00:00"),  # in the future
    _row(30, 30, key="b6", source="tv"),  # unknown source
    _row(30, 30, key="b1"),  # repeated key
    _row(30, 30, key="b8", observed="not a date"),
    _row(60, 60, key="b9"),
]


def test_bad_rows_reject_the_whole_file(engine, settings, district, tmp_path):
    with pytest.raises(ImportRejected) as caught:
        import_events(engine, settings, _csv(tmp_path / "bad.csv", BAD))
    by_row = {p.row: p.reason for p in caught.value.problems}
    assert sorted(by_row) == [2, 3, 4, 5, 6, 7, 8]
    assert "unknown class" in by_row[2] and "not numbers" in by_row[3]
    assert "outside the managed area" in by_row[4] and "future" in by_row[5]
    assert "source" in by_row[6] and "repeats" in by_row[7] and "date-time" in by_row[8]
    assert _count(engine) == 0 and _count(engine, "case_log") == 0


def test_skip_invalid_writes_the_rest_and_the_rejects(engine, settings, district, tmp_path):
    rejects = tmp_path / "rejects.csv"
    report = import_events(
        engine,
        settings,
        _csv(tmp_path / "bad.csv", BAD),
        EventImportOptions(skip_invalid=True, rejects_path=rejects),
    )
    assert (report.rows_written, report.rows_rejected) == (2, 7)
    with open(rejects, encoding="utf-8") as f:
        rejected = list(csv.DictReader(f))
    assert sorted({int(r["row"]) for r in rejected}) == [2, 3, 4, 5, 6, 7, 8]
    assert all(r["reason"] for r in rejected) and _count(engine) == 2


def test_reimport_with_keys_changes_nothing_and_cli_reports(
    engine, settings, district, tmp_path, monkeypatch
):
    path = _csv(tmp_path / "hotline.csv", GOOD)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    runner = CliRunner()
    first = runner.invoke(cli, ["import", "events", str(path)])
    assert first.exit_code == 0, first.output
    assert "6 of 6 rows written" in first.output
    again = runner.invoke(cli, ["import", "events", str(path)])
    assert again.exit_code == 0 and "6 rows skipped" in again.output
    assert _count(engine) == 6
    bad = runner.invoke(cli, ["import", "events", str(_csv(tmp_path / "bad.csv", BAD))])
    assert bad.exit_code == 1 and "row 2" in bad.output and _count(engine) == 6


def test_an_imported_key_is_scoped_by_its_reporter(engine, settings, district, tmp_path):
    """A key an API account used does not hide a file's row with that key from another
    reporter; a re-import still skips the rows it stored."""
    with TestClient(create_app(settings), headers=auth.headers(settings, "supervisor")) as client:
        lon, lat = sd.lonlat(30, 30)
        body = {"class_code": "0102", "class_kind": "event", "lon": lon, "lat": lat}
        answer = client.post(
            "/api/v1/events",
            json=body | {"source": "supervisor"},
            headers={"Idempotency-Key": "k1"},
        )
        assert answer.status_code == 201, answer.text
    # (the second row leaves reporter and photos empty: stored as NULL, not as the text 'nan')
    rows = [
        _row(30, 90, key="k1", reporter="热线 王五", photo_urls="https://img.example/1.jpg"),
        _row(150, 150, key="k3"),
    ]
    first = import_events(engine, settings, _csv(tmp_path / "hotline.csv", rows))
    assert (first.rows_written, first.rows_already_imported) == (2, 0)
    again = import_events(engine, settings, _csv(tmp_path / "hotline.csv", rows))
    assert (again.rows_written, again.rows_already_imported) == (0, 2)
    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT idempotency_key, reported_by, reporter, photo_urls FROM event ORDER BY id")
        ).all()
    assert stored == [
        ("k1", "supervisor", None, None),
        ("k1", "热线 王五", "热线 王五", ["https://img.example/1.jpg"]),
        ("k3", None, None, None),
    ]


def test_missing_columns_and_empty_files_are_rejected(engine, settings, district, tmp_path):
    no_class = _csv(tmp_path / "noclass.csv", [{"lon": 120.6, "lat": 31.3}])
    with pytest.raises(ImportRejected) as caught:
        import_events(engine, settings, no_class)
    assert "class_code" in caught.value.problems[0].reason
    no_coords = _csv(tmp_path / "nocoords.csv", [{"class_code": "0102", "where": "x"}])
    with pytest.raises(ImportRejected) as caught:
        import_events(engine, settings, no_coords)
    assert "longitude" in caught.value.problems[0].reason
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ImportRejected):
        import_events(engine, settings, broken)
    assert _count(engine) == 0
