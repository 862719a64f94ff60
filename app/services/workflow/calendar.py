"""Working calendars and time limits as data: read, edit, load the bundled defaults.

The database is the only source the workflow reads. The bundled files (``data/calendar/``,
``data/classification/time_limits_2013.csv``) are loaded by :func:`load_workflow_defaults`,
which never overwrites what a deployment has edited.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine

from app import PROJECT_ROOT
from app.db.workflow import calendar as repo
from app.errors import ImportRejected, InvalidInputError, RowProblem
from app.services.workflow.deadlines import (
    MAX_DAYS,
    UNITS,
    BeyondHorizon,
    TimeLimit,
    WorkCalendar,
    format_periods,
    parse_periods,
)
from app.services.workflow.limits import pick_limit
from app.settings import Settings

CALENDAR_DIR = PROJECT_ROOT / "data" / "calendar"
LIMITS_DIR = PROJECT_ROOT / "data" / "classification"
DAY_KINDS = {"holiday": False, "workday": True}


# -- calendars ------------------------------------------------------------------------------


def build_calendar(settings: Settings, years: Iterable[dict], days: Iterable[dict]) -> WorkCalendar:
    """A :class:`WorkCalendar` from stored rows and the deployment's default work periods."""
    return WorkCalendar(
        tz=ZoneInfo(settings.timezone),
        periods=parse_periods(settings.calendar_work_periods),
        exceptions={d["day"]: d["is_workday"] for d in days},
        year_periods={
            y["year"]: parse_periods(y["work_periods"]) for y in years if y["work_periods"]
        },
    )


def load_calendar(conn: Connection, settings: Settings) -> WorkCalendar:
    """The deployment's working calendar, every stored year."""
    return build_calendar(settings, repo.calendar_years(conn), repo.calendar_days(conn))


def read_year(engine: Engine, settings: Settings, year: int) -> dict:
    """One year: work periods, listed days and how many working days it has."""
    with engine.connect() as conn:
        stored = {y["year"]: y for y in repo.calendar_years(conn)}.get(year)
        days = repo.calendar_days(conn, year)
        cal = load_calendar(conn, settings)
    day, n_work = date(year, 1, 1), 0
    while day.year == year:
        n_work += cal.is_workday(day)
        day = date.fromordinal(day.toordinal() + 1)
    periods = stored["work_periods"] if stored and stored["work_periods"] else None
    out = {
        "year": year,
        "defined": stored is not None,
        "work_periods": periods or settings.calendar_work_periods,
        "work_periods_default": periods is None,
        "source": stored["source"] if stored else None,
        "working_days": n_work,
        "days": [
            {
                "date": d["day"].isoformat(),
                "kind": "workday" if d["is_workday"] else "holiday",
                "name": d["name"],
            }
            for d in days
        ],
    }
    if stored is None:
        out["warning"] = f"{year} 年未录入工作日历：按周一至周五计工作日，未计法定节假日和调休"
        out["warning_en"] = f"no calendar for {year}: Monday to Friday count, holidays are ignored"
    return out


def replace_year(
    engine: Engine, year: int, work_periods: str | None, source: str | None, days: list[dict]
) -> int:
    """Store one year's calendar (its days replaced); 422 for malformed input."""
    rows = _checked_days(year, days)
    periods = _checked_periods(work_periods)
    with engine.begin() as conn:
        return repo.replace_year(conn, year, periods, source, rows)


def _checked_periods(text: str | None) -> str | None:
    if not text:
        return None
    try:
        return format_periods(parse_periods(text))
    except ValueError as exc:
        raise InvalidInputError(f"工作时段无效：{exc}", f"invalid work periods: {exc}") from exc


