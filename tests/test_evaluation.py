"""Evaluation (GB/T 30428.4) on a hand-built log, and on a simulated run of many cases.

The hand-built month (March 2026) has nine cases whose every indicator is worked out in the
comments below; the simulation checks that a realistic run gives plausible scores.
"""

from __future__ import annotations

import json
import os
import random
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.db.session import make_engine
from app.main import create_app
from app.services.demo.simulation import simulate_workflow
from app.services.workflow import evaluation as service
from app.settings import Settings
from tests import auth
from tests import small_district as sd
from tests.conftest import create_database, drop_database

SH = ZoneInfo("Asia/Shanghai")
ZHANG, LI, DISPATCHER = "监督员 张三", "监督员 李四", "派遣员 甲"
CENTRES = {sd.A1: (50, 50), sd.A2: (150, 50), sd.B1: (50, 150), sd.B2: (150, 150)}
ROLE = {
    "file": "shift_leader",
    "void": "shift_leader",
    "close": "shift_leader",
    "rework": "shift_leader",
    "approve_extension": "shift_leader",
    "approve_shelving": "shift_leader",
    "dispatch": "dispatcher",
    "request_verification": "acceptor",
    "request_check": "acceptor",
    "confirm": "supervisor",
    "invalidate": "supervisor",
}


def t(value: str) -> datetime:
    return datetime.fromisoformat(f"2026-{value}").replace(tzinfo=SH)


def _insert_case(conn, grid, source, reported, reporter, unit_id, steps, units) -> int:
    """An event in ``grid`` plus its log: steps are (at, action, to, unit, deadline,
    stage_due, due) with times as 'MM-DDTHH:MM' and units as codes."""
    lon, lat = sd.lonlat(*CENTRES[grid])
    status = steps[-1][2] if steps else "reported"
    event_id = conn.execute(
        text(
            "INSERT INTO event (scheme, class_kind, class_code, geom, source, reporter, reported_by, "
            "reported_at, grid_code, community_code, subdistrict_code, district_code, unit_id, status) "
            "VALUES ('2013', 'event', '0102', ST_SetSRID(ST_MakePoint(:x, :y), 4326), :src, :rep, "
            ":rep, :at, :g, left(:g, 12), left(:g, 9), left(:g, 6), :u, :st) RETURNING id"
        ),
        {
            "x": lon,
            "y": lat,
            "src": source,
            "rep": reporter,
            "at": t(reported),
            "g": grid,
            "u": unit_id,
            "st": status,
        },
    ).scalar_one()
    rows: list[tuple[datetime, str, str | None, str, dict[str, Any]]] = [
        (t(reported), "report", None, "reported", {"role": "reporter"})
    ]
    previous = "reported"
    for at, action, to, unit, deadline, stage_due, due in steps:
        data = {
            "role": ROLE.get(action, "handler"),
            "unit_id": units[unit] if unit else None,
            "deadline_at": t(deadline).isoformat() if deadline else None,
            "stage_due_at": t(stage_due).isoformat() if stage_due else None,
            "due_at": t(due).isoformat() if due else None,
        }
        rows.append((t(at), action, previous, to, data))
        previous = to
    for at, action, from_status, to, data in rows:
        actor = DISPATCHER if action == "dispatch" else f"{data['role']}-person"
        if data["role"] == "supervisor":  # the grid's supervisor verifies on site
            actor = ZHANG if grid.startswith(sd.COMMUNITY_A) else LI
        conn.execute(
            text(
                "INSERT INTO case_log (event_id, at, actor, action, from_status, to_status, data) "
                "VALUES (:e, :at, :actor, :a, :f, :t, CAST(:d AS jsonb))"
            ),
            {
                "e": event_id,
                "at": at,
                "actor": actor,
                "a": action,
                "f": from_status,
                "t": to,
                "d": json.dumps(data),
            },
        )
    return event_id


