"""Deadlines on the working calendar, every expected date worked out by hand.

Work periods 09:00–12:00 and 13:30–17:30 (7 h a day), Asia/Shanghai. The bundled 2025/2026
calendars: Spring Festival 2026 is off 15–23 Feb with make-up Saturdays 14 and 28 Feb;
2025's is off 28 Jan – 4 Feb with make-up Sunday 26 Jan; New Year 2026 is off 1–3 Jan with
make-up Sunday 4 Jan; National Day 2026 is off 1–7 Oct.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from app.main import create_app
from app.services.workflow.calendar import CALENDAR_DIR, build_calendar, read_calendar_file
from app.services.workflow.deadlines import TimeLimit, WorkCalendar, parse_periods
from app.settings import Settings
from tests import auth

SH = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SH)


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    days = [
        {"day": date.fromisoformat(r["date"]), "is_workday": r["kind"] == "workday"}
        for path in sorted(CALENDAR_DIR.glob("cn_*.csv"))
        for rows in read_calendar_file(path).values()
        for r in rows
    ]
    return build_calendar(Settings(), [], days)


@pytest.mark.parametrize(
    ("start", "limit", "expected"),
    [
        # Friday 16:00 + 4 wh: 1.5 h Friday, weekend off, Monday 09:00 + 2.5 h.
        ("2026-11-20T16:00", "4 working_hours", "2026-11-23T11:30"),
        # Make-up Saturday 14 Feb 2026 is a working day: Fri 15:00–17:30 (2.5 h), Sat 09–12 (3 h),
        # then 13:30 + 1.5 h.
        ("2026-02-13T15:00", "1 working_days", "2026-02-14T15:00"),
        # From the make-up Saturday across the whole Spring Festival: 1.5 h Saturday, 15–23 Feb
        # off, Tuesday 24 Feb 09:00 + 2.5 h.
        ("2026-02-14T16:00", "4 working_hours", "2026-02-24T11:30"),
        # 3 working days = 21 h from Wed 11 Feb 10:00: Wed 6 h, Thu 7 h, Fri 7 h, Sat 14 (make-up) 1 h.
        ("2026-02-11T10:00", "3 working_days", "2026-02-14T10:00"),
        # Make-up Saturday 28 Feb: Fri 17:00–17:30 (0.5 h), Sat 09:00 + 1.5 h.
        ("2026-02-27T17:00", "2 working_hours", "2026-02-28T10:30"),
        # National Day: Wed 30 Sep 16:00–17:30 (1.5 h), 1–7 Oct off, Thu 8 Oct 09:00 + 3 h ends
        # exactly at the lunch break: 12:00, not 13:30; half an hour more ends at 14:00.
        ("2026-09-30T16:00", "4.5 working_hours", "2026-10-08T12:00"),
        ("2026-09-30T16:00", "5 working_hours", "2026-10-08T14:00"),
        # Across the year end: Wed 31 Dec 2025 17:00 (0.5 h), 1–3 Jan off, make-up Sunday 4 Jan:
        # 09–12 (3 h) then 13:30 + 0.5 h.
        ("2025-12-31T17:00", "4 working_hours", "2026-01-04T14:00"),
        # Spring Festival 2025: Mon 27 Jan 16:00 (1.5 h), 28 Jan – 4 Feb off, Wed 5 Feb 09–12 (3 h)
        # and 13:30 + 2.5 h.
        ("2025-01-27T16:00", "1 working_days", "2025-02-05T16:00"),
        # Make-up Sunday 26 Jan 2025: from Saturday 10:00 nothing counts until Sunday 09:00.
        ("2025-01-25T10:00", "2 working_hours", "2025-01-26T11:00"),
        # Started in the lunch break: the clock waits until 13:30.
        ("2026-11-23T12:30", "1 working_hours", "2026-11-23T14:30"),
        # Started after hours: the next morning.
        ("2026-11-23T20:00", "1 working_hours", "2026-11-24T10:00"),
        # Urgent hours and calendar days ignore the calendar.
        ("2026-02-16T23:30", "2 urgent_hours", "2026-02-17T01:30"),
        ("2026-02-13T10:00", "3 calendar_days", "2026-02-16T10:00"),
    ],
)
def test_deadline(cal, start, limit, expected):
    assert cal.deadline(at(start), TimeLimit.parse(limit)) == at(expected)


def test_working_time_between(cal):
    # Fri 13 Feb 09:00 → Tue 24 Feb 09:00: Friday 7 h + make-up Saturday 7 h, the rest is off.
    assert cal.between(at("2026-02-13T09:00"), at("2026-02-24T09:00"), True) == 14 * 3600
    assert cal.between(at("2026-02-24T09:00"), at("2026-02-13T09:00"), True) == -14 * 3600
    # Inside one day, across the lunch break: 11:00–12:00 and 13:30–14:00.
    assert cal.between(at("2026-11-23T11:00"), at("2026-11-23T14:00"), True) == 1.5 * 3600
    assert cal.between(at("2026-11-23T11:00"), at("2026-11-23T14:00"), False) == 3 * 3600


def test_timestamps_in_other_zones_are_read_in_local_time(cal):
    start = datetime.fromisoformat("2026-11-20T08:00:00+00:00")  # = 16:00 in Shanghai
    assert cal.deadline(start, TimeLimit(4, "working_hours")) == at("2026-11-23T11:30")


def test_adding_and_measuring_agree(cal):
    start = at("2026-02-10T10:17")
    for hours in (0.5, 3, 7, 20, 60):
        end = cal.add(start, hours * 3600, True)
        assert cal.between(start, end, True) == pytest.approx(hours * 3600)


def test_progress_and_traffic_light(cal):
    # 4 working hours from Mon 23 Nov 09:00: 09–12 is 3 h, then 13:30 + 1 h = 14:30.
    start = at("2026-11-23T09:00")
    due = cal.deadline(start, TimeLimit(4, "working_hours"))
    assert due == at("2026-11-23T14:30")
    limit = 4 * 3600
    green = cal.progress(due, limit, True, at("2026-11-23T11:00"))  # 2 h used = 50 %
    assert (green.light, round(green.used_share, 3)) == ("green", 0.5)
    lunch = cal.progress(due, limit, True, at("2026-11-23T13:00"))  # 3 h used = 75 %
    assert (lunch.light, round(lunch.used_share, 3)) == ("green", 0.75)
    yellow = cal.progress(due, limit, True, at("2026-11-23T13:45"))  # 3.25 h = 81.25 %
    assert yellow.light == "yellow" and not yellow.overdue
    red = cal.progress(due, limit, True, at("2026-11-24T10:00"))
    assert red.light == "red" and red.overdue
    # Over by 14:30–17:30 Monday and 09:00–10:00 Tuesday: 4 h late, 8 h used of 4.
    assert (red.remaining_seconds, red.used_share) == (-4 * 3600, 2.0)


def test_periods_and_limits_are_validated():
    assert parse_periods("08:30-12:00, 14:00-18:00")[1][0].hour == 14
    for bad in ("12:00-09:00", "09:00-12:00,11:00-13:00", "nine to five", ""):
        with pytest.raises(ValueError):
            parse_periods(bad)
    for bad in ("0 working_hours", "2 fortnights"):
        with pytest.raises(ValueError):
            TimeLimit.parse(bad)


def test_bundled_calendars_match_the_state_council_schedule():
    rows = {
        r["date"]: r["kind"]
        for p in CALENDAR_DIR.glob("cn_*.csv")
        for r in csv.DictReader(p.read_text(encoding="utf-8").splitlines())
    }
    spring = [(date(2026, 2, 15) + timedelta(days=i)).isoformat() for i in range(9)]
    assert all(rows[d] == "holiday" for d in spring)
    for make_up in (
        "2026-02-14",
        "2026-02-28",
        "2026-01-04",
        "2026-05-09",
        "2026-09-20",
        "2026-10-10",
        "2025-01-26",
        "2025-02-08",
        "2025-04-27",
        "2025-09-28",
        "2025-10-11",
    ):
        assert rows[make_up] == "workday"
        assert date.fromisoformat(make_up).weekday() >= 5  # make-up days are weekend days
    assert sum(k == "holiday" for d, k in rows.items() if d.startswith("2025")) == 28
    assert "2026-10-08" not in rows  # 2026's National Day block is 7 days (2025's was 8)


def _forget_calendars(engine) -> None:
    """The test template ships the bundled calendars and limits; start without them."""
    with engine.begin() as conn:
        conn.execute(
            text("DELETE FROM work_calendar_day; DELETE FROM work_calendar; DELETE FROM time_limit")
        )


def test_calendar_api(engine, settings):
    _forget_calendars(engine)
    with TestClient(create_app(settings), headers=auth.headers(settings, "shift_leader")) as client:
        empty = client.get("/api/v1/calendar/2026").json()
        assert empty["defined"] is False and "warning" in empty
        # Without the calendar only weekends are off: Fri 16:00 + 4 wh = Monday 11:30.
        r = client.get(
            "/api/v1/calendar/deadline", params={"start": "2026-02-13T16:00:00+08:00", "value": 4}
        )
        assert r.json()["deadline"] == "2026-02-16T11:30:00+08:00"
        from app.services.workflow.calendar import load_bundled_calendars

        assert load_bundled_calendars(engine) == {2025: 33, 2026: 39}
        r = client.get(
            "/api/v1/calendar/deadline", params={"start": "2026-02-13T16:00:00+08:00", "value": 4}
        )
        assert r.json()["deadline"] == "2026-02-14T11:30:00+08:00"
        year = client.get("/api/v1/calendar/2026").json()
        # 365 days − 104 weekend days − 19 weekday holidays + 6 make-up days.
        assert year["defined"] and year["working_days"] == 365 - 104 - 19 + 6
        # Edit: summer hours and an extra day off; a date outside the year is refused.
        body = {
            "work_periods": "08:30-12:00,14:00-18:00",
            "source": "test",
            "days": [{"date": "2027-05-04", "kind": "holiday", "name": "test"}],
        }
        assert client.put("/api/v1/calendar/2027", json=body).status_code == 200
        r = client.get(
            "/api/v1/calendar/deadline", params={"start": "2027-05-03T17:00:00+08:00", "value": 2}
        )
        # Mon 17:00–18:00 (1 h), Tue 4 May off, Wed 08:30 + 1 h.
        assert r.json()["deadline"] == "2027-05-05T09:30:00+08:00"
        body["days"][0]["date"] = "2028-01-01"
        bad = client.put("/api/v1/calendar/2027", json=body)
        assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
        assert client.put("/api/v1/calendar/2027", json={"work_periods": "9-5"}).status_code == 422


def test_cli_loads_a_calendar_file(db_url, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from app.cli import app

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CITYGRID_HOME", str(tmp_path / "home"))
    path = tmp_path / "cal.csv"
    path.write_text(
        "date,kind,name\n2027-02-06,holiday,春节\n2027-02-13,workday,调休\n", encoding="utf-8"
    )
    runner = CliRunner()
    result = runner.invoke(app, ["calendar", "load", str(path), "--work-periods", "09:00-17:00"])
    assert result.exit_code == 0, result.output
    assert "2027: 2 listed days" in result.output
    shown = runner.invoke(app, ["calendar", "show", "2027"])
    assert "09:00-17:00" in shown.output and "调休" in shown.output
    # Work periods 09:00–17:00 for 2027: Fri 5 Feb 16:00 + 2 wh = 1 h Friday, Mon 8 Feb 10:00.
    out = runner.invoke(app, ["calendar", "deadline", "2027-02-05T16:00", "2", "working_hours"])
    assert "2027-02-08T10:00:00+08:00" in out.output, out.output
    bad = tmp_path / "bad.csv"
    bad.write_text("date,kind\n2027-13-01,holiday\n", encoding="utf-8")
    rejected = runner.invoke(app, ["calendar", "load", str(bad)])
    assert rejected.exit_code == 1


def test_time_limits_are_data(engine, settings, db_url, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from app.cli import app

    _forget_calendars(engine)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("CITYGRID_HOME", str(tmp_path / "home"))
    loaded = CliRunner().invoke(app, ["workflow", "defaults"])
    assert loaded.exit_code == 0 and "calendar years loaded: 2" in loaded.output, loaded.output
    with TestClient(create_app(settings), headers=auth.headers(settings, "shift_leader")) as client:
        covers = client.get("/api/v1/time-limits", params={"kind": "component", "class": "0101"})
        assert [
            (r["criterion"], r["limit_value"], r["limit_unit"]) for r in covers.json()["items"]
        ] == [("", 1.0, "working_days"), ("缺失", 2.0, "urgent_hours")]
        body = {
            "class_kind": "component",
            "class_code": "0101",
            "criterion": "移位",
            "value": 4,
            "unit": "working_hours",
            "note": "test",
        }
        assert client.put("/api/v1/time-limits", json=body).status_code == 200
        assert (
            client.get("/api/v1/time-limits", params={"kind": "component", "class": "0101"}).json()[
                "count"
            ]
            == 3
        )
        bad = client.put("/api/v1/time-limits", json={**body, "class_code": "0999"})
        assert bad.status_code == 422
    # Loading the defaults again keeps what was edited.
    again = CliRunner().invoke(app, ["workflow", "defaults"])
    assert "time limits added: 0" in again.output