def _checked_days(year: int, days: list[dict]) -> list[tuple[date, bool, str | None]]:
    problems, seen, rows = [], set(), []
    for i, d in enumerate(days, start=1):
        try:
            day = d["date"] if isinstance(d["date"], date) else date.fromisoformat(str(d["date"]))
        except (KeyError, ValueError):
            problems.append(RowProblem(i, f"bad date {d.get('date')!r}", "date"))
            continue
        kind = str(d.get("kind", "")).strip()
        if kind not in DAY_KINDS:
            problems.append(RowProblem(i, f"kind must be holiday or workday, not {kind!r}", "kind"))
        elif day.year != year:
            problems.append(RowProblem(i, f"{day} is not in {year}", "date"))
        elif day in seen:
            problems.append(RowProblem(i, f"{day} is listed twice", "date"))
        else:
            seen.add(day)
            rows.append((day, DAY_KINDS[kind], (d.get("name") or "").strip() or None))
    if problems:
        raise ImportRejected(problems=problems, source=f"calendar {year}")
    return rows


def read_calendar_file(path: Path) -> dict[int, list[dict]]:
    """``date,kind,name[,name_en]`` rows grouped by year."""
    by_year: dict[int, list[dict]] = {}
    with open(path, encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = {"date", "kind"} - set(reader.fieldnames or [])
        if missing:
            raise ImportRejected(
                problems=[RowProblem(None, f"missing column(s) {sorted(missing)}")],
                source=str(path),
            )
        for row in reader:
            year = int(str(row["date"])[:4]) if str(row["date"])[:4].isdigit() else 0
            by_year.setdefault(year, []).append(row)
    return by_year


def load_calendar_file(
    engine: Engine, path: Path, work_periods: str | None = None
) -> dict[int, int]:
    """Replace every year the file lists; returns days per year."""
    return {
        year: replace_year(engine, year, work_periods, path.name, rows)
        for year, rows in sorted(read_calendar_file(path).items())
    }


def load_bundled_calendars(engine: Engine, overwrite: bool = False) -> dict[int, int]:
    """Load ``data/calendar/cn_<year>.csv`` for years the database lacks (all if ``overwrite``)."""
    with engine.connect() as conn:
        have = {y["year"] for y in repo.calendar_years(conn)}
    loaded = {}
    for path in sorted(CALENDAR_DIR.glob("cn_*.csv")):
        for year, rows in read_calendar_file(path).items():
            if overwrite or year not in have:
                loaded[year] = replace_year(engine, year, None, f"bundled {path.name}", rows)
    return loaded


def compute_deadline(
    engine: Engine, settings: Settings, start: datetime, value: float, unit: str
) -> dict:
    """Where a limit starting at ``start`` runs out, on the stored calendar."""
    limit = _limit(value, unit)
    with engine.connect() as conn:
        cal = load_calendar(conn, settings)
    if start.tzinfo is None:
        start = start.replace(tzinfo=cal.tz)
    try:
        end = cal.deadline(start, limit)
    except (BeyondHorizon, OverflowError) as exc:  # (OverflowError: past the year 9999)
        raise InvalidInputError(
            f"时限 {limit.describe()} 自 {start.isoformat()} 起超出可计算范围（{MAX_DAYS} 天内）",
            f"the limit {limit.describe('en')} from {start.isoformat()} runs out beyond "
            f"what can be computed (within {MAX_DAYS} days)",
        ) from exc
    return {
        "start": start.astimezone(cal.tz).isoformat(),
        "deadline": end.isoformat(),
        "limit": {"value": limit.value, "unit": limit.unit, "text": limit.describe()},
        "clock_seconds": (end - start).total_seconds(),
    }


# -- time limits ----------------------------------------------------------------------------


def _limit(value: float, unit: str) -> TimeLimit:
    try:
        return TimeLimit(float(value), unit)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"时限无效：{exc}", f"invalid time limit: {exc}") from exc


def resolve_limit(
    conn: Connection, settings: Settings, kind: str, code: str, criterion: str | None
) -> tuple[TimeLimit | None, str]:
    """The limit for a class under a filing criterion, and where it came from
    (:func:`app.services.workflow.limits.pick_limit`); None when the class has none."""
    rows = {r["criterion"]: r for r in repo.class_limits(conn, settings.class_scheme, kind, code)}
    return pick_limit(
        rows, repo.class_default_limit(conn, settings.class_scheme, kind, code), criterion
    )