def build_march(engine, units) -> None:
    """Nine cases around March 2026 (times local). D = deadline, S = due time of the task the
    action completes, N = due time of the next task."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE grid SET supervisor = CASE WHEN code LIKE :a THEN :z ELSE :l END"),
            {"a": sd.COMMUNITY_A + "%", "z": ZHANG, "l": LI},
        )
        office = units["U-JD-001"]
        cases = [
            # C1 A1 supervisor: handled on time, checked on time, closed 30 min after D.
            (
                sd.A1,
                "supervisor",
                "03-02T10:00",
                ZHANG,
                [
                    (
                        "03-02T10:30",
                        "file",
                        "filed",
                        "U-JD-001",
                        None,
                        "03-02T12:00",
                        "03-02T12:30",
                    ),
                    (
                        "03-02T11:00",
                        "dispatch",
                        "dispatched",
                        "U-HW",
                        "03-03T11:00",
                        "03-02T12:30",
                        None,
                    ),
                    (
                        "03-02T11:30",
                        "accept",
                        "handling",
                        "U-HW",
                        "03-03T11:00",
                        "03-03T11:00",
                        None,
                    ),
                    (
                        "03-03T10:00",
                        "handle",
                        "handled",
                        "U-HW",
                        "03-03T11:00",
                        "03-03T11:00",
                        None,
                    ),
                    (
                        "03-03T10:10",
                        "request_check",
                        "checking",
                        "U-HW",
                        "03-03T11:00",
                        None,
                        "03-03T12:10",
                    ),
                    ("03-03T11:30", "close", "closed", "U-HW", "03-03T11:00", "03-03T12:10", None),
                ],
            ),
            # C2 A1 hotline: verified on time, handled late twice (rework), closed late.
            (
                sd.A1,
                "hotline",
                "03-05T09:00",
                "市民",
                [
                    (
                        "03-05T09:10",
                        "request_verification",
                        "verifying",
                        None,
                        None,
                        "03-05T11:00",
                        "03-06T09:10",
                    ),
                    (
                        "03-05T12:00",
                        "confirm",
                        "verified",
                        None,
                        None,
                        "03-06T09:10",
                        "03-05T14:00",
                    ),
                    ("03-05T13:00", "file", "filed", None, None, "03-05T14:00", "03-05T15:00"),
                    (
                        "03-05T13:30",
                        "dispatch",
                        "dispatched",
                        "U-HW",
                        "03-06T13:30",
                        "03-05T15:00",
                        None,
                    ),
                    ("03-05T14:00", "accept", "handling", "U-HW", "03-06T13:30", None, None),
                    ("03-06T15:00", "handle", "handled", "U-HW", "03-06T13:30", None, None),
                    (
                        "03-06T15:10",
                        "request_check",
                        "checking",
                        "U-HW",
                        "03-06T13:30",
                        None,
                        "03-06T17:10",
                    ),
                    (
                        "03-06T16:00",
                        "rework",
                        "handling",
                        "U-HW",
                        "03-06T13:30",
                        "03-06T17:10",
                        None,
                    ),
                    ("03-09T10:00", "handle", "handled", "U-HW", "03-06T13:30", None, None),
                    (
                        "03-09T10:10",
                        "request_check",
                        "checking",
                        "U-HW",
                        "03-06T13:30",
                        None,
                        "03-09T12:10",
                    ),
                    ("03-09T11:00", "close", "closed", "U-HW", "03-06T13:30", "03-09T12:10", None),
                ],
            ),
            # C3 A2 app report: verified late (due 03-11 09:05), invalid.
            (
                sd.A2,
                "public_app",
                "03-10T09:00",
                "随手拍",
                [
                    (
                        "03-10T09:05",
                        "request_verification",
                        "verifying",
                        None,
                        None,
                        "03-10T11:00",
                        "03-11T09:05",
                    ),
                    ("03-11T10:00", "invalidate", "invalid", None, None, "03-11T09:05", None),
                ],
            ),
            # C4 B1 supervisor report: voided.
            (
                sd.B1,
                "supervisor",
                "03-12T09:00",
                LI,
                [("03-12T09:30", "void", "voided", None, None, "03-12T11:00", None)],
            ),
            # C5 A2 supervisor: dispatched to the office, never handled, D 03-20 16:30: overdue.
            (
                sd.A2,
                "supervisor",
                "03-20T09:00",
                ZHANG,
                [
                    ("03-20T09:20", "file", "filed", None, None, "03-20T11:00", "03-20T11:20"),
                    (
                        "03-20T09:30",
                        "dispatch",
                        "dispatched",
                        "U-JD-001",
                        "03-20T16:30",
                        "03-20T11:20",
                        None,
                    ),
                    ("03-20T10:00", "accept", "handling", "U-JD-001", "03-20T16:30", None, None),
                ],
            ),
            # C6 B2 video, dispatched in February to U-BJ: handled and closed late in March.
            (
                sd.B2,
                "video",
                "02-25T09:00",
                "摄像头",
                [
                    ("02-25T09:30", "file", "filed", None, None, "02-25T11:00", "02-25T11:30"),
                    (
                        "02-25T10:00",
                        "dispatch",
                        "dispatched",
                        "U-BJ",
                        "02-26T10:00",
                        "02-25T11:30",
                        None,
                    ),
                    ("02-25T11:00", "accept", "handling", "U-BJ", "02-26T10:00", None, None),
                    ("03-02T10:00", "handle", "handled", "U-BJ", "02-26T10:00", None, None),
                    (
                        "03-02T10:10",
                        "request_check",
                        "checking",
                        "U-BJ",
                        "02-26T10:00",
                        None,
                        "03-02T12:10",
                    ),
                    ("03-02T14:00", "close", "closed", "U-BJ", "02-26T10:00", "03-02T12:10", None),
                ],
            ),
            # C7 B1 supervisor: long limit (D in April), extended.
            (
                sd.B1,
                "supervisor",
                "03-25T09:00",
                LI,
                [
                    ("03-25T09:30", "file", "filed", None, None, "03-25T11:00", "03-25T11:30"),
                    (
                        "03-25T10:00",
                        "dispatch",
                        "dispatched",
                        "U-HW",
                        "04-15T10:00",
                        "03-25T11:30",
                        None,
                    ),
                    ("03-25T10:30", "accept", "handling", "U-HW", "04-15T10:00", None, None),
                    (
                        "03-26T09:00",
                        "request_extension",
                        "handling",
                        "U-HW",
                        "04-15T10:00",
                        None,
                        None,
                    ),
                    (
                        "03-26T10:00",
                        "approve_extension",
                        "handling",
                        "U-HW",
                        "04-16T10:00",
                        None,
                        None,
                    ),
                ],
            ),
            # C8 A1 hotline: still being verified at the end of March, due 03-31 09:10: overdue.
            (
                sd.A1,
                "hotline",
                "03-30T09:00",
                "市民",
                [
                    (
                        "03-30T09:10",
                        "request_verification",
                        "verifying",
                        None,
                        None,
                        "03-30T11:00",
                        "03-31T09:10",
                    )
                ],
            ),
            # C9 A1 supervisor: dispatched late (due 11:10), then shelved: not overdue.
            (
                sd.A1,
                "supervisor",
                "03-15T09:00",
                ZHANG,
                [
                    ("03-15T09:10", "file", "filed", None, None, "03-15T11:00", "03-15T11:10"),
                    (
                        "03-15T13:00",
                        "dispatch",
                        "dispatched",
                        "U-HW",
                        "03-16T13:00",
                        "03-15T11:10",
                        None,
                    ),
                    ("03-15T13:30", "accept", "handling", "U-HW", "03-16T13:00", None, None),
                    (
                        "03-16T09:00",
                        "request_shelving",
                        "handling",
                        "U-HW",
                        "03-16T13:00",
                        None,
                        None,
                    ),
                    (
                        "03-16T10:00",
                        "approve_shelving",
                        "shelved",
                        "U-HW",
                        "03-16T13:00",
                        None,
                        None,
                    ),
                ],
            ),
        ]
        for grid, source, reported, reporter, steps in cases:
            _insert_case(conn, grid, source, reported, reporter, office, steps, units)


@pytest.fixture(scope="module")
def march_db(server_url, template_db, tmp_path_factory):
    """The hand-built month, shared: the tests below only read it."""
    name = f"citygrid_march_{os.getpid()}"
    url = create_database(server_url, name, template=template_db)
    engine = make_engine(url)
    build_march(engine, sd.build(engine))
    yield url, engine, Settings(database_url=url, home=tmp_path_factory.mktemp("home"))
    engine.dispose()
    drop_database(server_url, name)


@pytest.fixture()
def march(march_db):
    _, engine, settings = march_db
    return engine, settings


def _rows(result) -> dict:
    return {r["key"]: r for r in result["rows"]}


def test_area_indicators_by_hand(march):
    engine, settings = march
    rows = _rows(
        service.evaluate(
            engine,
            settings,
            "area",
            t("03-01T00:00").date(),
            t("03-31T00:00").date(),
            area_level="community",
        )
    )
    a = rows[sd.COMMUNITY_A]
    # Reported in March: C1 C2 C3 C5 C8 C9; public C2 C3 C8; valid (filed) C1 C2 C5 C9.
    assert (a["reported"], a["public_reported"], a["valid"], a["filed"]) == (6, 3, 4, 4)
    # Handled: C1 on time, C2 twice late; closed C1 (its handling met D, so on time although
    # the close itself came after D) and C2 (late); C5 is open past D.
    assert (a["handled"], a["handled_on_time"], a["rework"]) == (3, 1, 1)
    assert (a["closed"], a["closed_on_time"], a["overdue_open"]) == (2, 1, 1)
    assert (a["to_handle"], a["to_close"], a["shelved"], a["extended"]) == (4, 3, 1, 0)
    assert (a["closing_rate"], a["on_time_closing_rate"]) == (0.6667, 0.3333)
    assert (a["on_time_handling_rate"], a["rework_rate"]) == (0.25, 0.3333)
    # 10 % × (1 − 3/6) + 20 % × 100 (4 cases) + 30 % × 66.67 + 40 % × 33.33 = 58.33.
    assert a["composite"] == pytest.approx(58.33, abs=0.01) and a["grade"] == "D"
    assert a["name"] == "桂花社区"
    b = rows[sd.COMMUNITY_B]
    # C4 (voided) and C7 reported; C6 (reported in February) handled and closed late.
    assert (b["reported"], b["valid"], b["filed"], b["handled"], b["closed"]) == (2, 1, 1, 1, 1)
    assert (b["to_close"], b["closing_rate"], b["on_time_closing_rate"], b["extended"]) == (
        1,
        1.0,
        0.0,
        1,
    )
    # 10 + 20 + 30 × 1 + 40 × 0 = 60.
    assert (b["composite"], b["grade"]) == (60.0, "C")
    district = service.evaluate(
        engine,
        settings,
        "area",
        t("03-01T00:00").date(),
        t("03-31T00:00").date(),
        area_level="district",
    )["rows"]
    assert [(r["key"], r["reported"], r["closed"]) for r in district] == [(sd.DISTRICT, 8, 3)]


def test_unit_indicators_by_hand(march):
    engine, settings = march
    rows = _rows(
        service.evaluate(engine, settings, "unit", t("03-01T00:00").date(), t("03-31T00:00").date())
    )
    hw = rows["U-HW"]
    # Dispatched C1 C2 C7 C9; handled C1 (on time) and C2 twice; one rework; both closes late.
    assert (hw["dispatched"], hw["handled"], hw["handled_on_time"], hw["rework"]) == (4, 3, 1, 1)
    assert (hw["closed"], hw["to_close"], hw["to_handle"]) == (2, 2, 3)
    # 10 % × 100 + 30 % × 100 + 30 % × 33.33 + 30 % × 66.67 = 70.
    assert (hw["composite"], hw["grade"]) == (70.0, "C")
    office = rows["U-JD-001"]
    # C5 is overdue and unhandled: nothing handled, nothing closed; the rework score has no
    # denominator and drops out: (10 % × 100) / 70 % = 14.29.
    assert (office["to_handle"], office["to_close"], office["rework_rate"]) == (1, 1, None)
    assert (office["composite"], office["grade"]) == (14.29, "E")
    bj = rows["U-BJ"]
    assert (bj["dispatched"], bj["handled"], bj["closed"]) == (0, 1, 1)
    assert (bj["composite"], bj["grade"]) == (70.0, "C")


def test_post_indicators_by_hand(march):
    engine, settings = march
    sups = _rows(
        service.evaluate(
            engine,
            settings,
            "post",
            t("03-01T00:00").date(),
            t("03-31T00:00").date(),
            post="supervisor",
        )
    )
    z = sups[ZHANG]
    # Own reports C1 C5 C9, all valid; C2 is a valid public report in his grids (missed).
    assert (z["reported"], z["valid"], z["missed"], z["missed_rate"]) == (3, 3, 1, 0.25)
    # Verifications: C2 on time, C3 late, C8 overdue and open; checks: C1, C2 twice, on time.
    assert (z["to_verify"], z["verified_on_time"], z["to_check"], z["checked_on_time"]) == (
        3,
        1,
        3,
        3,
    )
    # 40 % × 100 + 20 % × 75 + 20 % × 33.33 + 20 % × 100 = 81.67.
    assert (z["composite"], z["grade"]) == (81.67, "B")
    li = sups[LI]
    # C4 voided, C7 valid; C6's check (in B2) late; no verifications: weight rescaled.
    assert (li["reported"], li["valid"], li["to_check"], li["checked_on_time"]) == (2, 1, 1, 0)
    assert (li["composite"], li["grade"]) == (50.0, "D")
    dispatchers = service.evaluate(
        engine,
        settings,
        "post",
        t("03-01T00:00").date(),
        t("03-31T00:00").date(),
        post="dispatcher",
    )["rows"]
    # Five dispatches in March, C9's late: 60 % × 80 + 40 % × 100 = 88.
    assert [
        (d["key"], d["actions"], d["on_time"], d["composite"], d["grade"]) for d in dispatchers
    ] == [(DISPATCHER, 5, 4, 88.0, "B")]


def test_api_and_cli_formats(march_db, tmp_path, monkeypatch):
    db_url, engine, settings = march_db
    with TestClient(create_app(settings), headers=auth.headers(settings, "admin")) as client:
        r = client.get(
            "/api/v1/evaluation",
            params={
                "level": "area",
                "from": "2026-03-01",
                "to": "2026-03-31",
                "area_level": "community",
            },
        )
        assert r.status_code == 200 and len(r.json()["rows"]) == 2
        assert r.json()["to"] == "2026-04-01T00:00:00+08:00"
        csv_text = client.get(
            "/api/v1/evaluation",
            params={"level": "unit", "from": "2026-03-01", "to": "2026-03-31", "format": "csv"},
        ).text
        assert csv_text.splitlines()[0].startswith("key,name,dispatched")
        bad = client.get(
            "/api/v1/evaluation", params={"level": "area", "from": "2026-03-31", "to": "2026-03-01"}
        )
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    from typer.testing import CliRunner

    from app.cli import app

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CITYGRID_HOME", str(tmp_path / "home"))
    runner = CliRunner()
    md = runner.invoke(
        app,
        [
            "evaluate",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--level",
            "post",
            "--post",
            "supervisor",
            "--format",
            "md",
        ],
    )
    assert md.exit_code == 0, md.output
    assert f"| {ZHANG} |" in md.output and "81.67 | B |" in md.output
    out = tmp_path / "units.xlsx"
    xlsx = runner.invoke(
        app,
        [
            "evaluate",
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--level",
            "unit",
            "--format",
            "xlsx",
            "--out",
            str(out),
        ],
    )
    assert xlsx.exit_code == 0, xlsx.output
    assert out.exists() or out.with_suffix(".csv").read_text(encoding="utf-8-sig").startswith(
        "key,"
    )


CLASSES = [
    ("event", "0102"),
    ("event", "0104"),
    ("event", "0505"),
    ("event", "0501"),
    ("event", "0101"),
    ("component", "0118"),
    ("component", "0305"),
    ("component", "0105"),
]
SOURCES = (
    ["supervisor"] * 55
    + ["hotline"] * 25
    + ["public_app"] * 10
    + ["video"] * 6
    + ["higher_order"] * 4
)


def test_simulated_run_gives_plausible_scores(engine, settings):
    sd.build(engine)
    rng = random.Random(7)
    start, until = t("01-05T00:00"), t("05-01T00:00")
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE grid SET supervisor = CASE WHEN code LIKE :a THEN :z ELSE :l END"),
            {"a": sd.COMMUNITY_A + "%", "z": ZHANG, "l": LI},
        )
        office = conn.execute(
            text("SELECT id FROM responsible_unit WHERE code = 'U-JD-001'")
        ).scalar()
        for _ in range(900):
            grid = rng.choice(list(CENTRES))
            x, y = CENTRES[grid]
            lon, lat = sd.lonlat(x + rng.uniform(-40, 40), y + rng.uniform(-40, 40))
            kind, code = rng.choice(CLASSES)
            source = rng.choice(SOURCES)
            conn.execute(
                text(
                    "INSERT INTO event (scheme, class_kind, class_code, geom, source, reporter, "
                    "reported_by, reported_at, grid_code, community_code, subdistrict_code, "
                    "district_code, unit_id) "
                    "VALUES ('2013', :k, :c, ST_SetSRID(ST_MakePoint(:x, :y), 4326), :s, :r, :r, :at, "
                    ":g, left(:g, 12), left(:g, 9), left(:g, 6), :u)"
                ),
                {
                    "k": kind,
                    "c": code,
                    "x": lon,
                    "y": lat,
                    "s": source,
                    "g": grid,
                    "u": office,
                    "r": (ZHANG if grid.startswith(sd.COMMUNITY_A) else LI)
                    if source == "supervisor"
                    else "市民",
                    "at": start
                    + timedelta(
                        seconds=rng.uniform(0, (until - start).total_seconds() + 5 * 86400)
                    ),
                },
            )
    counts = simulate_workflow(engine, settings, until, seed=11)
    assert sum(counts.values()) < 900  # cases reported after `until` were left alone
    assert counts["closed"] > 0.7 * sum(counts.values())
    assert {"invalid", "voided", "handling"} <= set(counts)
    with engine.connect() as conn:
        logged = conn.execute(text("SELECT count(*) FROM case_log")).scalar()
    # Again with the same `until`: cases whose first step would come later stay untouched.
    again = simulate_workflow(engine, settings, until, seed=11)
    assert set(again) <= {"reported"} and again.get("reported") == counts.get("reported")
    with engine.connect() as conn:
        broken = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT from_status, lag(to_status) OVER w AS prev, "
                "row_number() OVER w AS n FROM case_log WINDOW w AS (PARTITION BY event_id "
                "ORDER BY at, id)) s WHERE n > 1 AND from_status IS DISTINCT FROM prev"
            )
        ).scalar()
        late_logs = conn.execute(
            text("SELECT count(*) FROM case_log WHERE at >= :u"), {"u": until}
        ).scalar()
        relogged = conn.execute(text("SELECT count(*) FROM case_log")).scalar()
    assert broken == 0 and late_logs == 0 and relogged == logged
    district = service.evaluate(
        engine,
        settings,
        "area",
        t("02-01T00:00").date(),
        t("03-31T00:00").date(),
        area_level="district",
    )["rows"][0]
    assert 0.85 <= district["closing_rate"] <= 1.0
    assert 0.6 <= district["on_time_closing_rate"] < 0.98
    assert 0.75 <= district["on_time_handling_rate"] < 0.99
    assert 0.02 <= district["rework_rate"] <= 0.2
    assert 0.5 <= district["valid_report_rate"] < 1.0
    units = service.evaluate(
        engine, settings, "unit", t("02-01T00:00").date(), t("03-31T00:00").date()
    )["rows"]
    assert len(units) >= 3 and all(
        40 <= u["composite"] <= 100 for u in units if u["dispatched"] > 10
    )
    sups = _rows(
        service.evaluate(
            engine,
            settings,
            "post",
            t("02-01T00:00").date(),
            t("03-31T00:00").date(),
            post="supervisor",
        )
    )
    assert set(sups) == {ZHANG, LI}
    assert all(0.7 <= s["on_time_verification_rate"] <= 1 for s in sups.values())
    assert all(s["grade"] in "ABCD" for s in sups.values())
    with TestClient(create_app(settings), headers=auth.headers(settings, "admin")) as client:
        tasks = client.get("/api/v1/tasks", params={"role": "unit", "unit": "U-JD-001"}).json()
    assert tasks["numberMatched"] > 0