def check_criterion(
    conn: Connection, settings: Settings, kind: str, code: str, criterion: str | None
) -> None:
    """422 when ``criterion`` is not one the class has a time limit for."""
    if not criterion:
        return
    known = [
        r["criterion"]
        for r in repo.class_limits(conn, settings.class_scheme, kind, code)
        if r["criterion"]
    ]
    if criterion not in known:
        raise InvalidInputError(
            f"分类 {kind} {code} 没有立案条件“{criterion}”；可选：{'、'.join(known) or '无'}",
            f"class {kind} {code} has no filing criterion {criterion!r}; "
            f"known: {', '.join(known) or 'none'}",
            criteria=known,
        )


def list_time_limits(
    engine: Engine, settings: Settings, kind: str | None, code: str | None
) -> list[dict]:
    """Stored limits of the deployment's scheme, optionally of one kind or class."""
    with engine.connect() as conn:
        rows = repo.all_limits(conn, settings.class_scheme, kind, code)
    return [{**r, "limit_value": float(r["limit_value"])} for r in rows]


def set_time_limit(
    engine: Engine,
    settings: Settings,
    kind: str,
    code: str,
    criterion: str,
    value: float,
    unit: str,
    note: str | None,
) -> dict:
    """Create or change one limit (class + criterion); 422 for an unknown class or unit."""
    _limit(value, unit)
    with engine.begin() as conn:
        if (kind, code) not in repo.existing_class_keys(conn, settings.class_scheme):
            raise InvalidInputError(
                f"分类方案 {settings.class_scheme} 中没有 {kind} {code}",
                f"no class {kind} {code} in scheme {settings.class_scheme}",
            )
        repo.upsert_time_limits(
            conn,
            [
                {
                    "scheme": settings.class_scheme,
                    "class_kind": kind,
                    "class_code": code,
                    "criterion": criterion,
                    "limit_value": value,
                    "limit_unit": unit,
                    "note": note,
                }
            ],
            True,
        )
    return {
        "class_kind": kind,
        "class_code": code,
        "criterion": criterion,
        "limit_value": float(value),
        "limit_unit": unit,
        "note": note,
    }


def read_time_limit_file(path: Path, scheme: str) -> list[dict]:
    """``kind,class_code,criterion,limit_value,limit_unit,note`` rows, checked."""
    rows, problems = [], []
    with open(path, encoding="utf-8-sig") as f:
        for i, rec in enumerate(csv.DictReader(f), start=1):
            unit = (rec.get("limit_unit") or "").strip()
            try:
                value = float(rec.get("limit_value") or "")
            except ValueError:
                problems.append(RowProblem(i, "limit_value is not a number", "limit_value"))
                continue
            if unit not in UNITS or value <= 0:
                problems.append(RowProblem(i, f"bad limit {value} {unit!r}", "limit_unit"))
                continue
            rows.append(
                {
                    "scheme": scheme,
                    "class_kind": rec["kind"].strip(),
                    "class_code": rec["class_code"].strip(),
                    "criterion": (rec.get("criterion") or "").strip(),
                    "limit_value": value,
                    "limit_unit": unit,
                    "note": (rec.get("note") or "").strip() or None,
                }
            )
    if problems:
        raise ImportRejected(problems=problems, source=str(path))
    return rows


def load_time_limits(
    engine: Engine, settings: Settings, path: Path | None = None, overwrite: bool = False
) -> int:
    """Load a limits file (default: the bundled one of the deployment's scheme)."""
    path = path or LIMITS_DIR / f"time_limits_{settings.class_scheme}.csv"
    if not path.exists():
        return 0
    rows = read_time_limit_file(path, settings.class_scheme)
    with engine.begin() as conn:
        known = repo.existing_class_keys(conn, settings.class_scheme)
        unknown = [
            RowProblem(i, f"unknown class {r['class_kind']} {r['class_code']}", "class_code")
            for i, r in enumerate(rows, start=1)
            if (r["class_kind"], r["class_code"]) not in known
        ]
        if unknown:
            raise ImportRejected(problems=unknown, source=str(path))
        return repo.upsert_time_limits(conn, rows, overwrite)


def load_workflow_defaults(engine: Engine, settings: Settings) -> dict[str, int]:
    """Bundled calendars and time limits, for whatever the database does not have yet."""
    years = load_bundled_calendars(engine)
    return {"calendar_years": len(years), "time_limits": load_time_limits(engine, settings)}
